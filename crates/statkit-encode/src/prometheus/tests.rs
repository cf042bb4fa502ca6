use proptest::prelude::*;

use std::sync::Arc;

use statkit_agg::{Aggregator, Snapshot, Table};
use statkit_store::Options;

use super::*;

/// Flushes of an aggregator with a 10 s interval and bucket bounds (as
/// statkit-store's own tests feed a store).
pub(super) struct Feed {
    aggregator: Aggregator,
}

impl Feed {
    pub(super) fn new(bounds: &[f64]) -> Self {
        let options = statkit_agg::Options {
            buckets: Arc::from(bounds),
            ..statkit_agg::Options::default()
        };
        Self {
            aggregator: Aggregator::new(options),
        }
    }

    /// The flush at `time` of an interval that received `lines`.
    pub(super) fn flush(&mut self, time: u64, lines: &str) -> Snapshot {
        let mut table = Table::new(self.aggregator.options().table);
        table.ingest(lines.as_bytes());
        self.aggregator.absorb(&mut table);
        self.aggregator.flush(time)
    }
}

pub(super) fn store(bounds: &[f64]) -> Store {
    Store::new(Options {
        bounds: Arc::from(bounds),
        ..Options::default()
    })
}

fn rendered(lines: &str, format: Format) -> String {
    let mut feed = Feed::new(&[10.0, 100.0]);
    let mut store = store(&[10.0, 100.0]);
    store.ingest(&feed.flush(1000, lines));
    let mut out = String::new();
    render(&store, format, &mut out);
    out
}

/// The lines of `text` whose metric name starts with `prefix`.
fn samples_of(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn text_format_families() {
    let out = rendered(
        "req:3|c|#env:prod,canary\nreq:1|c|#env:dev\nload:0.5|g\nlat:5|ms\nlat:50|ms\nlat:500|ms\nu:a|s",
        Format::Text,
    );
    let expected = "\
# HELP lat statsd timer, milliseconds: lat
# TYPE lat histogram
lat_bucket{le=\"10.0\"} 1
lat_bucket{le=\"100.0\"} 2
lat_bucket{le=\"+Inf\"} 3
lat_sum 555
lat_count 3
# HELP load statsd gauge: load
# TYPE load gauge
load 0.5
# HELP req_total statsd counter, count since first seen: req
# TYPE req_total counter
req_total{env=\"dev\"} 1
req_total{env=\"prod\",canary=\"true\"} 3
";
    let start = out.find("# HELP lat ").unwrap();
    let end = out.find("# HELP statsd_").unwrap();
    assert_eq!(&out[start..end], expected);
    assert_eq!(samples_of(&out, "u "), vec!["u 1"]);
    assert_eq!(
        samples_of(&out, "statsd_metrics_received_total"),
        vec!["statsd_metrics_received_total 7"]
    );
    assert!(!out.contains("# EOF"));
}

#[test]
fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
    let out = rendered("req:3|c", Format::OpenMetrics);
    assert!(out.contains("# TYPE req counter\nreq_total 3\n"), "{out}");
    assert!(out.ends_with("# EOF\n"));
}

#[test]
fn names_and_labels_are_sanitized_and_escaped() {
    assert_eq!(metric_name(b"api.req-s"), "api_req_s");
    assert_eq!(metric_name(b"9lives"), "_9lives");
    assert_eq!(metric_name(b""), "_");
    assert_eq!(
        labels(split_key(b"n;a-b=x\"y;__x=1;2=2;le=3").1, true),
        "{a_b=\"x\\\"y\",tag___x=\"1\",tag_2=\"2\",tag_le=\"3\"}"
    );
    assert_eq!(labels(split_key(b"n;a=1;a=2").1, false), "{a=\"1\"}");
}

#[test]
fn clashing_series_are_left_out() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    // a.b and a_b give one name; x is a counter and a gauge.
    store.ingest(&feed.flush(1000, "a.b:1|c\na_b:2|c\nx:1|c\nx:1|g"));
    let mut out = String::new();
    assert_eq!(render(&store, Format::OpenMetrics, &mut out), 2);
    assert_eq!(samples_of(&out, "a_b_total"), vec!["a_b_total 1"]);
    assert_eq!(out.matches("# TYPE x ").count(), 1);
}

#[test]
fn numbers_as_prometheus_spells_them() {
    let n = |v: f64| {
        let mut s = String::new();
        number(&mut s, v);
        s
    };
    assert_eq!(n(1.0), "1");
    assert_eq!(n(-3.0), "-3");
    assert_eq!(n(0.25), "0.25");
    assert_eq!(n(f64::NAN), "NaN");
    assert_eq!(n(f64::NEG_INFINITY), "-Inf");
    assert_eq!(n(1e300), "1e+300");
    assert_eq!(n(1e15), "1000000000000000");
    assert_eq!(float(5.0), "5.0");
    assert_eq!(float(0.5), "0.5");
}

#[test]
fn negotiation_prefers_openmetrics_when_asked() {
    let prometheus =
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1";
    assert_eq!(Format::negotiate(prometheus), Format::OpenMetrics);
    assert_eq!(Format::negotiate("text/plain"), Format::Text);
    assert_eq!(Format::negotiate(""), Format::Text);
    assert_eq!(
        Format::negotiate("application/openmetrics-text; q=0"),
        Format::Text
    );
}

proptest! {
    /// Whatever the keys, every line is a comment or `name{labels} value`
    /// with a valid name, and every family is declared once.
    #[test]
    fn output_is_well_formed(keys in proptest::collection::vec("[a-z0-9._;=:-]{1,12}", 1..20)) {
        let mut feed = Feed::new(&[1.0]);
        let mut store = store(&[1.0]);
        let lines: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k}:1|{}", ["c", "g", "ms", "s"][i % 4]))
            .collect();
        store.ingest(&feed.flush(1000, &lines.join("\n")));
        let mut out = String::new();
        render(&store, Format::Text, &mut out);
        let mut declared = std::collections::HashSet::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let family = rest.split(' ').next().unwrap().to_owned();
                prop_assert!(declared.insert(family), "declared twice: {}", line);
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let name_end = line.find(['{', ' ']).unwrap();
            let name = &line[..name_end];
            prop_assert!(!name.is_empty() && !name.as_bytes()[0].is_ascii_digit(), "{}", line);
            prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'), "{}", line);
            let value = line.rsplit(' ').next().unwrap();
            prop_assert!(value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value), "{}", line);
        }
    }
}
