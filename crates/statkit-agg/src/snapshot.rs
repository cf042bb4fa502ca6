//! The immutable result of one flush, handed to every sink.
//!
//! A snapshot owns copies of its series names in one buffer, so sinks on
//! other threads can read it (behind an `Arc`) while the aggregator goes on
//! with the next interval.

use std::ops::Range;
use std::sync::Arc;

use crate::summary::{Percentile, TimerSummary};

/// A name stored in a snapshot's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span(Range<u32>);

/// A counter's flush: the interval's total and per-second rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterFlush {
    pub count: f64,
    pub rate: f64,
}

/// Everything one flush reports. Series appear in etsy's order: insertion
/// order per kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Unix seconds of the flush (etsy's rounded `Date.now() / 1000`).
    pub timestamp: u64,
    /// The configured flush interval in milliseconds.
    pub interval_ms: f64,
    /// The percent thresholds the timer summaries refer to by index.
    pub percentiles: Arc<[Percentile]>,
    names: Vec<u8>,
    /// Counter totals; rates are derived on reading (a flush of 100k
    /// counters is 800 KB smaller for it).
    counters: Vec<(Span, f64)>,
    timers: Vec<(Span, TimerSummary)>,
    gauges: Vec<(Span, f64)>,
    sets: Vec<(Span, u64)>,
    /// etsy's `numStats`: series of every kind in this flush.
    pub num_stats: usize,
    /// Milliseconds spent computing the flush (etsy's `processing_time`).
    pub processing_time_ms: u64,
    /// Series left out because their names would not fit (see `span`).
    pub unflushed: u64,
    /// statkit's own per-interval metrics beyond etsy's, as
    /// `(name under the self-metric prefix, value)`.
    pub own: Vec<(&'static str, f64)>,
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

    /// Sizes the buffers for the series to come, so building a large flush
    /// does not double (and briefly hold twice) its memory.
    pub(crate) fn reserve(
        &mut self,
        counters: usize,
        timers: usize,
        gauges: usize,
        sets: usize,
        name_bytes: usize,
    ) {
        self.names.reserve_exact(name_bytes);
        self.counters.reserve_exact(counters);
        self.timers.reserve_exact(timers);
        self.gauges.reserve_exact(gauges);
        self.sets.reserve_exact(sets);
    }

    /// Stores `name`, or returns `None` (and counts the series in
    /// `unflushed`) once the names no longer fit 32-bit offsets: 4 GiB of
    /// names, which no sane configuration reaches, but a hostile one might.
    fn span(&mut self, name: &[u8]) -> Option<Span> {
        let len = self.names.len();
        let (Ok(start), Ok(end)) = (u32::try_from(len), u32::try_from(len + name.len())) else {
            self.unflushed += 1;
            return None;
        };
        self.names.extend_from_slice(name);
        Some(Span(start..end))
    }

    fn name(&self, span: &Span) -> &[u8] {
        &self.names[span.0.start as usize..span.0.end as usize]
    }

    pub(crate) fn push_counter(&mut self, name: &[u8], count: f64) {
        if let Some(span) = self.span(name) {
            self.counters.push((span, count));
        }
    }

    /// etsy's rate: the count over the interval in seconds.
    fn counter_flush(&self, count: f64) -> CounterFlush {
        CounterFlush {
            count,
            rate: count / (self.interval_ms / 1000.0),
        }
    }

    pub(crate) fn push_timer(&mut self, name: &[u8], summary: TimerSummary) {
        if let Some(span) = self.span(name) {
            self.timers.push((span, summary));
        }
    }

    pub(crate) fn push_gauge(&mut self, name: &[u8], value: f64) {
        if let Some(span) = self.span(name) {
            self.gauges.push((span, value));
        }
    }

    pub(crate) fn push_set(&mut self, name: &[u8], members: u64) {
        if let Some(span) = self.span(name) {
            self.sets.push((span, members));
        }
    }

    /// The `i`th counter, for sinks that write a flush a piece at a time.
    pub fn counter(&self, i: usize) -> Option<(&[u8], CounterFlush)> {
        self.counters
            .get(i)
            .map(|(s, c)| (self.name(s), self.counter_flush(*c)))
    }

    pub fn timer(&self, i: usize) -> Option<(&[u8], &TimerSummary)> {
        self.timers.get(i).map(|(s, t)| (self.name(s), t))
    }

    pub fn gauge(&self, i: usize) -> Option<(&[u8], f64)> {
        self.gauges.get(i).map(|(s, g)| (self.name(s), *g))
    }

    pub fn set(&self, i: usize) -> Option<(&[u8], u64)> {
        self.sets.get(i).map(|(s, n)| (self.name(s), *n))
    }

    pub fn counters(&self) -> impl Iterator<Item = (&[u8], CounterFlush)> {
        self.counters
            .iter()
            .map(|(s, c)| (self.name(s), self.counter_flush(*c)))
    }

    pub fn timers(&self) -> impl Iterator<Item = (&[u8], &TimerSummary)> {
        self.timers.iter().map(|(s, t)| (self.name(s), t))
    }

    pub fn gauges(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.gauges.iter().map(|(s, g)| (self.name(s), *g))
    }

    pub fn sets(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.sets.iter().map(|(s, n)| (self.name(s), *n))
    }

    /// Number of series of every kind (what `numStats` reports).
    pub fn len(&self) -> usize {
        self.counters.len() + self.timers.len() + self.gauges.len() + self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
