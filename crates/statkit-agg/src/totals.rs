//! Counts since a series was first seen: what Prometheus-shaped outputs
//! (`/metrics`, remote-write, OTLP) export, as counters `_total` and
//! histograms `_count`, `_sum` and `_bucket`.
//!
//! They live beside the interval's state in the [`Aggregator`] (and in its
//! [`Checkpoint`]) rather than in each output, for two reasons: every
//! output then sees the same totals for the same flush, and a restart
//! restores them with the interval, atomically, so a restart is not a
//! counter reset downstream and never adds an interval twice.
//!
//! A total outlives its series' idle flushes (etsy's `deleteCounters`
//! deletes a counter every flush it is idle, and it comes back with the
//! next sample): it is forgotten only after [`TOTALS_TTL_SECONDS`] without
//! a flush reporting the series. The map is bounded like the aggregator's;
//! a series it cannot take is counted as refused and reports the
//! interval's values as its totals.
//!
//! [`Aggregator`]: crate::Aggregator
//! [`Checkpoint`]: crate::Checkpoint

use crate::aggregator::Kind;
use crate::names::NameMap;
use crate::snapshot::Snapshot;
use crate::summary::TimerSummary;

/// How long a total is kept after the last flush that reported its series.
pub const TOTALS_TTL_SECONDS: f64 = 86_400.0;

/// A timer's values since it was first seen, as a Prometheus histogram
/// counts them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cumulative {
    /// Values counted (each over its sample rate, as etsy's `count`).
    pub count: f64,
    /// Their sum (the interval's mean times its count, interval by
    /// interval, so sampled values weigh as they count).
    pub sum: f64,
    /// For each configured bound ([`Options::buckets`]), values at most
    /// that bound; empty when no bounds are configured.
    ///
    /// [`Options::buckets`]: crate::Options::buckets
    pub buckets: Vec<f64>,
}

impl Cumulative {
    /// Adds one flush's summary (`bounds`: how many bucket bounds are
    /// configured).
    pub fn add(&mut self, summary: &TimerSummary, bounds: usize) {
        self.count += summary.count;
        if let Some(stats) = &summary.stats {
            self.sum += stats.mean * summary.count;
        }
        self.buckets.resize(bounds, 0.0);
        if summary.buckets.len() == bounds {
            for (total, added) in self.buckets.iter_mut().zip(&summary.buckets) {
                *total += added;
            }
        }
    }
}

/// A series' total and the flush that last reported it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Kept<T> {
    pub total: T,
    /// [`SeriesTotals::flushes`] when a flush last reported the series.
    pub seen: u64,
}

/// Every series' totals. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct SeriesTotals {
    pub counters: NameMap<Kept<f64>>,
    pub timers: NameMap<Kept<Cumulative>>,
    /// Flushes since the totals began (restored with them).
    pub flushes: u64,
}

impl SeriesTotals {
    /// Adds a flush: fills in its counters' totals and its timers'
    /// [`TimerSummary::cumulative`]. Returns how many series could not be
    /// kept (past `limit` names of a kind). Totals idle for `ttl_flushes`
    /// flushes are forgotten after.
    pub fn add(
        &mut self,
        snapshot: &mut Snapshot,
        bounds: usize,
        limit: usize,
        ttl_flushes: u64,
    ) -> u64 {
        // A checkpoint's count is below 2^62 (decoding checks): this
        // cannot saturate in any server's life, and must not panic.
        self.flushes = self.flushes.saturating_add(1);
        let seen = self.flushes;
        let mut refused = 0;
        let mut counter_totals = Vec::with_capacity(snapshot.counters.len());
        for (name, &count) in snapshot.counters.iter() {
            let fresh = || Kept { total: 0.0, seen };
            counter_totals.push(match self.counters.get_or_insert_with(name, limit, fresh) {
                Some(kept) => {
                    if (kept.total + count).is_finite() {
                        kept.total += count;
                    }
                    kept.seen = seen;
                    kept.total
                }
                None => {
                    refused += 1;
                    count
                }
            });
        }
        snapshot.counter_totals = counter_totals;
        for (name, summary) in snapshot.timers.iter_mut() {
            let fresh = || Kept {
                total: Cumulative::default(),
                seen,
            };
            let mut cumulative = match self.timers.get_or_insert_with(name, limit, fresh) {
                Some(kept) => {
                    kept.seen = seen;
                    std::mem::take(&mut kept.total)
                }
                None => {
                    refused += 1;
                    Cumulative::default()
                }
            };
            cumulative.add(summary, bounds);
            if let Some(kept) = self.timers.get_mut(name) {
                kept.total = cumulative.clone();
            }
            summary.cumulative = cumulative;
        }
        let fresh = |kept_seen: u64| seen - kept_seen < ttl_flushes;
        self.counters.retain(|_, kept| fresh(kept.seen));
        self.timers.retain(|_, kept| fresh(kept.seen));
        refused
    }

    /// Forgets a deleted series' totals.
    pub fn remove(&mut self, kind: Kind, name: &[u8]) {
        match kind {
            Kind::Counters => self.counters.remove(name),
            Kind::Timers => self.timers.remove(name),
            Kind::Gauges | Kind::Sets => false,
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::snapshot::Series;

    fn flush(
        totals: &mut SeriesTotals,
        counters: &[(&str, f64)],
        timers: Vec<(&str, TimerSummary)>,
    ) -> Snapshot {
        let mut snapshot = Snapshot::new(0, 1000.0, Arc::from([]));
        snapshot.counters = Series::of(counters.iter().map(|&(n, v)| (n.as_bytes(), v)));
        snapshot.timers = Series::of(timers.into_iter().map(|(n, t)| (n.as_bytes(), t)));
        totals.add(&mut snapshot, 2, 2, 2);
        snapshot
    }

    fn timer(count: f64, mean: f64, buckets: Vec<f64>) -> TimerSummary {
        let stats = crate::summary::TimerStats {
            thresholds: Vec::new(),
            std: 0.0,
            upper: mean,
            lower: mean,
            sum: mean * count,
            sum_squares: 0.0,
            mean,
            median: mean,
            histogram: Vec::new(),
            sketched: false,
        };
        TimerSummary {
            count,
            count_ps: count,
            stats: Some(stats),
            buckets,
            cumulative: Cumulative::default(),
        }
    }

    fn totals(snapshot: &Snapshot) -> Vec<f64> {
        snapshot.counters().map(|(_, c)| c.total).collect()
    }

    #[test]
    fn counters_add_up_across_flushes_and_expire_when_idle() {
        let mut t = SeriesTotals::default();
        assert_eq!(totals(&flush(&mut t, &[("a", 2.0)], vec![])), [2.0]);
        let second = flush(&mut t, &[("a", 3.0)], vec![]);
        assert_eq!(totals(&second), [5.0]);
        assert_eq!(
            second.counters().map(|(_, c)| c.count).collect::<Vec<_>>(),
            [3.0]
        );
        flush(&mut t, &[], vec![]);
        assert_eq!(t.counters.len(), 1, "one idle flush is within the ttl");
        flush(&mut t, &[], vec![]);
        assert_eq!(t.counters.len(), 0, "two idle flushes are not");
    }

    #[test]
    fn timers_add_count_sum_and_buckets() {
        let mut t = SeriesTotals::default();
        flush(&mut t, &[], vec![("t", timer(4.0, 2.5, vec![1.0, 4.0]))]);
        let second = flush(&mut t, &[], vec![("t", timer(2.0, 10.0, vec![0.0, 1.0]))]);
        let (_, summary) = second.timers().next().unwrap_or_else(|| unreachable!());
        assert_eq!(
            summary.cumulative,
            Cumulative {
                count: 6.0,
                sum: 30.0,
                buckets: vec![1.0, 5.0],
            }
        );
    }

    #[test]
    fn past_the_limit_a_series_reports_its_interval_and_is_counted() {
        let mut t = SeriesTotals::default();
        let mut snapshot = Snapshot::new(0, 1000.0, Arc::from([]));
        snapshot.counters = Series::of([(&b"a"[..], 1.0), (b"b", 7.0)]);
        assert_eq!(t.add(&mut snapshot, 0, 1, 100), 1);
        assert_eq!(totals(&snapshot), [1.0, 7.0]);
    }
}
