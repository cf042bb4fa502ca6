//! Writing a checkpoint's bytes; the layout is in the parent module's
//! documentation.

use super::{AggregatorState, Checkpoint, TableState, HEADER, MAGIC, VERSION};
use crate::aggregator::Gauge;
use crate::names::{Arena, NameMap};
use crate::sketch::Sketch;
use crate::table::{GaugeChange, IngestCounts};
use crate::timer::TimerValues;

/// Shapes of a timer's values.
pub(super) const EXACT: u8 = 0;
pub(super) const WEIGHTED: u8 = 1;
pub(super) const SKETCHED: u8 = 2;

/// Flags of a gauge change.
pub(super) const ABSOLUTE: u8 = 1;
pub(super) const OVERFLOW: u8 = 2;

pub(super) fn checkpoint(checkpoint: &Checkpoint, out: &mut Vec<u8>) {
    let start = out.len();
    let mut w = Writer(out);
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u64(0); // the length, filled in below
    aggregator(&mut w, &checkpoint.aggregator);
    w.len(checkpoint.tables.len());
    for t in &checkpoint.tables {
        table(&mut w, t);
    }
    let payload = start + HEADER;
    let length = (w.0.len() - payload) as u64;
    w.0[payload - 8..payload].copy_from_slice(&length.to_le_bytes());
    let crc = crc32fast::hash(&w.0[payload..]);
    w.u32(crc);
}

fn aggregator(w: &mut Writer<'_>, a: &AggregatorState) {
    match a.last_flush {
        Some(t) => {
            w.u8(1);
            w.u64(t);
        }
        None => w.u8(0),
    }
    w.counts(&a.counts);
    w.counts(&a.totals);
    w.map(&a.counters, |w, &c| w.f64(c));
    w.map(&a.gauges, gauge);
    w.map(&a.timers, timer);
    w.map(&a.sets, members);
}

fn table(w: &mut Writer<'_>, t: &TableState) {
    w.counts(&t.counts);
    w.u64(t.names_after_drain as u64);
    w.u8(u8::from(t.splittable));
    w.map(&t.counters, |w, &c| w.f64(c));
    w.map(&t.gauges, gauge_change);
    w.map(&t.timers, timer);
    w.map(&t.sets, members);
}

fn gauge(w: &mut Writer<'_>, g: &Gauge) {
    w.f64(g.value);
    match g.ttl {
        Some(ttl) => {
            w.u8(1);
            w.u32(ttl);
        }
        None => w.u8(0),
    }
}

fn gauge_change(w: &mut Writer<'_>, g: &GaugeChange) {
    let flags = if g.absolute.is_some() { ABSOLUTE } else { 0 }
        | if g.overflow.is_some() { OVERFLOW } else { 0 };
    w.u8(flags);
    g.absolute.into_iter().for_each(|v| w.f64(v));
    g.overflow.into_iter().for_each(|v| w.f64(v));
    w.len(g.deltas.len());
    w.f64s(&g.deltas);
}

fn members<A: Arena>(w: &mut Writer<'_>, set: &NameMap<(), A>) {
    w.len(set.len());
    for (member, _) in set.iter() {
        w.name(member);
    }
}

fn timer(w: &mut Writer<'_>, t: &TimerValues) {
    w.f64(t.count);
    if let Some(s) = &t.sketch {
        w.u8(SKETCHED);
        sketch(w, s);
        return;
    }
    w.u8(if t.weights.is_empty() {
        EXACT
    } else {
        WEIGHTED
    });
    w.u64(t.values.len() as u64);
    w.f64s(&t.values);
    if !t.weights.is_empty() {
        // Weights run beside the values; one missing weighs 1, as when
        // the values move into a sketch.
        for i in 0..t.values.len() {
            w.f64(t.weights.get(i).copied().unwrap_or(1.0));
        }
    }
}

fn sketch(w: &mut Writer<'_>, s: &Sketch) {
    for v in [s.zero, s.weight, s.sum, s.sum_squares, s.min, s.max] {
        w.f64(v);
    }
    for buckets in [&s.positive, &s.negative] {
        w.len(buckets.len());
        for (&index, &weight) in buckets {
            w.u32(index);
            w.f64(weight);
        }
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn f64s(&mut self, values: &[f64]) {
        self.0.reserve(values.len() * 8);
        values.iter().for_each(|&v| self.f64(v));
    }

    /// A count written as a `u32`: the counts written so are of a map's
    /// names (which a map numbers with `u32`s), of one name's bytes (a
    /// map's names take at most 2 GiB), of a sketch's buckets (fewer than
    /// 2^19) and of a gauge's ordered deltas (64).
    fn len(&mut self, n: usize) {
        self.u32(n as u32);
    }

    fn name(&mut self, name: &[u8]) {
        self.len(name.len());
        self.0.extend_from_slice(name);
    }

    fn counts(&mut self, c: &IngestCounts) {
        for n in [
            c.packets,
            c.lines,
            c.bad_lines,
            c.events,
            c.service_checks,
            c.refused_series,
            c.refused_samples,
            c.oversized,
        ] {
            self.u64(n);
        }
    }

    fn map<V, A: Arena>(&mut self, map: &NameMap<V, A>, mut value: impl FnMut(&mut Self, &V)) {
        self.len(map.len());
        for (name, v) in map.iter() {
            self.name(name);
            value(self, v);
        }
    }
}
