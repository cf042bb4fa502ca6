//! A snapshot as bytes, so a flush a sink could not deliver can wait on
//! disk (the sinks' disk queue) and be delivered after a restart with its
//! original timestamp.
//!
//! # Format (version 1)
//!
//! Fixed-size numbers are little-endian; `f64`s are stored as their bits,
//! so every value (NaN payloads included) comes back as it was. Counts,
//! lengths and indexes (`n` below) are LEB128 varints of at most 10 bytes,
//! in their shortest form.
//!
//! ```text
//! magic      "STKSNAP"            7 bytes
//! version    u8 = 1
//! timestamp  u64   interval_ms f64   num_stats u64   processing_time_ms u64
//! percentiles  n, n × f64 (each a valid percent threshold)
//! counters     n, n × (name, f64 count, f64 total since first seen)
//! timers       n, n × (name, count f64, count_ps f64,
//!                      buckets: n, n × f64,
//!                      since first seen: count f64, sum f64,
//!                        buckets: n, n × f64,
//!                      stats: u8 0 | 1 followed by
//!                        std, upper, lower, sum, sum_squares, mean,
//!                        median (7 × f64), sketched u8 0 | 1,
//!                        thresholds: n, n × (percentile index n,
//!                          count, mean, bound, sum, sum_squares f64),
//!                        histogram: n, n × (label, f64))
//! gauges       n, n × (name, f64)
//! sets         n, n × (name, u64)
//! own          n, n × (label, f64)
//! label:       n, n bytes of UTF-8
//! name:        shared n, n, n bytes: the first `shared` bytes of the
//!              previous name of its kind (as many as the two have in
//!              common, at most 255), then the bytes given
//! ```
//!
//! Series names come in insertion order, where neighbours mostly share a
//! long prefix (`app.requests.c1`, `app.requests.c2`): sharing it saves
//! about a third of a flush's bytes, and so a third of the disk queue a
//! backend outage fills. The cap on a shared prefix keeps decoding linear
//! in its input (a name is at most 255 bytes longer than its encoding).
//!
//! Nothing may follow. Decoding checks every length against the bytes
//! left before it allocates, so its work and memory are bounded by the
//! input's size, and it never panics; what it accepts re-encodes to the
//! same bytes. Beyond the layout it checks what sinks rely on: thresholds
//! name a percentile that exists, series names are unique per kind (as
//! the aggregator's maps make them), and own metrics are ones this build
//! knows ([`OWN_NAMES`]): a snapshot holds those names as `&'static str`.
//!
//! A new field means a new version; a decoder refuses versions it does not
//! know rather than guess.

use std::sync::Arc;

use super::{Series, Snapshot};
use crate::names::{NameMap, SharedArena};
use crate::summary::{Percentile, Threshold, TimerStats, TimerSummary};
use crate::totals::Cumulative;

const MAGIC: &[u8; 7] = b"STKSNAP";
const VERSION: u8 = 1;
/// The longest prefix a name shares with the previous one.
const MAX_SHARED: usize = 255;

/// The own metrics a snapshot may carry (`Snapshot::own`), by the name it
/// is stored under. Decoding maps a stored name back to its entry here, so
/// a metric added anywhere in the server must be added here too (a test
/// checks the aggregator's). Removing a name makes queued snapshots that
/// carry it undecodable: keep old names.
pub const OWN_NAMES: &[&str] = &[
    // The aggregator's (`Aggregator::flush`).
    "events_received",
    "service_checks_received",
    "series_refused",
    "samples_refused",
    "oversized_datagrams",
    "timers_sketched",
    // The server's flusher.
    "udp_kernel_drops",
    "tcp_connections_refused",
    "stats_files_refused",
];

/// Why bytes are not a snapshot.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a statkit snapshot (bad magic)")]
    Magic,
    #[error("snapshot format version {0} is not supported (this build reads version {VERSION})")]
    Version(u8),
    #[error("snapshot truncated while reading {0}")]
    Truncated(&'static str),
    #[error("{0} bytes follow the end of the snapshot")]
    Trailing(usize),
    #[error("{what} claims {count} entries, more than the {left} bytes left could hold")]
    Count {
        what: &'static str,
        count: u64,
        left: usize,
    },
    #[error("invalid byte {value} for the flag {what}")]
    Flag { what: &'static str, value: u8 },
    #[error("percent threshold {0} is not valid")]
    Percentile(f64),
    #[error("threshold refers to percentile {index} of {len}")]
    ThresholdIndex { index: u64, len: usize },
    #[error("{0} is not UTF-8")]
    Utf8(&'static str),
    #[error("own metric {0:?} is not one this build knows")]
    UnknownOwn(String),
    #[error("{kind} series {name:?} appears twice")]
    Duplicate { kind: &'static str, name: String },
    #[error("{0} does not fit this platform's usize")]
    Size(&'static str),
    #[error("{0} is not in its shortest form")]
    NotCanonical(&'static str),
}

impl Snapshot {
    /// Appends the snapshot's bytes (format above) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.0.extend_from_slice(MAGIC);
        w.0.push(VERSION);
        w.u64(self.timestamp);
        w.f64(self.interval_ms);
        w.u64(self.num_stats as u64);
        w.u64(self.processing_time_ms);
        w.len(self.percentiles.len());
        for p in self.percentiles.iter() {
            w.f64(p.pct());
        }
        let mut totals = self.counters().map(|(_, c)| c.total);
        w.series(&self.counters, |w, v| {
            w.f64(*v);
            w.f64(totals.next().unwrap_or(*v));
        });
        w.series(&self.timers, Writer::timer);
        w.series(&self.gauges, |w, v| w.f64(*v));
        w.series(&self.sets, |w, v| w.u64(*v));
        w.len(self.own.len());
        for (name, value) in &self.own {
            w.bytes(name.as_bytes());
            w.f64(*value);
        }
    }

    /// The snapshot `bytes` hold, as [`Snapshot::encode`] wrote it.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len(), "the magic")? != MAGIC {
            return Err(SnapshotError::Magic);
        }
        let version = r.u8("the version")?;
        if version != VERSION {
            return Err(SnapshotError::Version(version));
        }
        let timestamp = r.u64("the timestamp")?;
        let interval_ms = r.f64("the interval")?;
        let num_stats = r.usize("num_stats")?;
        let processing_time_ms = r.u64("the processing time")?;
        let n = r.count("percentiles", 8)?;
        let percentiles = (0..n)
            .map(|_| {
                let pct = r.f64("a percentile")?;
                Percentile::new(pct).map_err(|_| SnapshotError::Percentile(pct))
            })
            .collect::<Result<Arc<[Percentile]>, _>>()?;
        let mut counter_totals = Vec::new();
        let counters = r.series("counter", 16, |r| {
            let count = r.f64("a counter")?;
            counter_totals.push(r.f64("a counter's total")?);
            Ok(count)
        })?;
        let timers = r.series("timer", TIMER_MIN, |r| r.timer(percentiles.len()))?;
        let gauges = r.series("gauge", 8, |r| r.f64("a gauge"))?;
        let sets = r.series("set", 8, |r| r.u64("a set"))?;
        let n = r.count("own metrics", 1 + 8)?;
        let own = (0..n)
            .map(|_| {
                let name = r.str("an own metric's name")?;
                let known = OWN_NAMES.iter().find(|known| **known == name);
                let name = *known.ok_or_else(|| SnapshotError::UnknownOwn(name.to_owned()))?;
                Ok((name, r.f64("an own metric")?))
            })
            .collect::<Result<_, SnapshotError>>()?;
        if !r.0.is_empty() {
            return Err(SnapshotError::Trailing(r.0.len()));
        }
        Ok(Snapshot {
            timestamp,
            interval_ms,
            percentiles,
            counters,
            counter_totals,
            timers,
            gauges,
            sets,
            num_stats,
            processing_time_ms,
            own,
        })
    }
}

/// The fewest bytes a timer's value takes: count, count_ps, an empty
/// bucket list, the cumulative count and sum and an empty bucket list, and
/// the "no stats" flag.
const TIMER_MIN: usize = 8 + 8 + 1 + 8 + 8 + 1 + 1;
/// The fewest bytes a threshold takes.
const THRESHOLD_BYTES: usize = 1 + 5 * 8;

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn f64s(&mut self, values: &[f64]) {
        self.len(values.len());
        values.iter().for_each(|&v| self.f64(v));
    }

    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    /// A count, length or index as a LEB128 varint.
    fn len(&mut self, n: usize) {
        let mut n = n as u64;
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }

    fn series<T>(&mut self, series: &Series<T>, mut value: impl FnMut(&mut Self, &T)) {
        self.len(series.len());
        let mut previous: &[u8] = &[];
        for (name, v) in series.iter() {
            let shared = (previous.iter().zip(name))
                .take(MAX_SHARED)
                .take_while(|(a, b)| a == b)
                .count();
            self.len(shared);
            self.bytes(&name[shared..]);
            value(self, v);
            previous = name;
        }
    }

    fn timer(&mut self, t: &TimerSummary) {
        self.f64(t.count);
        self.f64(t.count_ps);
        self.f64s(&t.buckets);
        self.f64(t.cumulative.count);
        self.f64(t.cumulative.sum);
        self.f64s(&t.cumulative.buckets);
        let Some(s) = &t.stats else {
            self.0.push(0);
            return;
        };
        self.0.push(1);
        for v in [s.std, s.upper, s.lower, s.sum, s.sum_squares, s.mean] {
            self.f64(v);
        }
        self.f64(s.median);
        self.0.push(u8::from(s.sketched));
        self.len(s.thresholds.len());
        for th in &s.thresholds {
            self.len(th.percentile);
            for v in [th.count, th.mean, th.bound, th.sum, th.sum_squares] {
                self.f64(v);
            }
        }
        self.len(s.histogram.len());
        for (label, v) in &s.histogram {
            self.bytes(label.as_bytes());
            self.f64(*v);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        if n > self.0.len() {
            return Err(SnapshotError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A LEB128 varint: at most 10 bytes, no bits past 64, shortest form.
    fn varint(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        let mut n = 0u64;
        for i in 0..10 {
            let byte = self.u8(what)?;
            let bits = u64::from(byte & 0x7f);
            if (i == 9 && byte > 1) || (i > 0 && byte == 0) {
                // Past 64 bits, or a zero last byte a shorter form omits.
                return Err(SnapshotError::NotCanonical(what));
            }
            n |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(SnapshotError::NotCanonical(what))
    }

    fn f64s(&mut self, what: &'static str) -> Result<Vec<f64>, SnapshotError> {
        let n = self.count(what, 8)?;
        (0..n).map(|_| self.f64(what)).collect()
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, SnapshotError> {
        self.u64(what).map(f64::from_bits)
    }

    fn usize(&mut self, what: &'static str) -> Result<usize, SnapshotError> {
        usize::try_from(self.u64(what)?).map_err(|_| SnapshotError::Size(what))
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, SnapshotError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(SnapshotError::Flag { what, value }),
        }
    }

    /// A count of entries of at least `min` bytes each, refused when the
    /// bytes left could not hold them: what bounds every allocation.
    fn count(&mut self, what: &'static str, min: usize) -> Result<usize, SnapshotError> {
        let count = self.varint(what)?;
        match usize::try_from(count) {
            Ok(n) if n.checked_mul(min).is_some_and(|need| need <= self.0.len()) => Ok(n),
            _ => Err(SnapshotError::Count {
                what,
                count,
                left: self.0.len(),
            }),
        }
    }

    fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], SnapshotError> {
        let n = self.count(what, 1)?;
        self.take(n, what)
    }

    fn str(&mut self, what: &'static str) -> Result<&'a str, SnapshotError> {
        std::str::from_utf8(self.bytes(what)?).map_err(|_| SnapshotError::Utf8(what))
    }

    /// A series of `kind`, its names unique, each value `min` bytes or more.
    fn series<T>(
        &mut self,
        kind: &'static str,
        min: usize,
        mut value: impl FnMut(&mut Self) -> Result<T, SnapshotError>,
    ) -> Result<Series<T>, SnapshotError> {
        let n = self.count(kind, 2 + min)?;
        let mut map = NameMap::<Option<T>, SharedArena>::default();
        let mut name = Vec::new();
        for _ in 0..n {
            let shared = self.varint(kind)?;
            let suffix = self.bytes(kind)?;
            let shared = usize::try_from(shared)
                .ok()
                .filter(|&s| s <= name.len().min(MAX_SHARED))
                .ok_or(SnapshotError::NotCanonical("a name's shared prefix"))?;
            // The encoder shares all it can: one more byte in common would
            // be another encoding of the same name.
            if shared < name.len().min(MAX_SHARED) && suffix.first() == name.get(shared) {
                return Err(SnapshotError::NotCanonical("a name's shared prefix"));
            }
            name.truncate(shared);
            name.extend_from_slice(suffix);
            let value = value(self)?;
            match map.get_or_insert_with(&name, usize::MAX, || None) {
                // A new name: its slot is still empty.
                Some(slot @ None) => *slot = Some(value),
                Some(Some(_)) => {
                    return Err(SnapshotError::Duplicate {
                        kind,
                        name: String::from_utf8_lossy(&name).into_owned(),
                    })
                }
                None => return Err(SnapshotError::Size("a series' names")),
            }
        }
        let (names, values) = map.share(|_, v| v.take());
        // Every slot was filled above.
        Ok(Series::from((
            names,
            values.into_iter().flatten().collect(),
        )))
    }

    fn timer(&mut self, percentiles: usize) -> Result<TimerSummary, SnapshotError> {
        let count = self.f64("a timer's count")?;
        let count_ps = self.f64("a timer's count_ps")?;
        let buckets = self.f64s("a timer's buckets")?;
        let cumulative = Cumulative {
            count: self.f64("a timer's count since first seen")?,
            sum: self.f64("a timer's sum since first seen")?,
            buckets: self.f64s("a timer's buckets since first seen")?,
        };
        let stats = if self.flag("a timer's stats")? {
            Some(self.timer_stats(percentiles)?)
        } else {
            None
        };
        Ok(TimerSummary {
            count,
            count_ps,
            stats,
            buckets,
            cumulative,
        })
    }

    fn timer_stats(&mut self, percentiles: usize) -> Result<TimerStats, SnapshotError> {
        let mut v = [0.0; 7];
        for slot in &mut v {
            *slot = self.f64("a timer's statistics")?;
        }
        let [std, upper, lower, sum, sum_squares, mean, median] = v;
        let sketched = self.flag("a timer's sketched flag")?;
        let n = self.count("a timer's thresholds", THRESHOLD_BYTES)?;
        let thresholds = (0..n)
            .map(|_| {
                let index = self.varint("a threshold")?;
                let percentile = usize::try_from(index)
                    .ok()
                    .filter(|&i| i < percentiles)
                    .ok_or(SnapshotError::ThresholdIndex {
                        index,
                        len: percentiles,
                    })?;
                let mut v = [0.0; 5];
                for slot in &mut v {
                    *slot = self.f64("a threshold")?;
                }
                let [count, mean, bound, sum, sum_squares] = v;
                Ok(Threshold {
                    percentile,
                    count,
                    mean,
                    bound,
                    sum,
                    sum_squares,
                })
            })
            .collect::<Result<_, SnapshotError>>()?;
        let n = self.count("a timer's histogram", 1 + 8)?;
        let histogram = (0..n)
            .map(|_| Ok((self.str("a bin label")?.to_owned(), self.f64("a bin")?)))
            .collect::<Result<_, SnapshotError>>()?;
        Ok(TimerStats {
            thresholds,
            std,
            upper,
            lower,
            sum,
            sum_squares,
            mean,
            median,
            histogram,
            sketched,
        })
    }
}

#[cfg(test)]
mod tests;
