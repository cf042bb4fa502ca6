//! The immutable result of one flush, handed to every sink.
//!
//! A snapshot holds its series names by sharing the aggregator's names
//! (copy-on-write, see [`NameMap`](crate::names::NameMap)), so sinks on
//! other threads can read it (behind an `Arc`) while the aggregator goes on
//! with the next interval, and a flush costs no copy of its names.

use std::sync::Arc;

use crate::names::SharedArena;
use crate::summary::{Percentile, TimerSummary};

mod codec;
pub use codec::{SnapshotError, OWN_NAMES};

/// A counter's flush: the interval's count and per-second rate, and the
/// count since the series was first seen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterFlush {
    pub count: f64,
    pub rate: f64,
    /// Since first seen (kept across restarts by the checkpoint): what
    /// Prometheus-shaped outputs export as `<name>_total`.
    pub total: f64,
}

/// The series of one kind: values, the `i`th named by slot `i` of names
/// shared with the aggregator.
#[derive(Clone, Debug)]
pub(crate) struct Series<T> {
    names: SharedArena,
    values: Vec<T>,
}

impl<T> Default for Series<T> {
    fn default() -> Self {
        Self::from((SharedArena::default(), Vec::new()))
    }
}

/// What [`NameMap::share`](crate::names::NameMap::share) returns.
impl<T> From<(SharedArena, Vec<T>)> for Series<T> {
    fn from((names, values): (SharedArena, Vec<T>)) -> Self {
        Self { names, values }
    }
}

impl<T> Series<T> {
    /// A series of the pairs, the first of each name kept (names are
    /// unique in a snapshot).
    #[cfg(test)]
    pub(crate) fn of<'a>(pairs: impl IntoIterator<Item = (&'a [u8], T)>) -> Self {
        let mut map = crate::names::NameMap::<Option<T>, SharedArena>::default();
        for (name, value) in pairs {
            if let Some(slot @ None) = map.get_or_insert_with(name, usize::MAX, || None) {
                *slot = Some(value);
            }
        }
        let (names, values) = map.share(|_, v| v.take());
        Self::from((names, values.into_iter().flatten().collect()))
    }

    fn get(&self, i: usize) -> Option<(&[u8], &T)> {
        self.values.get(i).map(|value| (self.names.get(i), value))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], &T)> {
        (self.values.iter().enumerate()).map(|(i, value)| (self.names.get(i), value))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut T)> {
        let names = &self.names;
        (self.values.iter_mut().enumerate()).map(|(i, value)| (names.get(i), value))
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }
}

/// Equal when the same names carry the same values, in the same order,
/// whichever arenas hold the names.
impl<T: PartialEq> PartialEq for Series<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

/// Everything one flush reports. Series appear in etsy's order: insertion
/// order per kind.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Unix seconds of the flush (etsy's rounded `Date.now() / 1000`).
    pub timestamp: u64,
    /// The configured flush interval in milliseconds.
    pub interval_ms: f64,
    /// The percent thresholds the timer summaries refer to by index.
    pub percentiles: Arc<[Percentile]>,
    /// Counters' interval counts; rates are derived on reading (a flush of
    /// 100k counters is 800 KB smaller for it).
    pub(crate) counters: Series<f64>,
    /// Each counter's count since first seen, in the order of `counters`
    /// (empty until the aggregator's totals fill it in: then the interval's
    /// count stands for it).
    pub(crate) counter_totals: Vec<f64>,
    pub(crate) timers: Series<TimerSummary>,
    pub(crate) gauges: Series<f64>,
    pub(crate) sets: Series<u64>,
    /// etsy's `numStats`: series of every kind in this flush.
    pub num_stats: usize,
    /// Milliseconds spent computing the flush (etsy's `processing_time`).
    pub processing_time_ms: u64,
    /// statkit's own per-interval metrics beyond etsy's, as
    /// `(name under the self-metric prefix, value)`.
    pub own: Vec<(&'static str, f64)>,
}

/// Equal when every field reads the same, counters' totals included
/// (whether filled in or standing for their interval's counts).
impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.timestamp == other.timestamp
            && self.interval_ms == other.interval_ms
            && self.percentiles == other.percentiles
            && self.counters == other.counters
            && (self.counters().map(|(_, c)| c.total)).eq(other.counters().map(|(_, c)| c.total))
            && self.timers == other.timers
            && self.gauges == other.gauges
            && self.sets == other.sets
            && self.num_stats == other.num_stats
            && self.processing_time_ms == other.processing_time_ms
            && self.own == other.own
    }
}

impl Snapshot {
    /// An empty flush; the aggregator fills it.
    pub fn new(timestamp: u64, interval_ms: f64, percentiles: Arc<[Percentile]>) -> Self {
        Self {
            timestamp,
            interval_ms,
            percentiles,
            ..Self::default()
        }
    }

    /// etsy's rate: the count over the interval in seconds.
    fn counter_flush(&self, i: usize, count: f64) -> CounterFlush {
        CounterFlush {
            count,
            rate: count / (self.interval_ms / 1000.0),
            total: self.counter_totals.get(i).copied().unwrap_or(count),
        }
    }

    /// The `i`th counter, for sinks that write a flush a piece at a time.
    pub fn counter(&self, i: usize) -> Option<(&[u8], CounterFlush)> {
        self.counters
            .get(i)
            .map(|(name, c)| (name, self.counter_flush(i, *c)))
    }

    pub fn timer(&self, i: usize) -> Option<(&[u8], &TimerSummary)> {
        self.timers.get(i)
    }

    pub fn gauge(&self, i: usize) -> Option<(&[u8], f64)> {
        self.gauges.get(i).map(|(name, g)| (name, *g))
    }

    pub fn set(&self, i: usize) -> Option<(&[u8], u64)> {
        self.sets.get(i).map(|(name, n)| (name, *n))
    }

    pub fn counters(&self) -> impl Iterator<Item = (&[u8], CounterFlush)> {
        (self.counters.iter().enumerate()).map(|(i, (name, c))| (name, self.counter_flush(i, *c)))
    }

    pub fn timers(&self) -> impl Iterator<Item = (&[u8], &TimerSummary)> {
        self.timers.iter()
    }

    pub fn gauges(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.gauges.iter().map(|(name, g)| (name, *g))
    }

    pub fn sets(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.sets.iter().map(|(name, n)| (name, *n))
    }

    /// Number of series of every kind (what `numStats` reports).
    pub fn len(&self) -> usize {
        self.counters.len() + self.timers.len() + self.gauges.len() + self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
