//! Stats files as statsd samples, so `statkit serve` aggregates them like
//! anything else it receives and every sink sees them. The feed gives
//! [`Reading`]s (a counter's change or a gauge's value, named as a statsd
//! key with DogStatsD tags); the server records them into a table
//! directly, without printing and parsing them.
//!
//! Every scan, for each process' file (key prefix `shm.<file stem>.`) and
//! for the host totals over all files, retired totals included (prefix
//! `shm.host.`):
//!
//! - a counter becomes a statsd counter of its change since the last scan
//!   (the first scan only takes a baseline; a value that went down, as when
//!   a file disappears without `statkit clean`, is a new baseline);
//! - a histogram becomes the counter `<name>.count` (its change) and, when
//!   values arrived, gauges `<name>.p50`, `.p90`, `.p99` and `.max` computed
//!   from the buckets that changed since the last scan;
//! - gauges, moving averages, an average's mean, mmstats numbers and
//!   booleans (0 or 1) become gauges; text is left out.
//!
//! statvent pipes go the same way under `pipe.<pid>.` and, merged as
//! `statkit_pipe::merge` merges them, `pipe.host.`: whole numbers at least 0
//! as counters (their change), the rest and `record()`'s percentiles and
//! means as gauges.
//!
//! Tags (`name{k=v}`) become DogStatsD tags (`k:v`). The memory of last
//! values is bounded (`max_series`); series past it are skipped and counted.

use std::collections::HashMap;
use std::path::Path;

use statkit_format::histogram::BUCKETS;
use statkit_format::{Histogram, StatFile, Value};

use statkit_pipe::read::Process;
use statkit_pipe::Value as PipeValue;

use crate::Totals;

/// How a reading aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A change to add up over the flush interval.
    Counter,
    /// A value that stands until the next.
    Gauge,
}

/// One value of one scan, as a statsd sample would carry it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The statsd key, without tags.
    pub name: String,
    /// DogStatsD tags, comma-separated (`k:v,k2:v2`), or empty.
    pub tags: String,
    pub kind: Kind,
    pub value: f64,
}

/// What a series looked like at the last scan.
#[derive(Debug, Clone)]
enum Last {
    Count(u64),
    Buckets(u64, Vec<u64>),
}

/// Turns scans of the stats folder into statsd lines.
#[derive(Debug)]
pub struct Feed {
    last: HashMap<String, Last>,
    seen: HashMap<String, Last>,
    max_series: usize,
    first: bool,
    /// Series skipped because `max_series` were already kept.
    pub skipped: u64,
}

impl Feed {
    /// A feed remembering at most `max_series` counters and histograms.
    pub fn new(max_series: usize) -> Feed {
        Feed {
            last: HashMap::new(),
            seen: HashMap::new(),
            max_series,
            first: true,
            skipped: 0,
        }
    }

    /// Appends to `out` the readings of one scan of `files` and statvent
    /// `pipes`.
    pub fn scan<'a>(
        &mut self,
        files: impl IntoIterator<Item = (&'a Path, &'a StatFile)>,
        pipes: &[Process],
        out: &mut Vec<Reading>,
    ) {
        let text = out;
        let mut totals = Totals::default();
        for (path, file) in files {
            totals.add(file);
            let retired = file.identity.as_ref().is_some_and(|i| i.retired);
            if retired {
                continue;
            }
            let prefix = file_prefix(path);
            for stat in &file.stats {
                self.stat(&prefix, &stat.label, &stat.value, text);
            }
        }
        for stat in totals.stats() {
            self.stat(HOST_PREFIX, &stat.label, &stat.value, text);
        }
        for pipe in pipes {
            self.pipe(&format!("pipe.{}.", pipe.pid), &pipe.stats, text);
        }
        if !pipes.is_empty() {
            let merged: Vec<_> = statkit_pipe::merge(pipes).into_iter().collect();
            self.pipe("pipe.host.", &merged, text);
        }
        // Series not seen in this scan are forgotten.
        self.last = std::mem::take(&mut self.seen);
        self.first = false;
    }

    fn stat(&mut self, prefix: &str, label: &str, value: &Value, out: &mut Vec<Reading>) {
        let (name, tags) = split_label(label);
        let key = format!("{prefix}{}", clean(name));
        match value {
            Value::Counter(now) => {
                if let Some(delta) = self.counter_delta(&format!("{key}|{tags}"), *now) {
                    push(out, key, &tags, Kind::Counter, delta as f64);
                }
            }
            Value::Histogram(h) => self.histogram(&key, &tags, h, out),
            Value::Text(_) => {}
            other => {
                if let Some(x) = crate::number(other).filter(|x| x.is_finite()) {
                    push(out, key, &tags, Kind::Gauge, x);
                }
            }
        }
    }

    /// One pipe's (or the merged pipes') values. A pipe does not say what
    /// a value is: a whole number of `record()`'s percentile family is a
    /// gauge, any other whole number at least 0 a counter (statvent's
    /// `incr`), anything else a gauge.
    fn pipe(&mut self, prefix: &str, stats: &[(String, PipeValue)], out: &mut Vec<Reading>) {
        let roles = statkit_pipe::merge::roles_of(stats);
        for (name, value) in stats {
            let summed = !roles.contains_key(name.as_str());
            let value = match *value {
                PipeValue::Int(i) if summed && i >= 0 => Value::Counter(i as u64),
                other => Value::Gauge(other.as_f64()),
            };
            self.stat(prefix, name, &value, out);
        }
    }

    /// The change of a counter since the last scan, remembering `now`.
    fn counter_delta(&mut self, series: &str, now: u64) -> Option<u64> {
        let before = match self.last.get(series) {
            Some(Last::Count(n)) => Some(*n),
            _ => None,
        };
        if !self.remember(series, Last::Count(now)) {
            return None;
        }
        match before {
            Some(before) if now >= before => Some(now - before).filter(|&d| d > 0),
            Some(_) => None,
            None if self.first => None,
            None => Some(now).filter(|&n| n > 0),
        }
    }

    fn histogram(&mut self, key: &str, tags: &str, h: &Histogram, out: &mut Vec<Reading>) {
        let series = format!("{key}|{tags}");
        let (before_count, before) = match self.last.get(&series) {
            Some(Last::Buckets(count, buckets)) => (Some(*count), Some(buckets.clone())),
            _ => (None, None),
        };
        if !self.remember(&series, Last::Buckets(h.count, h.buckets.clone())) {
            return;
        }
        let delta = match before_count {
            Some(count) if h.count >= count => h.count - count,
            Some(_) => return,
            None if self.first => return,
            None => h.count,
        };
        if delta == 0 {
            return;
        }
        push(
            out,
            format!("{key}.count"),
            tags,
            Kind::Counter,
            delta as f64,
        );
        let mut interval = Histogram {
            count: delta,
            sum: 0.0,
            min: h.min,
            max: h.max,
            buckets: vec![0; BUCKETS],
        };
        for (index, slot) in interval.buckets.iter_mut().enumerate() {
            let was = before
                .as_ref()
                .and_then(|b| b.get(index))
                .copied()
                .unwrap_or(0);
            *slot = h
                .buckets
                .get(index)
                .copied()
                .unwrap_or(0)
                .saturating_sub(was);
        }
        for (name, q) in HISTOGRAM_GAUGES {
            if let Some(x) = interval.quantile(q).filter(|x| x.is_finite()) {
                push(out, format!("{key}.{name}"), tags, Kind::Gauge, x);
            }
        }
    }

    /// Keeps `last` for the next scan, unless the memory is full.
    fn remember(&mut self, series: &str, last: Last) -> bool {
        if self.seen.len() >= self.max_series && !self.seen.contains_key(series) {
            self.skipped += 1;
            return false;
        }
        self.seen.insert(series.to_owned(), last);
        true
    }
}

/// The gauges a histogram gives each scan values arrived, by key suffix,
/// and the quantile each is.
pub(crate) const HISTOGRAM_GAUGES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)];

/// The key prefix of the host totals over every file.
pub(crate) const HOST_PREFIX: &str = "shm.host.";

/// The key prefix of a process' file: `shm.<file stem>.`.
pub(crate) fn file_prefix(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    format!("shm.{}.", clean(&stem))
}

/// `name{k=v,k2=v2}` as the name and DogStatsD tags `k:v,k2:v2`.
fn split_label(label: &str) -> (&str, String) {
    match label.split_once('{') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}').unwrap_or(rest);
            let tags: Vec<String> = inner
                .split(',')
                .filter(|t| !t.is_empty())
                .map(|tag| match tag.split_once('=') {
                    Some((key, value)) => format!("{}:{}", clean(key), clean(value)),
                    None => clean(tag),
                })
                .collect();
            (name, tags.join(","))
        }
        None => (label, String::new()),
    }
}

/// A name or tag with the bytes statsd gives meaning to replaced by `_`.
pub(crate) fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ':' | '|' | '@' | '#' | ',' | '\n' | '\r' | ' ' => '_',
            c => c,
        })
        .collect()
}

fn push(out: &mut Vec<Reading>, name: String, tags: &str, kind: Kind, value: f64) {
    out.push(Reading {
        name,
        tags: tags.to_owned(),
        kind,
        value,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use statkit_format::{Format, Identity, Stat};

    fn file(retired: bool, stats: Vec<(&str, Value)>) -> StatFile {
        StatFile {
            format: Format::Statkit,
            pid: Some(7),
            identity: Some(Identity {
                pid: 7,
                start_time: 1,
                created_ns: 0,
                program: "web".into(),
                retired,
                piped: false,
            }),
            descriptions: Vec::new(),
            stats: stats
                .into_iter()
                .map(|(l, value)| Stat {
                    label: l.into(),
                    value,
                })
                .collect(),
        }
    }

    /// Readings as the statsd lines that would carry them.
    fn text(readings: &[Reading]) -> String {
        readings
            .iter()
            .map(|r| {
                let (value, kind) = match r.kind {
                    Kind::Counter => ((r.value as u64).to_string(), "c"),
                    Kind::Gauge => (format!("{:?}", r.value), "g"),
                };
                let tags = if r.tags.is_empty() {
                    String::new()
                } else {
                    format!("|#{}", r.tags)
                };
                format!("{}:{value}|{kind}{tags}\n", r.name)
            })
            .collect()
    }

    fn scan(feed: &mut Feed, files: &[(&str, StatFile)]) -> String {
        let mut out = Vec::new();
        feed.scan(files.iter().map(|(p, f)| (Path::new(*p), f)), &[], &mut out);
        text(&out)
    }

    #[test]
    fn counters_become_their_changes_after_a_baseline() {
        let mut feed = Feed::new(100);
        let at = |n| {
            file(
                false,
                vec![
                    ("req{code=200}", Value::Counter(n)),
                    ("q", Value::Gauge(-2.5)),
                ],
            )
        };
        let first = scan(&mut feed, &[("/d/web-7.statkit", at(10))]);
        assert_eq!(first, "shm.web-7.q:-2.5|g\nshm.host.q:-2.5|g\n");
        let second = scan(&mut feed, &[("/d/web-7.statkit", at(15))]);
        assert!(second.contains("shm.web-7.req:5|c|#code:200\n"), "{second}");
        assert!(second.contains("shm.host.req:5|c|#code:200\n"), "{second}");
    }

    #[test]
    fn pipes_feed_counters_gauges_and_percentiles() {
        use statkit_pipe::read::Process;
        use statkit_pipe::Value as V;
        let pipe = |pid: u32, requests: i64, median: i64| Process {
            pid,
            path: format!("/p/{pid}.stats").into(),
            stats: ["median", "95th", "99th", "100th", "mean"]
                .iter()
                .map(|l| (format!("lat.{l}"), V::Int(median)))
                .chain([
                    ("requests".to_owned(), V::Int(requests)),
                    ("load".to_owned(), V::Float(0.5)),
                ])
                .collect(),
            malformed: vec![],
        };
        let mut feed = Feed::new(100);
        let mut out = Vec::new();
        feed.scan([], &[pipe(7, 10, 5), pipe(8, 1, 100)], &mut out);
        let first = text(&std::mem::take(&mut out));
        assert!(!first.contains("|c"), "a baseline: {first}");
        assert!(first.contains("pipe.7.lat.median:5.0|g\n"), "{first}");
        assert!(first.contains("pipe.host.lat.median:100.0|g\n"), "{first}");
        assert!(first.contains("pipe.host.load:1.0|g\n"), "{first}");
        feed.scan([], &[pipe(7, 13, 5), pipe(8, 2, 100)], &mut out);
        let second = text(&out);
        assert!(second.contains("pipe.7.requests:3|c\n"), "{second}");
        assert!(second.contains("pipe.8.requests:1|c\n"), "{second}");
        assert!(second.contains("pipe.host.requests:4|c\n"), "{second}");
    }

    #[test]
    fn histograms_report_the_interval_s_values() {
        let mut feed = Feed::new(100);
        let mut h = Histogram::default();
        h.record(1.0);
        scan(
            &mut feed,
            &[(
                "/d/a.statkit",
                file(false, vec![("lat", Value::Histogram(h.clone()))]),
            )],
        );
        (0..9).for_each(|_| h.record(100.0));
        let out = scan(
            &mut feed,
            &[(
                "/d/a.statkit",
                file(false, vec![("lat", Value::Histogram(h))]),
            )],
        );
        assert!(out.contains("shm.a.lat.count:9|c\n"), "{out}");
        let p50 = out
            .lines()
            .find(|l| l.starts_with("shm.a.lat.p50:"))
            .unwrap();
        let value: f64 = p50["shm.a.lat.p50:".len()..p50.len() - 2].parse().unwrap();
        assert!((value - 100.0).abs() <= 100.0 / 16.0, "{out}");
    }

    #[test]
    fn retired_totals_count_for_the_host_only_and_memory_is_bounded() {
        let mut feed = Feed::new(1);
        let files = [(
            "/d/web.retired.statkit",
            file(
                true,
                vec![("a", Value::Counter(1)), ("b", Value::Counter(1))],
            ),
        )];
        let out = scan(&mut feed, &files);
        assert!(!out.contains("retired"));
        assert_eq!(feed.skipped, 1);
    }

    #[test]
    fn statsd_bytes_in_names_are_replaced() {
        assert_eq!(split_label("a{k=v:w,x=1}"), ("a", "k:v_w,x:1".to_owned()));
        assert_eq!(clean("a:b|c d"), "a_b_c_d");
    }
}
