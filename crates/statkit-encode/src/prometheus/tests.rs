use proptest::prelude::*;

use std::sync::Arc;

use statkit_agg::{Aggregator, Snapshot, Table};
use statkit_store::Options;

use super::write::{float, labels, number};
use super::*;
use crate::labels::HostLabels;

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
    render(&store, format, Exposition::default(), &mut out);
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
        labels(split_key(b"n;a-b=x\"y;__x=1;2=2;le=3").1, true, None),
        "{a_b=\"x\\\"y\",tag___x=\"1\",tag_2=\"2\",tag_le=\"3\"}"
    );
    assert_eq!(labels(split_key(b"n;a=1;a=2").1, false, None), "{a=\"1\"}");
}

#[test]
fn the_hosts_labels_follow_a_keys_own() {
    let mut feed = Feed::new(&[10.0]);
    let mut store = store(&[10.0]);
    store.ingest(&feed.flush(1000, "hits;dc=us:1|c\nlat:5|ms"));
    let host = HostLabels::parse(&["host=web\"1", "dc=eu"]).unwrap();
    let mut out = String::new();
    let exposition = Exposition {
        labels: Some(&host),
        ..Exposition::default()
    };
    render(&store, Format::Text, exposition, &mut out);
    assert_eq!(
        samples_of(&out, "hits_total"),
        ["hits_total{dc=\"us\",host=\"web\\\"1\"} 1"]
    );
    assert_eq!(
        samples_of(&out, "lat_bucket"),
        [
            "lat_bucket{dc=\"eu\",host=\"web\\\"1\",le=\"10.0\"} 1",
            "lat_bucket{dc=\"eu\",host=\"web\\\"1\",le=\"+Inf\"} 1"
        ]
    );
}

#[test]
fn clashing_series_are_left_out() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    // a.b and a_b give one name; x is a counter and a gauge.
    store.ingest(&feed.flush(1000, "a.b:1|c\na_b:2|c\nx:1|c\nx:1|g"));
    let mut out = String::new();
    assert_eq!(
        render(&store, Format::OpenMetrics, Exposition::default(), &mut out),
        2
    );
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

const RULES: &str = r#"
mappings:
- match: shop.*.orders
  name: shop_orders_total
  help: Orders by region.
  labels:
    region: $1
- match: shop.*.visits
  name: shop_visits
  labels:
    region: $1
- match: shop.*.latency
  name: shop_latency_seconds
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.05, 0.1]
- match: shop.*.wait
  name: shop_wait_seconds
  summary_options:
    quantiles:
    - {quantile: 0.5, error: 0.05}
    - {quantile: 0.9, error: 0.01}
    - {quantile: 0.99, error: 0.001}
- match: shop.junk
  action: drop
- match: statsd.*
  name: mapped_own
"#;

/// `lines` flushed once into a store with 10 and 100 ms bounds, rendered
/// through [`RULES`].
fn mapped(lines: &str, format: Format) -> String {
    let mut feed = Feed::new(&[10.0, 100.0]);
    let mut store = store(&[10.0, 100.0]);
    store.ingest(&feed.flush(1000, lines));
    let mapper = statkit_mapping::Mapper::from_yaml(RULES).unwrap();
    let mut cache = statkit_mapping::Cache::new(100);
    let mut out = String::new();
    let mapping = Mapping {
        mapper: &mapper,
        cache: &mut cache,
    };
    render(
        &store,
        format,
        Exposition {
            mapping: Some(mapping),
            ..Exposition::default()
        },
        &mut out,
    );
    out
}

/// The lines of the families whose names start with `prefix`.
fn families(text: &str, prefix: &str) -> String {
    text.lines()
        .filter(|l| {
            let l = l
                .strip_prefix("# HELP ")
                .or(l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            l.starts_with(prefix)
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn mapped_counters_and_gauges() {
    let out = mapped(
        "shop.eu.orders:3|c|#region:ignored,env:prod\nshop.us.orders:1|c\nshop.eu.visits:7|c\nshop.junk:1|c\nother.x:1|c",
        Format::Text,
    );
    let expected = "\
# HELP shop_orders_total Orders by region.
# TYPE shop_orders_total counter
shop_orders_total{env=\"prod\",region=\"eu\"} 3
shop_orders_total{region=\"us\"} 1
";
    assert_eq!(families(&out, "shop_orders"), expected);
    // A counter whose name lacks `_total` keeps its name in text 0.0.4.
    assert_eq!(
        families(&out, "shop_visits"),
        "# HELP shop_visits statsd counter, count since first seen: mapped from shop.*.visits\n# TYPE shop_visits counter\nshop_visits{region=\"eu\"} 7\n"
    );
    assert!(!out.contains("junk"), "{out}");
    assert_eq!(samples_of(&out, "other_x"), vec!["other_x_total 1"]);
    // The server's own series are never mapped.
    assert_eq!(
        samples_of(&out, "statsd_metrics_received"),
        vec!["statsd_metrics_received_total 5"]
    );
    let om = mapped(
        "shop.eu.orders:3|c\nshop.eu.visits:7|c",
        Format::OpenMetrics,
    );
    assert!(
        om.contains("# TYPE shop_orders counter\nshop_orders_total{region=\"eu\"} 3\n"),
        "{om}"
    );
    assert!(
        om.contains("# TYPE shop_visits counter\nshop_visits_total{region=\"eu\"} 7\n"),
        "{om}"
    );
}

#[test]
fn mapped_timers_are_seconds() {
    let out = mapped(
        "shop.eu.latency:5|ms\nshop.eu.latency:50|ms\nshop.eu.latency:500|ms",
        Format::Text,
    );
    let expected = "\
# HELP shop_latency_seconds statsd timer, seconds: mapped from shop.*.latency
# TYPE shop_latency_seconds histogram
shop_latency_seconds_bucket{le=\"0.01\"} 1
shop_latency_seconds_bucket{le=\"0.1\"} 2
shop_latency_seconds_bucket{le=\"+Inf\"} 3
shop_latency_seconds_sum 0.555
shop_latency_seconds_count 3
";
    assert_eq!(families(&out, "shop_latency"), expected);
    let out = mapped(
        "shop.eu.wait:10|ms\nshop.eu.wait:20|ms\nshop.eu.wait:30|ms\nshop.us.wait:1|ms|#quantile:x",
        Format::Text,
    );
    let wait = families(&out, "shop_wait");
    assert!(
        wait.contains("# TYPE shop_wait_seconds summary\n"),
        "{wait}"
    );
    assert!(
        wait.contains("shop_wait_seconds{quantile=\"0.5\"} 0.02\n"),
        "{wait}"
    );
    assert!(
        wait.contains("shop_wait_seconds{quantile=\"0.9\"} 0.03\n"),
        "{wait}"
    );
    assert!(!wait.contains("0.99"), "{wait}");
    assert!(
        wait.contains("shop_wait_seconds_sum 0.06\nshop_wait_seconds_count 3\n"),
        "{wait}"
    );
    // A tag named as the summary's own label is renamed.
    assert!(
        wait.contains("shop_wait_seconds_count{tag_quantile=\"x\"} 1\n"),
        "{wait}"
    );
}

#[test]
fn summary_quantiles_come_from_the_newest_flush_with_values_within_max_age() {
    let mapper = statkit_mapping::Mapper::from_yaml(
        "mappings:\n- match: w\n  name: w_seconds\n  summary_options:\n    max_age: 30s\n",
    )
    .unwrap();
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    let mut cache = statkit_mapping::Cache::new(10);
    let mut median_at = |time: u64, lines: &str| {
        store.ingest(&feed.flush(time, lines));
        let mut out = String::new();
        let mapping = Mapping {
            mapper: &mapper,
            cache: &mut cache,
        };
        render(
            &store,
            Format::Text,
            Exposition {
                mapping: Some(mapping),
                ..Exposition::default()
            },
            &mut out,
        );
        samples_of(&out, "w_seconds{quantile=\"0.5\"}")
    };
    assert_eq!(
        median_at(1000, "w:250|ms"),
        vec!["w_seconds{quantile=\"0.5\"} 0.25"]
    );
    // Flushes without values keep the last values for max_age.
    assert_eq!(
        median_at(1010, ""),
        vec!["w_seconds{quantile=\"0.5\"} 0.25"]
    );
    assert_eq!(
        median_at(1030, ""),
        vec!["w_seconds{quantile=\"0.5\"} 0.25"]
    );
    assert_eq!(median_at(1040, ""), vec!["w_seconds{quantile=\"0.5\"} NaN"]);
}

#[test]
fn overflowed_names_are_counted() {
    let mut feed = Feed::new(&[]);
    let mut store = Store::new(Options {
        max_series_per_name: 1,
        ..Options::default()
    });
    store.ingest(&feed.flush(1000, "hits:1|c|#user:a\nhits:2|c|#user:b\nhits:3|c|#user:c"));
    let out = rendered_store(&store, Format::Text);
    assert_eq!(
        samples_of(&out, "hits_total"),
        vec![
            "hits_total{user=\"__overflow__\"} 5",
            "hits_total{user=\"a\"} 1"
        ]
    );
    assert_eq!(
        samples_of(&out, "statkit_series_overflow"),
        vec!["statkit_series_overflow_total{name=\"hits\"} 2"]
    );
    let om = rendered_store(&store, Format::OpenMetrics);
    assert!(om.contains("# TYPE statkit_series_overflow counter\nstatkit_series_overflow_total{name=\"hits\"} 2\n# EOF\n"), "{om}");
}

fn rendered_store(store: &Store, format: Format) -> String {
    let mut out = String::new();
    render(store, format, Exposition::default(), &mut out);
    out
}

#[test]
fn idle_series_leave_after_their_ttl() {
    let mapper = statkit_mapping::Mapper::from_yaml(
        "mappings:\n- match: quick.*\n  name: quick_total\n  ttl: 15s\n  labels: {k: $1}\n",
    )
    .unwrap();
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    let mut cache = statkit_mapping::Cache::new(10);
    let mut shown = |time: u64, lines: &str| {
        store.ingest(&feed.flush(time, lines));
        let mut out = String::new();
        let exposition = Exposition {
            mapping: Some(Mapping {
                mapper: &mapper,
                cache: &mut cache,
            }),
            series_ttl: Some(std::time::Duration::from_secs(30)),
            labels: None,
            described: None,
        };
        render(&store, Format::Text, exposition, &mut out);
        let mut names: Vec<String> = out
            .lines()
            .filter(|l| !l.starts_with('#') && !l.starts_with("statsd_"))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let all = ["g", "quick_total{k=\"a\"}", "slow_total"];
    assert_eq!(shown(1000, "quick.a:1|c\nslow:1|c\ng:1|g"), all);
    assert_eq!(shown(1010, ""), all);
    // The rule's 15 s: gone after 20 s of zeros; the others go by 30 s,
    // but a gauge etsy keeps reporting stays.
    assert_eq!(shown(1020, ""), ["g", "slow_total"]);
    assert_eq!(shown(1040, ""), ["g"]);
    // Activity brings a series back, its total kept.
    assert_eq!(shown(1050, "slow:2|c"), ["g", "slow_total"]);
}

#[test]
fn a_name_mapped_to_two_types_keeps_the_first() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    store.ingest(&feed.flush(1000, "a.x:1|c\nb.x:2|g"));
    let mapper =
        statkit_mapping::Mapper::from_yaml("mappings:\n- match: '*.x'\n  name: same\n").unwrap();
    let mut cache = statkit_mapping::Cache::new(10);
    let mut out = String::new();
    let mapping = Mapping {
        mapper: &mapper,
        cache: &mut cache,
    };
    let exposition = Exposition {
        mapping: Some(mapping),
        ..Exposition::default()
    };
    let clashes = render(&store, Format::Text, exposition, &mut out);
    assert_eq!(clashes, 1);
    assert_eq!(out.matches("# TYPE same ").count(), 1, "{out}");
}

/// Checks that every line of `out` is a comment or `name{labels} value`
/// with a valid name, and that every family is declared once.
fn check_well_formed(out: &str) -> Result<(), TestCaseError> {
    let mut declared = std::collections::HashSet::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let family = rest.split(' ').next().unwrap().to_owned();
            prop_assert!(declared.insert(family), "declared twice: {}", line);
            continue;
        }
        if line.starts_with("# HELP ") || line == "# EOF" {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap();
        let name = &line[..name_end];
        if let Some(labels) = line[name_end..].strip_prefix('{') {
            let mut names: Vec<&str> = labels
                .split("\",")
                .filter_map(|p| p.split('=').next())
                .collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            prop_assert_eq!(names.len(), count, "a label twice: {}", line);
        }
        prop_assert!(
            !name.is_empty() && !name.as_bytes()[0].is_ascii_digit(),
            "{}",
            line
        );
        prop_assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{}",
            line
        );
        let value = line.rsplit(' ').next().unwrap();
        prop_assert!(
            value.parse::<f64>().is_ok() || ["NaN", "+Inf", "-Inf"].contains(&value),
            "{}",
            line
        );
    }
    Ok(())
}

/// The store of one flush of `keys`, each as the next of the four kinds.
fn store_of(keys: &[String]) -> Store {
    let mut feed = Feed::new(&[1.0]);
    let mut store = store(&[1.0]);
    let lines: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k}:1|{}", ["c", "g", "ms", "s"][i % 4]))
        .collect();
    store.ingest(&feed.flush(1000, &lines.join("\n")));
    store
}

proptest! {
    /// Whatever the keys, the output is well formed.
    #[test]
    fn output_is_well_formed(keys in proptest::collection::vec("[a-z0-9._;=:-]{1,12}", 1..20)) {
        let mut out = String::new();
        render(&store_of(&keys), Format::Text, Exposition::default(), &mut out);
        check_well_formed(&out)?;
    }

    /// Through rules that map names onto shared families of every type,
    /// with captures in names and labels, the output is well formed too.
    #[test]
    fn mapped_output_is_well_formed(
        keys in proptest::collection::vec("[ab]{1,2}(\\.[a-c0-9-]{1,3}){0,2}(;[a-z]{1,2}=[a-z0-9]{0,2}){0,2}", 1..24),
        openmetrics in any::<bool>(),
    ) {
        let rules = "mappings:
- match: a.*
  name: shared
  labels: {part: $1}
- match: a.*.*
  name: ${1}_x_total
  observer_type: histogram
  buckets: [0.0005, 1]
  labels: {le: $2}
- match: b.*
  name: shared
  labels: {quantile: $1}
- match: '^b\\.(.*)\\.(.*)$'
  match_type: regex
  name: b_$2
";
        let mapper = statkit_mapping::Mapper::from_yaml(rules).unwrap();
        let mut cache = statkit_mapping::Cache::new(8);
        let format = if openmetrics { Format::OpenMetrics } else { Format::Text };
        let mut out = String::new();
        let exposition = Exposition {
            mapping: Some(Mapping { mapper: &mapper, cache: &mut cache }),
            ..Exposition::default()
        };
        render(&store_of(&keys), format, exposition, &mut out);
        check_well_formed(&out)?;
    }
}
