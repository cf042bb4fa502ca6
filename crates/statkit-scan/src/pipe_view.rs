//! A stats file's values as a statvent pipe would carry them, so `GET
//! /stats` sums stats files and pipes into one host-wide answer.

use std::collections::BTreeSet;

use statkit_format::{StatFile, Value};
use statkit_pipe::family::{family, PERCENTS};
use statkit_pipe::Value as PipeValue;

/// Counters and integers as integers, gauges, floats and an average's mean
/// as floats, booleans as 0 or 1, a histogram as statvent's percentile
/// family (from its buckets, over every value) with its count; text and
/// empty averages are left out. Labels are kept as they are.
pub fn as_pipe(file: &StatFile) -> Vec<(String, PipeValue)> {
    let mut out = Vec::with_capacity(file.stats.len());
    for stat in &file.stats {
        let label = stat.label.clone();
        let value = match &stat.value {
            Value::Counter(n) | Value::Unsigned(n) => PipeValue::count(*n),
            Value::Signed(n) => PipeValue::Int(*n),
            Value::Bool(b) => PipeValue::Int(i64::from(*b)),
            Value::Gauge(x) | Value::Float(x) | Value::MovingAverage(x) => PipeValue::Float(*x),
            Value::Average { count: 0, .. } | Value::Text(_) => continue,
            Value::Average { count, sum } => PipeValue::Float(sum / *count as f64),
            Value::Histogram(h) => {
                family(
                    &label,
                    PERCENTS.map(|p| h.pick(p)),
                    h.mean(),
                    h.count,
                    &mut out,
                );
                continue;
            }
        };
        out.push((label, value));
    }
    out
}

/// The pids of the live processes whose stats file says its registry is
/// also published on their statvent pipe (`statkit::shm` and
/// `statkit::pipe::start()` on one registry: the file's `piped` flag). Such
/// a pipe carries the file's values again: readers that sum files and pipes
/// count them once, from the file, by leaving these pids' pipes out. A
/// process's other pipe-only registry is not flagged and still counts.
pub fn published_pids<'a>(files: impl IntoIterator<Item = &'a StatFile>) -> BTreeSet<u32> {
    files
        .into_iter()
        .filter(|file| file.identity.as_ref().is_some_and(|i| i.piped))
        .filter(|file| crate::liveness(file) == crate::Liveness::Alive)
        .filter_map(|file| file.pid)
        .collect()
}

#[cfg(test)]
mod tests {
    use statkit_format::{Format, Histogram, Stat, StatFile, Value};
    use statkit_pipe::Value as PipeValue;

    use super::as_pipe;

    #[test]
    fn kinds_become_statvent_values() {
        let mut h = Histogram::default();
        [1.0, 2.0, 4.0].iter().for_each(|&v| h.record(v));
        let stat = |label: &str, value| Stat {
            label: label.into(),
            value,
        };
        let file = StatFile {
            format: Format::Statkit,
            pid: Some(1),
            identity: None,
            descriptions: Vec::new(),
            stats: vec![
                stat("hits", Value::Counter(3)),
                stat("load", Value::Gauge(0.5)),
                stat("up", Value::Bool(true)),
                stat("version", Value::Text("1".into())),
                stat("empty", Value::Average { count: 0, sum: 0.0 }),
                stat("lat", Value::Histogram(h)),
            ],
        };
        let out = as_pipe(&file);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "hits",
                "load",
                "up",
                "lat.median",
                "lat.95th",
                "lat.99th",
                "lat.100th",
                "lat.mean",
                "lat.count"
            ]
        );
        assert_eq!(out[0].1, PipeValue::Int(3));
        assert_eq!(out[2].1, PipeValue::Int(1));
        assert_eq!(out[6].1, PipeValue::Float(4.0));
        assert_eq!(out[8].1, PipeValue::Int(3));
    }
}

#[cfg(test)]
mod published {
    use statkit_format::{Format, Identity, StatFile};

    use super::published_pids;

    fn file(pid: u32, start_time: u64, retired: bool, piped: bool) -> StatFile {
        StatFile {
            format: Format::Statkit,
            pid: Some(pid),
            identity: Some(Identity {
                pid,
                start_time,
                created_ns: 0,
                program: "test".into(),
                retired,
                piped,
            }),
            descriptions: Vec::new(),
            stats: Vec::new(),
        }
    }

    #[test]
    fn only_live_writers_that_also_pipe_count() {
        let me = std::process::id();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let started = statkit_format::naming::parse_start_time(&stat).unwrap();
        let live = file(me, started, false, true);
        let reused = file(me, started + 1, false, true);
        let retired = file(me, started, true, true);
        let file_only = file(me, started, false, false);
        assert_eq!(
            published_pids([&live]).into_iter().collect::<Vec<_>>(),
            [me]
        );
        assert!(published_pids([&reused, &retired, &file_only]).is_empty());
    }
}
