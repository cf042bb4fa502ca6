//! The series a flush exports to a time-series database, named as
//! `/metrics` names them: what the remote-write, OTLP and InfluxDB
//! encoders have in common.
//!
//! - A counter is its count since first seen, under `<name>` (the encoders
//!   add `_total` where the format wants it).
//! - A gauge is its value; a set the number of members the interval saw.
//!   Sets do not merge across hosts or intervals (the same member seen by
//!   two hosts counts on both): their gauge is a per-host, per-interval
//!   cardinality, no more.
//! - A timer is a histogram in milliseconds: values at most each bound of
//!   `--prometheus-bucket` (cumulative over bounds), their count and sum,
//!   all since first seen, so that histograms from many hosts with the
//!   same bounds add up.
//!
//! Labels are the key's tags and the host's labels
//! ([`HostLabels`]), sorted by name. Two keys that give the same name and
//! labels, or one name used by two kinds, would make one series out of
//! two: as on `/metrics`, the first in name order is kept and the others
//! are counted in [`Export::clashes`].

use statkit_agg::{Snapshot, TimerSummary};
use statkit_store::{split_key, Kind};

use crate::labels::{add_host, HostLabels};
use crate::prometheus::{metric_name, tag_pairs};

/// A series' value in one flush.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'s> {
    /// A counter's count since first seen.
    Counter(f64),
    /// A gauge's value, or a set's members in the interval.
    Gauge(f64),
    /// A timer's values since first seen: `buckets[i]` counts those at
    /// most bound `i` (empty when the snapshot has no bounds).
    Histogram {
        count: f64,
        sum: f64,
        buckets: &'s [f64],
    },
}

/// One exported series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series<'s> {
    /// The metric name, without a suffix (`_total`, `_bucket`).
    pub name: String,
    /// Sorted by name; names are valid Prometheus label names.
    pub labels: Vec<(String, String)>,
    pub kind: Kind,
    pub value: Value<'s>,
}

/// A flush's series, ready to encode.
#[derive(Clone, Debug, PartialEq)]
pub struct Export<'s> {
    /// Sorted by name, then kind, then labels.
    pub series: Vec<Series<'s>>,
    /// Series left out for a name and labels another series has.
    pub clashes: usize,
    /// The timers' bucket bounds (what `buckets` refer to).
    pub bounds: &'s [f64],
    /// The flush time in Unix milliseconds, every sample's timestamp.
    pub timestamp_ms: i64,
}

impl<'s> Export<'s> {
    /// The series of `snapshot` with the `host` labels, for timers with
    /// bucket `bounds` (those the snapshot's buckets were counted for).
    pub fn new(snapshot: &'s Snapshot, bounds: &'s [f64], host: &HostLabels) -> Self {
        let mut all: Vec<(Series<'s>, &'s [u8])> = Vec::with_capacity(snapshot.len());
        let mut add = |kind: Kind, key: &'s [u8], value: Value<'s>| {
            let (name, tags) = split_key(key);
            let mut pairs = tag_pairs(tags, (kind == Kind::Timer).then_some("le"));
            add_host(&mut pairs, host);
            let mut labels: Vec<(String, String)> = pairs
                .into_iter()
                .map(|(n, v)| (n, v.into_owned()))
                .collect();
            labels.sort();
            let name_of = metric_name(name);
            all.push((
                Series {
                    name: name_of,
                    labels,
                    kind,
                    value,
                },
                name,
            ));
        };
        for (key, c) in snapshot.counters() {
            add(Kind::Counter, key, Value::Counter(c.total));
        }
        for (key, g) in snapshot.gauges() {
            add(Kind::Gauge, key, Value::Gauge(g));
        }
        for (key, members) in snapshot.sets() {
            add(Kind::Set, key, Value::Gauge(members as f64));
        }
        for (key, t) in snapshot.timers() {
            add(Kind::Timer, key, histogram(t, bounds.len()));
        }
        all.sort_unstable_by(|(a, a_raw), (b, b_raw)| {
            (&a.name, a.kind, &a.labels, a_raw).cmp(&(&b.name, b.kind, &b.labels, b_raw))
        });
        let before = all.len();
        let mut series: Vec<Series<'s>> = Vec::with_capacity(before);
        for (s, _) in all {
            let clash = series
                .last()
                .is_some_and(|p| p.name == s.name && (p.kind != s.kind || p.labels == s.labels));
            if !clash {
                series.push(s);
            }
        }
        Export {
            clashes: before - series.len(),
            series,
            bounds,
            timestamp_ms: i64::try_from(snapshot.timestamp)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
        }
    }
}

/// A timer's histogram since first seen; buckets counted for other
/// bounds than the ones given are left out rather than mislabelled.
fn histogram(t: &TimerSummary, bounds: usize) -> Value<'_> {
    let c = &t.cumulative;
    let buckets = if c.buckets.len() == bounds {
        &c.buckets[..]
    } else {
        &[]
    };
    Value::Histogram {
        count: c.count,
        sum: c.sum,
        buckets,
    }
}

#[cfg(test)]
pub(crate) mod tests;
