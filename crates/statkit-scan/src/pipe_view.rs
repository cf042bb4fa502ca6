//! A stats file's values as a statvent pipe would carry them, so `GET
//! /stats` sums stats files and pipes into one host-wide answer.

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
