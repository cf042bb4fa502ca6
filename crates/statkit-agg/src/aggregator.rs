//! The state that survives from one flush to the next, and the flush.
//!
//! Receivers fill [`Table`]s; the [`Aggregator`] drains them ([`absorb`]),
//! and at the end of each interval turns its state into a [`Snapshot`]
//! ([`flush`]) and resets it the way etsy statsd 0.9 does: counters go back
//! to zero (or are deleted), timers and sets are emptied (or deleted), gauges
//! keep their value (or expire after `gauges_max_ttl` idle flushes).
//!
//! [`absorb`]: Aggregator::absorb
//! [`flush`]: Aggregator::flush

use std::sync::Arc;
use std::time::Instant;

use crate::expiry::Expiry;
use crate::names::{NameMap, SharedArena};
use crate::snapshot::Snapshot;
use crate::summary::{fill_buckets, summarize, Bin, Percentile};
use crate::table::{IngestCounts, Table, TableOptions};
use crate::timer::TimerValues;
use crate::totals::{SeriesTotals, TOTALS_TTL_SECONDS};

/// etsy's `histogram` setting: timers whose key contains `metric` get bins.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSetting {
    /// A substring of the key; the first setting that matches wins, and an
    /// empty string matches every timer.
    pub metric: String,
    pub bins: Vec<Bin>,
}

/// Which idle series a flush deletes instead of resetting (etsy's
/// `deleteCounters`, `deleteGauges`, `deleteTimers`, `deleteSets`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deletion {
    pub counters: bool,
    pub gauges: bool,
    pub timers: bool,
    pub sets: bool,
}

/// Everything that shapes a flush.
#[derive(Clone, Debug)]
pub struct Options {
    pub table: TableOptions,
    /// The flush interval in milliseconds (rates are per second of it).
    pub interval_ms: f64,
    pub percentiles: Arc<[Percentile]>,
    pub histograms: Vec<HistogramSetting>,
    /// Ascending bounds of the cumulative value buckets each timer's
    /// summary carries ([`TimerSummary::buckets`](crate::TimerSummary)),
    /// for Prometheus histograms; empty for none.
    pub buckets: Arc<[f64]>,
    pub deletion: Deletion,
    /// Flushes a gauge survives without a new value when gauges are deleted.
    pub gauges_max_ttl: u32,
    /// Flushes a series of any kind stays without activity before it
    /// leaves the aggregation (and its totals go); `None` keeps every
    /// series as etsy does.
    pub series_ttl: Option<u32>,
    /// Prefix of the server's own counters (etsy's `prefixStats`).
    pub prefix_stats: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            table: TableOptions::default(),
            interval_ms: 10_000.0,
            percentiles: Arc::from([Percentile::new(90.0).expect("90 is a valid threshold")]),
            histograms: Vec::new(),
            buckets: Arc::from([]),
            deletion: Deletion::default(),
            gauges_max_ttl: 1,
            series_ttl: None,
            prefix_stats: "statsd".into(),
        }
    }
}

/// A gauge's value and, when gauges expire, the flushes it has left.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gauge {
    pub value: f64,
    pub(crate) ttl: Option<u32>,
}

/// The kinds of series the admin port can list and delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counters,
    Gauges,
    Timers,
    Sets,
}

/// Marks a series active this interval, when series expire.
fn touch(expiry: &mut Option<Expiry>, kind: Kind, name: &[u8]) {
    if let Some(expiry) = expiry {
        expiry.touch(kind, name);
    }
}

/// Names of the counters etsy keeps about itself.
#[derive(Clone, Debug)]
struct OwnNames {
    bad_lines: Vec<u8>,
    packets: Vec<u8>,
    lines: Vec<u8>,
    timestamp_lag: Vec<u8>,
}

/// Aggregated state between flushes. See the module documentation.
#[derive(Debug)]
pub struct Aggregator {
    options: Options,
    own: OwnNames,
    pub(crate) counters: NameMap<f64, SharedArena>,
    pub(crate) gauges: NameMap<Gauge, SharedArena>,
    pub(crate) timers: NameMap<TimerValues, SharedArena>,
    pub(crate) sets: NameMap<NameMap<()>, SharedArena>,
    pub(crate) counts: IngestCounts,
    /// Everything ingested since start; never reset.
    pub(crate) totals: IngestCounts,
    pub(crate) last_flush: Option<u64>,
    /// Counters' and timers' counts since first seen.
    pub(crate) series_totals: SeriesTotals,
    /// Idle flushes per series, with `Options::series_ttl`.
    expiry: Option<Expiry>,
}

impl Aggregator {
    pub fn new(options: Options) -> Self {
        let prefix = &options.prefix_stats;
        let own = OwnNames {
            bad_lines: format!("{prefix}.bad_lines_seen").into_bytes(),
            packets: format!("{prefix}.packets_received").into_bytes(),
            lines: format!("{prefix}.metrics_received").into_bytes(),
            timestamp_lag: format!("{prefix}.timestamp_lag").into_bytes(),
        };
        let expiry = options.series_ttl.map(Expiry::new);
        let mut counters = NameMap::default();
        for name in [&own.bad_lines, &own.packets, &own.lines] {
            counters.get_or_insert_with(name, usize::MAX, || 0.0);
        }
        Self {
            options,
            own,
            counters,
            gauges: NameMap::default(),
            timers: NameMap::default(),
            sets: NameMap::default(),
            counts: IngestCounts::default(),
            totals: IngestCounts::default(),
            last_flush: None,
            series_totals: SeriesTotals::default(),
            expiry,
        }
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Moves everything `table` accumulated into the aggregate and empties
    /// the table (keeping its allocations for the next interval).
    pub fn absorb(&mut self, table: &mut Table) {
        let limit = self.options.table.max_series;
        // The server's own series (etsy's three counters, the
        // timestamp_lag gauge) never take a client's place.
        let counter_limit = limit.saturating_add(OWN_COUNTERS);
        let gauge_limit = limit.saturating_add(OWN_GAUGES);
        let max_members = self.options.table.max_set_members;
        let mut refused = 0;
        let mut refused_samples = 0;
        for (name, value) in table.counters.iter() {
            match self
                .counters
                .get_or_insert_with(name, counter_limit, || 0.0)
            {
                Some(total) if (*total + value).is_finite() => {
                    *total += value;
                    touch(&mut self.expiry, Kind::Counters, name);
                }
                Some(_) => refused_samples += 1,
                None => refused += 1,
            }
        }
        let ttl = self
            .options
            .deletion
            .gauges
            .then_some(self.options.gauges_max_ttl);
        // Gauges, timers and sets that got values stay in the table,
        // emptied but with their buffers, so the next interval fills them
        // without allocating; the idle ones are forgotten, which bounds the
        // table.
        table.gauges.retain(|name, change| {
            if change.is_empty() {
                return false;
            }
            touch(&mut self.expiry, Kind::Gauges, name);
            match self.gauges.get_mut(name) {
                Some(gauge) => {
                    *gauge = Gauge {
                        value: change.resolve(Some(gauge.value)),
                        ttl,
                    }
                }
                None => match self
                    .gauges
                    .get_or_insert_with(name, gauge_limit, || Gauge { value: 0.0, ttl })
                {
                    Some(gauge) => gauge.value = change.resolve(None),
                    None => refused += 1,
                },
            }
            change.clear();
            true
        });
        let exact_limit = self.options.table.timer_exact_limit;
        table.timers.retain(|name, values| {
            if values.is_empty() {
                return false;
            }
            match self
                .timers
                .get_or_insert_with(name, limit, TimerValues::default)
            {
                Some(timer) => {
                    timer.absorb(values, exact_limit);
                    touch(&mut self.expiry, Kind::Timers, name);
                }
                None => {
                    refused += 1;
                    values.clear();
                }
            }
            true
        });
        table.sets.retain(|name, members| {
            if members.is_empty() {
                return false;
            }
            match self.sets.get_or_insert_with(name, limit, NameMap::default) {
                Some(set) => {
                    touch(&mut self.expiry, Kind::Sets, name);
                    for (member, _) in members.iter() {
                        if set.get_or_insert_with(member, max_members, || ()).is_none() {
                            refused_samples += 1;
                        }
                    }
                }
                None => refused += 1,
            }
            members.clear();
            true
        });
        let counts = std::mem::take(&mut table.counts);
        self.count_ingest(&counts);
        for counts in [&mut self.counts, &mut self.totals] {
            counts.refused_series += refused;
            counts.refused_samples += refused_samples;
        }
        table.drained();
    }

    fn count_ingest(&mut self, counts: &IngestCounts) {
        self.counts.add(counts);
        self.totals.add(counts);
        for (name, n) in [
            // etsy's bad_lines_seen counts each bad value.
            (&self.own.bad_lines, counts.bad_values),
            (&self.own.packets, counts.packets),
            (&self.own.lines, counts.lines),
        ] {
            if let Some(total) = self.counters.get_or_insert_with(name, usize::MAX, || 0.0) {
                *total += n as f64;
            }
        }
    }

    /// Ends the interval at `timestamp` (unix seconds): reports it and
    /// resets the state for the next one.
    pub fn flush(&mut self, timestamp: u64) -> Snapshot {
        self.flush_after(timestamp, self.options.interval_ms)
    }

    /// [`Aggregator::flush`] for an interval that lasted `interval_ms`
    /// rather than the configured one (the last, cut short by a shutdown):
    /// per-second rates divide by the time that really passed.
    pub fn flush_after(&mut self, timestamp: u64, interval_ms: f64) -> Snapshot {
        if let Some(previous) = self.last_flush {
            let lag = timestamp as f64 - previous as f64 - interval_ms / 1000.0;
            if let Some(gauge) =
                self.gauges
                    .get_or_insert_with(&self.own.timestamp_lag, usize::MAX, || Gauge {
                        value: 0.0,
                        ttl: None,
                    })
            {
                gauge.value = lag;
            }
        }
        self.last_flush = Some(timestamp);
        let started = Instant::now();
        let snapshot = self.report(timestamp, interval_ms, started);
        self.reset();
        snapshot
    }

    fn report(&mut self, timestamp: u64, interval_ms: f64, started: Instant) -> Snapshot {
        let o = &self.options;
        let mut snapshot = Snapshot::new(timestamp, interval_ms, o.percentiles.clone());
        snapshot.counters = self.counters.share(|_, &mut count| count).into();
        let mut sketched = 0;
        snapshot.timers = (self.timers)
            .share(|name, values| {
                let bins = o
                    .histograms
                    .iter()
                    .find(|h| contains(name, h.metric.as_bytes()))
                    .map_or(&[][..], |h| &h.bins);
                let mut summary = summarize(values, &o.percentiles, bins, interval_ms);
                fill_buckets(&mut summary, values, &o.buckets);
                sketched += usize::from(summary.stats.as_ref().is_some_and(|s| s.sketched));
                summary
            })
            .into();
        let limit = o.table.max_series.saturating_add(OWN_COUNTERS);
        let ttl = (TOTALS_TTL_SECONDS * 1000.0 / o.interval_ms)
            .ceil()
            .max(1.0) as u64;
        let refused = (self.series_totals).add(&mut snapshot, o.buckets.len(), limit, ttl);
        self.counts.refused_series += refused;
        self.totals.refused_series += refused;
        snapshot.gauges = self.gauges.share(|_, gauge| gauge.value).into();
        snapshot.sets = self.sets.share(|_, members| members.len() as u64).into();
        snapshot.num_stats = snapshot.len();
        snapshot.processing_time_ms = started.elapsed().as_millis() as u64;
        let c = &self.counts;
        snapshot.own = vec![
            ("events_received", c.events as f64),
            ("service_checks_received", c.service_checks as f64),
            ("series_refused", c.refused_series as f64),
            ("samples_refused", c.refused_samples as f64),
            ("oversized_datagrams", c.oversized as f64),
            ("timers_sketched", sketched as f64),
        ];
        snapshot
    }

    fn reset(&mut self) {
        let deletion = self.options.deletion;
        if deletion.counters {
            // etsy keeps (and zeroes) any counter whose name contains one of
            // its own three counter names.
            let own = [
                &b"packets_received"[..],
                b"metrics_received",
                b"bad_lines_seen",
            ];
            self.counters
                .retain(|name, _| own.iter().any(|o| contains(name, o)));
        }
        self.counters.iter_mut().for_each(|(_, v)| *v = 0.0);
        if deletion.timers {
            self.timers.clear();
        } else {
            self.timers.iter_mut().for_each(|(_, t)| t.clear());
        }
        if deletion.sets {
            self.sets.clear();
        } else {
            // A set that got members keeps its buffers for the next
            // interval (re-growing a thousand small sets every flush cost
            // about one allocation per set line); an idle one gives them up.
            for (_, members) in self.sets.iter_mut() {
                if members.is_empty() {
                    *members = NameMap::default();
                } else {
                    members.clear();
                }
            }
        }
        if deletion.gauges {
            self.gauges.retain(|_, gauge| match &mut gauge.ttl {
                Some(ttl) => {
                    *ttl = ttl.saturating_sub(1);
                    *ttl >= 1
                }
                None => true,
            });
        }
        self.expire();
        self.counts = IngestCounts::default();
    }

    /// Removes the series idle for `Options::series_ttl`, with their
    /// totals.
    fn expire(&mut self) {
        let Some(expiry) = &mut self.expiry else {
            return;
        };
        let own = &self.own;
        let own_counter = |name: &[u8]| {
            [&own.bad_lines, &own.packets, &own.lines]
                .iter()
                .any(|o| o[..] == *name)
        };
        let own_gauge = |name: &[u8]| own.timestamp_lag[..] == *name;
        let none = |_: &[u8]| false;
        let expired = [
            (
                Kind::Counters,
                expiry.age(Kind::Counters, &mut self.counters, own_counter),
            ),
            (
                Kind::Gauges,
                expiry.age(Kind::Gauges, &mut self.gauges, own_gauge),
            ),
            (
                Kind::Timers,
                expiry.age(Kind::Timers, &mut self.timers, none),
            ),
            (Kind::Sets, expiry.age(Kind::Sets, &mut self.sets, none)),
        ];
        for (kind, names) in expired {
            for name in names {
                self.series_totals.remove(kind, &name);
            }
        }
    }

    /// Flushes made since the series' totals began (a restored checkpoint
    /// carries the count on): each flush's number, in order.
    pub fn flushes(&self) -> u64 {
        self.series_totals.flushes
    }

    /// What every absorbed table received since start.
    pub fn ingested(&self) -> IngestCounts {
        self.totals
    }

    /// Current counters, for the admin port.
    pub fn counters(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.counters.iter().map(|(k, v)| (k, *v))
    }

    /// Current gauges, for the admin port.
    pub fn gauges(&self) -> impl Iterator<Item = (&[u8], f64)> {
        self.gauges.iter().map(|(k, g)| (k, g.value))
    }

    /// Current timers and their values this interval, for the admin port.
    pub fn timers(&self) -> impl Iterator<Item = (&[u8], &TimerValues)> {
        self.timers.iter()
    }

    /// Current sets and their members this interval, for the admin port.
    pub fn sets(&self) -> impl Iterator<Item = (&[u8], Vec<&[u8]>)> {
        self.sets
            .iter()
            .map(|(k, members)| (k, members.iter().map(|(m, _)| m).collect()))
    }

    /// Names of `kind` that `pattern` selects, etsy's way: the exact name,
    /// plus, for a pattern ending in `.*`, every name starting with the
    /// pattern minus its `*`.
    pub fn matching(&self, kind: Kind, pattern: &[u8]) -> Vec<Vec<u8>> {
        let names: Vec<&[u8]> = match kind {
            Kind::Counters => self.counters.iter().map(|(k, _)| k).collect(),
            Kind::Gauges => self.gauges.iter().map(|(k, _)| k).collect(),
            Kind::Timers => self.timers.iter().map(|(k, _)| k).collect(),
            Kind::Sets => self.sets.iter().map(|(k, _)| k).collect(),
        };
        let mut found: Vec<Vec<u8>> = names
            .iter()
            .filter(|n| **n == pattern)
            .map(|n| n.to_vec())
            .collect();
        if let Some(folder) = pattern
            .strip_suffix(b"*")
            .filter(|_| pattern.ends_with(b".*"))
        {
            found.extend(
                names
                    .iter()
                    .filter(|n| n.starts_with(folder))
                    .map(|n| n.to_vec()),
            );
        }
        found
    }

    /// Deletes one series; returns whether it existed.
    pub fn delete(&mut self, kind: Kind, name: &[u8]) -> bool {
        self.series_totals.remove(kind, name);
        match kind {
            Kind::Counters => self.counters.remove(name),
            Kind::Gauges => self.gauges.remove(name),
            Kind::Timers => self.timers.remove(name),
            Kind::Sets => self.sets.remove(name),
        }
    }

    /// Puts back a gauge kept from before a restart, so the next flush
    /// reports it as etsy would have had it kept running; a gauge that
    /// already has a value, or one past `max_series`, is left alone.
    /// Returns whether the gauge was set.
    pub fn restore_gauge(&mut self, name: &[u8], value: f64) -> bool {
        if !value.is_finite() || self.gauges.get_mut(name).is_some() {
            return false;
        }
        let ttl = self
            .options
            .deletion
            .gauges
            .then_some(self.options.gauges_max_ttl);
        let limit = self.options.table.max_series.saturating_add(OWN_GAUGES);
        self.gauges
            .get_or_insert_with(name, limit, || Gauge { value, ttl })
            .is_some()
    }

    /// Series currently held, over all kinds.
    pub fn series(&self) -> usize {
        self.counters.len() + self.gauges.len() + self.timers.len() + self.sets.len()
    }
}

/// etsy's own counters the aggregator holds among the clients' (bad lines,
/// packets, metrics received).
const OWN_COUNTERS: usize = 3;
/// The own gauge among the clients' (`timestamp_lag`).
const OWN_GAUGES: usize = 1;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod early_drain;
#[cfg(test)]
mod tests;
