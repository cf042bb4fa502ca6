use std::sync::Arc;

use statkit_agg::{Aggregator, Snapshot, Table};

use super::*;

/// The bounds the encoders' tests count timers' buckets for.
pub(crate) const BOUNDS: [f64; 2] = [10.0, 100.0];

/// The flush at `time` of an aggregator with [`BOUNDS`] that received
/// `lines` in one interval. (The aggregator adds the server's own
/// counters, `statsd.*`.)
pub(crate) fn flush(time: u64, lines: &str) -> Snapshot {
    flushes(time, &[lines])
}

/// The last of the flushes of intervals that received `batches`, one
/// interval each, the last at `time`.
pub(crate) fn flushes(time: u64, batches: &[&str]) -> Snapshot {
    let options = statkit_agg::Options {
        buckets: Arc::from(&BOUNDS[..]),
        ..statkit_agg::Options::default()
    };
    let mut aggregator = Aggregator::new(options);
    let mut last = Snapshot::default();
    for (i, lines) in batches.iter().enumerate() {
        let mut table = Table::new(aggregator.options().table);
        table.ingest(lines.as_bytes());
        aggregator.absorb(&mut table);
        last = aggregator.flush(time + i as u64 + 1 - batches.len() as u64);
    }
    last
}

fn pairs(text: &[(&str, &str)]) -> Vec<(String, String)> {
    text.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn series_have_metric_names_sorted_labels_and_the_flush_time() {
    let snapshot = flush(
        1000,
        "req.ok;env=prod;canary:3|c\nmem-used:7|g\nusers:a|s\nusers:b|s\nlat:5|ms\nlat:50|ms\nlat:500|ms",
    );
    let host = HostLabels::parse(&["host=web1"]).unwrap();
    let export = Export::new(&snapshot, &BOUNDS, &host);
    assert_eq!(export.timestamp_ms, 1_000_000);
    assert_eq!(export.clashes, 0);
    let got: Vec<_> = export
        .series
        .iter()
        .filter(|s| !s.name.starts_with("statsd_"))
        .map(|s| (s.name.as_str(), s.kind, s.labels.clone(), s.value))
        .collect();
    let host = pairs(&[("host", "web1")]);
    let histogram = Value::Histogram {
        count: 3.0,
        sum: 555.0,
        buckets: &[1.0, 2.0],
    };
    assert_eq!(
        got,
        [
            ("lat", Kind::Timer, host.clone(), histogram),
            ("mem_used", Kind::Gauge, host.clone(), Value::Gauge(7.0)),
            (
                "req_ok",
                Kind::Counter,
                pairs(&[("canary", "true"), ("env", "prod"), ("host", "web1")]),
                Value::Counter(3.0)
            ),
            ("users", Kind::Set, host, Value::Gauge(2.0)),
        ]
    );
}

#[test]
fn clashing_series_are_left_out_and_counted() {
    // Two keys that sanitize alike, and one name as two kinds.
    let snapshot = flush(1, "a.b:1|c\na_b:2|c\nx:1|c\nx:2|g\n");
    let export = Export::new(&snapshot, &BOUNDS, &HostLabels::default());
    assert_eq!(export.clashes, 2);
    let names: Vec<_> = export
        .series
        .iter()
        .map(|s| (&s.name[..], s.kind))
        .filter(|(name, _)| !name.starts_with("statsd_"))
        .collect();
    assert_eq!(names, [("a_b", Kind::Counter), ("x", Kind::Counter)]);
}

#[test]
fn a_keys_tag_wins_over_a_host_label_of_its_name() {
    let snapshot = flush(1, "hits;host=b:1|c\n");
    let host = HostLabels::parse(&["host=a", "dc=eu"]).unwrap();
    let export = Export::new(&snapshot, &BOUNDS, &host);
    assert_eq!(
        export.series[0].labels,
        pairs(&[("dc", "eu"), ("host", "b")])
    );
}

#[test]
fn buckets_for_other_bounds_are_left_out() {
    let snapshot = flush(1, "lat:5|ms\n");
    let export = Export::new(&snapshot, &[1.0, 2.0, 3.0], &HostLabels::default());
    assert!(matches!(
        export.series[0].value,
        Value::Histogram { buckets: [], .. }
    ));
}

#[test]
fn counters_and_histograms_add_up_since_first_seen() {
    let snapshot = flushes(100, &["n:2|c\nlat:5|ms", "n:3|c\nlat:50|ms", "g:1|g"]);
    let export = Export::new(&snapshot, &BOUNDS, &HostLabels::default());
    let value = |name: &str| {
        export
            .series
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.value)
    };
    assert_eq!(value("n"), Some(Value::Counter(5.0)));
    assert_eq!(
        value("lat"),
        Some(Value::Histogram {
            count: 2.0,
            sum: 55.0,
            buckets: &[1.0, 2.0]
        })
    );
}
