//! The store: every series the flushes reported, bounded in count.

use std::collections::BTreeMap;
use std::sync::Arc;

use statkit_agg::{Cumulative, Snapshot, TimerSummary};

use crate::frames::FrameSample;
use crate::key::split_key;
use crate::kind::Kind;
use crate::series::{capacities, Series};

/// Limits and names the store works with.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Series kept over all kinds; flushes of further new series are
    /// dropped and counted ([`Store::dropped_series`]).
    pub max_series: usize,
    /// Bytes of history each series may hold (both resolutions together;
    /// the load frames, about 1 KiB, and the name come on top).
    pub bytes_per_series: usize,
    /// Ascending bounds of the timers' cumulative buckets, as the
    /// aggregator was given them (`statkit_agg::Options::buckets`).
    pub bounds: Arc<[f64]>,
    /// Prefix of the server's own metrics (etsy's `prefixStats`).
    pub own_prefix: String,
    /// Label sets (keys) one name of one kind may have; a new one past it
    /// is folded into the name's overflow series ([`OVERFLOW`]). 0 for no
    /// limit. The server's own series are exempt.
    pub max_series_per_name: usize,
    /// Seconds after which a series no flush has reported is forgotten,
    /// history and all (the aggregation stopped reporting it: expired,
    /// deleted, etsy's `delete*` options); 0 keeps every series.
    pub forget_after_s: u64,
    /// Seconds without activity (`Series::last_active`) after which a
    /// series the latest flush did not report is forgotten: the
    /// aggregation's `series_ttl`, so the store lets go when the
    /// aggregation does; 0 for none.
    pub idle_ttl_s: u64,
}

/// The value every tag of an overflow series has.
pub const OVERFLOW: &[u8] = b"__overflow__";

impl Default for Options {
    fn default() -> Self {
        Self {
            max_series: 100_000,
            bytes_per_series: 16 * 1024,
            bounds: Arc::from([]),
            own_prefix: "statsd".into(),
            max_series_per_name: 10_000,
            forget_after_s: 86_400,
            idle_ttl_s: 0,
        }
    }
}

/// A name's overflow series: its key, and the series reports folded in.
type Overflow = (Box<[u8]>, u64);

/// Every series' history, by kind and name.
#[derive(Clone, Debug)]
pub struct Store {
    options: Options,
    series: [BTreeMap<Box<[u8]>, Series>; 4],
    /// Keys held per name (the key without its tags), by kind.
    per_name: [BTreeMap<Box<[u8]>, usize>; 4],
    /// Each overflowed name's overflow key and the series reports folded
    /// into it.
    overflows: BTreeMap<Box<[u8]>, Overflow>,
    len: usize,
    dropped_series: u64,
    last_flush: u64,
    interval_s: f64,
    pct_label: String,
}

impl Store {
    pub fn new(options: Options) -> Self {
        Self {
            options,
            series: Default::default(),
            per_name: Default::default(),
            overflows: BTreeMap::new(),
            len: 0,
            dropped_series: 0,
            last_flush: 0,
            interval_s: 10.0,
            pct_label: String::new(),
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Series held, over every kind.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Series flushes not kept since start because [`Options::max_series`]
    /// series were held: each flush counts every series it could not keep.
    pub fn dropped_series(&self) -> u64 {
        self.dropped_series
    }

    /// Unix seconds of the newest flush taken in; 0 before the first.
    pub fn last_flush(&self) -> u64 {
        self.last_flush
    }

    /// The flush interval of the newest flush, in seconds.
    pub fn interval_s(&self) -> f64 {
        self.interval_s
    }

    /// The label of the threshold timers' `pct` field reports (`90`).
    pub fn pct_label(&self) -> &str {
        &self.pct_label
    }

    /// Series reports folded into an overflow series since start, by the
    /// name (without tags) that had [`Options::max_series_per_name`] label
    /// sets: each flush counts every new label set it folded.
    pub fn overflows(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.overflows.iter().map(|(name, (_, n))| (&name[..], *n))
    }

    /// Whether `key` is one of the server's own series:
    /// `<own_prefix>.<name>`, one component and no tags.
    pub fn is_own(&self, key: &[u8]) -> bool {
        key.strip_prefix(self.options.own_prefix.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"."))
            .is_some_and(|own| !own.is_empty() && !own.contains(&b'.') && !own.contains(&b';'))
    }

    pub fn get(&self, kind: Kind, name: &[u8]) -> Option<&Series> {
        self.series[kind.index()].get(name)
    }

    /// Forgets a series (its history, totals and load frames): deleted on
    /// the admin port, it leaves `/metrics` and the dashboard at once.
    pub fn remove(&mut self, kind: Kind, name: &[u8]) -> bool {
        let removed = self.series[kind.index()].remove(name).is_some();
        self.len -= usize::from(removed);
        if removed {
            let counts = &mut self.per_name[kind.index()];
            let base = split_key(name).0;
            if let Some(n) = counts.get_mut(base) {
                *n -= 1;
                if *n == 0 {
                    counts.remove(base);
                }
            }
        }
        removed
    }

    /// Every series, counters first, then gauges, timers and sets, each
    /// kind in name order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &[u8], &Series)> {
        Kind::ALL.into_iter().flat_map(move |kind| {
            self.series[kind.index()]
                .iter()
                .map(move |(name, series)| (kind, &name[..], series))
        })
    }

    /// Takes in one flush.
    pub fn ingest(&mut self, snapshot: &Snapshot) {
        let t = snapshot.timestamp;
        self.last_flush = self.last_flush.max(t);
        self.interval_s = snapshot.interval_ms / 1000.0;
        if let Some(p) = snapshot.percentiles.first() {
            if self.pct_label != p.label() {
                self.pct_label = p.label().to_owned();
            }
        }
        for (name, c) in snapshot.counters() {
            self.counter(name, t, c.count, c.rate, Total::Is(c.total));
        }
        let interval = self.interval_s;
        for &(name, value) in &snapshot.own {
            let full = format!("{}.{name}", self.options.own_prefix);
            self.counter(full.as_bytes(), t, value, value / interval, Total::Add);
        }
        for (name, summary) in snapshot.timers() {
            self.timer(name, t, summary);
        }
        for (name, value) in snapshot.gauges() {
            self.update(Kind::Gauge, name, |s, _| {
                s.last_active = t;
                s.record(t, &[value], Some(point(value)));
            });
        }
        for (name, members) in snapshot.sets() {
            let n = members as f64;
            self.update(Kind::Set, name, |s, _| {
                if members > 0 {
                    s.last_active = t;
                }
                s.record(t, &[n], Some(point(n)));
            });
        }
        self.forget(t);
    }

    /// Forgets the series the flush at `t` did not report that are past
    /// [`Options::forget_after_s`] since their last report or
    /// [`Options::idle_ttl_s`] since their last activity; the server's own
    /// stay.
    fn forget(&mut self, t: u64) {
        let (after, idle) = (self.options.forget_after_s, self.options.idle_ttl_s);
        if after == 0 && idle == 0 {
            return;
        }
        let past = |since: u64, limit: u64| limit > 0 && t.saturating_sub(since) > limit;
        let mut gone = Vec::new();
        for kind in Kind::ALL {
            for (key, series) in &self.series[kind.index()] {
                let stale = series.last_time < t
                    && (past(series.last_time, after) || past(series.last_active, idle));
                if stale && !self.is_own(key) {
                    gone.push((kind, key.clone()));
                }
            }
        }
        for (kind, key) in &gone {
            self.remove(*kind, key);
        }
    }

    fn counter(&mut self, name: &[u8], t: u64, count: f64, rate: f64, total: Total) {
        self.update(Kind::Counter, name, |s, folded| {
            s.total = match total {
                Total::Is(total) if !folded => total,
                _ => s.total + count,
            };
            if count != 0.0 {
                s.last_active = t;
            }
            let frame = FrameSample {
                sum: count,
                ..point(count)
            };
            s.record(t, &[rate], Some(frame));
        });
    }

    fn timer(&mut self, name: &[u8], t: u64, summary: &TimerSummary) {
        let bounds = self.options.bounds.len();
        self.update(Kind::Timer, name, |s, folded| {
            let mut cumulative = summary.cumulative.clone();
            if folded {
                cumulative = Cumulative {
                    count: s.total,
                    sum: s.sum,
                    buckets: std::mem::take(&mut s.buckets),
                };
                cumulative.add(summary, bounds);
            }
            s.total = cumulative.count;
            s.sum = cumulative.sum;
            if cumulative.buckets.len() == bounds {
                s.buckets = cumulative.buckets;
            }
            if summary.count > 0.0 {
                s.last_active = t;
            }
            let Some(stats) = &summary.stats else {
                let nan = f64::NAN;
                s.record(t, &[summary.count_ps, nan, nan, nan, nan, nan], None);
                return;
            };
            let pct = stats
                .thresholds
                .iter()
                .find(|th| th.percentile == 0)
                .map_or(f64::NAN, |th| th.bound);
            let row = [
                summary.count_ps,
                stats.lower,
                stats.mean,
                stats.median,
                stats.upper,
                pct,
            ];
            let frame = FrameSample {
                sum: stats.sum,
                count: summary.count,
                lower: stats.lower,
                upper: stats.upper,
                mean: stats.mean,
                last: stats.mean,
            };
            s.record(t, &row, Some(frame));
        });
    }

    /// Restores the bookkeeping a state file carries.
    pub(crate) fn restore_meta(
        &mut self,
        last_flush: u64,
        interval_s: f64,
        pct_label: String,
        dropped: u64,
    ) {
        self.last_flush = last_flush;
        self.interval_s = interval_s;
        self.pct_label = pct_label;
        self.dropped_series = dropped;
    }

    /// Puts back a series read from a state file, when there is room.
    pub(crate) fn restore(&mut self, kind: Kind, name: &[u8], series: Series) {
        if let Some(slot) = self.insert(kind, name) {
            *slot = series;
        }
    }

    /// Runs `f` on the series, creating it when there is room, or on its
    /// name's overflow series when the name has all the label sets it may.
    /// Runs `f` on the series `name` (made if new), or on the overflow
    /// series it is folded into: `f` is told which (`true` when folded),
    /// since an overflow series adds up the series it stands for.
    fn update(&mut self, kind: Kind, name: &[u8], f: impl FnOnce(&mut Series, bool)) {
        if let Some(series) = self.series[kind.index()].get_mut(name) {
            f(series, false);
            return;
        }
        let folded = self.overflow_key(kind, name);
        let key = folded.as_deref().unwrap_or(name);
        let series = match self.series[kind.index()].get_mut(key) {
            Some(series) => Some(series),
            None => self.insert(kind, key),
        };
        if let Some(series) = series {
            f(series, folded.is_some());
        }
    }

    /// The key a new series `key` is folded into (counted), when its name
    /// already has [`Options::max_series_per_name`] keys: the name with
    /// the tags of the first key folded, each set to [`OVERFLOW`].
    fn overflow_key(&mut self, kind: Kind, key: &[u8]) -> Option<Box<[u8]>> {
        let limit = self.options.max_series_per_name;
        if limit == 0 || self.is_own(key) {
            return None;
        }
        let (name, tags) = split_key(key);
        // The overflow series is not one of the label sets it stands for.
        let overflow = self
            .overflows
            .get(name)
            .is_some_and(|(k, _)| self.series[kind.index()].contains_key(k));
        let held = self.per_name[kind.index()].get(name).copied().unwrap_or(0);
        if held - usize::from(overflow) < limit {
            return None;
        }
        if let Some((folded, n)) = self.overflows.get_mut(name) {
            *n += 1;
            return Some(folded.clone());
        }
        let mut folded = name.to_vec();
        for (tag, _) in tags {
            folded.push(b';');
            folded.extend_from_slice(tag);
            folded.push(b'=');
            folded.extend_from_slice(OVERFLOW);
        }
        let folded: Box<[u8]> = folded.into();
        self.overflows.insert(name.into(), (folded.clone(), 1));
        Some(folded)
    }

    /// A new, empty series, or `None` (counted) when the store is full.
    fn insert(&mut self, kind: Kind, name: &[u8]) -> Option<&mut Series> {
        if self.len >= self.options.max_series {
            self.dropped_series += 1;
            return None;
        }
        let caps = capacities(kind, self.options.bytes_per_series, self.interval_s);
        self.len += 1;
        let base = split_key(name).0;
        match self.per_name[kind.index()].get_mut(base) {
            Some(n) => *n += 1,
            None => {
                self.per_name[kind.index()].insert(base.into(), 1);
            }
        }
        let map = &mut self.series[kind.index()];
        Some(map.entry(name.into()).or_insert(Series::new(kind, caps)))
    }
}

/// A frame sample of one value.
fn point(v: f64) -> FrameSample {
    FrameSample {
        sum: 0.0,
        count: 0.0,
        lower: v,
        upper: v,
        mean: v,
        last: v,
    }
}

/// How a flush gives a counter's count since first seen.
#[derive(Clone, Copy)]
enum Total {
    /// The aggregator's total (which a restart keeps).
    Is(f64),
    /// Only the interval's count: the store adds it up (own metrics).
    Add,
}
