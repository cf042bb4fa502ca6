//! Writing a checkpoint's bytes; the layout is in the parent module's
//! documentation.

use super::{fields, HEADER, MAGIC, VERSION};
use super::{AggregatorState, Checkpoint, Entries, Sets, TableState, Timers};
use crate::aggregator::Gauge;
use crate::sketch::Sketch;
use crate::table::{GaugeChange, IngestCounts};

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
    w.entries(&a.counters, |w, &c| w.f64(c));
    w.entries(&a.gauges, gauge);
    timers(w, &a.timers);
    sets(w, &a.sets);
    w.u64(a.flushes);
    w.entries(&a.counter_totals, |w, kept| {
        w.f64(kept.total);
        w.u64(kept.seen);
    });
    w.entries(&a.timer_totals, |w, kept| {
        w.f64(kept.total.count);
        w.f64(kept.total.sum);
        w.len(kept.total.buckets.len());
        w.f64s(&kept.total.buckets);
        w.u64(kept.seen);
    });
}

fn table(w: &mut Writer<'_>, t: &TableState) {
    w.counts(&t.counts);
    w.u64(t.names_after_drain as u64);
    w.u8(u8::from(t.splittable));
    w.entries(&t.counters, |w, &c| w.f64(c));
    w.entries(&t.gauges, gauge_change);
    timers(w, &t.timers);
    sets(w, &t.sets);
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

fn sets(w: &mut Writer<'_>, sets: &Sets) {
    let mut members = sets.members.names();
    w.entries(&sets.entries, |w, &n| {
        w.len(n);
        for member in members.by_ref().take(n) {
            w.name(member);
        }
    });
}

fn timers(w: &mut Writer<'_>, timers: &Timers) {
    let (mut values, mut weights) = (&timers.values[..], &timers.weights[..]);
    w.entries(&timers.entries, |w, t| {
        w.f64(t.count);
        if let Some(s) = &t.sketch {
            w.u8(SKETCHED);
            sketch(w, s);
            return;
        }
        w.u8(if t.weighted { WEIGHTED } else { EXACT });
        w.u64(t.values as u64);
        let (mine, rest) = values.split_at(t.values.min(values.len()));
        w.f64s(mine);
        values = rest;
        if t.weighted {
            let (mine, rest) = weights.split_at(t.values.min(weights.len()));
            w.f64s(mine);
            weights = rest;
        }
    });
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
    /// names or a set's members (which a map numbers with `u32`s), of one name's bytes (a
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
        fields(c).into_iter().for_each(|n| self.u64(n));
    }

    fn entries<V>(&mut self, entries: &Entries<V>, mut value: impl FnMut(&mut Self, &V)) {
        self.len(entries.len());
        for (name, v) in entries.iter() {
            self.name(name);
            value(self, v);
        }
    }
}
