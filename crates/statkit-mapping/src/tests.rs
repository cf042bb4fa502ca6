//! The mapping file read end to end: what a rule set makes of names, and
//! what a bad file is told.

use std::time::Duration;

use proptest::prelude::*;

use crate::*;

fn mapper(yaml: &str) -> Mapper {
    Mapper::from_yaml(yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// The name and labels `name` maps to as `kind`, or `None` for unmapped
/// and `Some(("DROP", []))` for a drop.
fn map(m: &Mapper, name: &str, kind: MetricKind) -> Option<(String, Vec<(String, String)>)> {
    match m.map(name.as_bytes(), kind) {
        Mapped::Unmapped => None,
        Mapped::Drop => Some(("DROP".into(), vec![])),
        Mapped::Metric(metric) => Some((metric.name, metric.labels)),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The errors of a file that must not load, as `line: message`.
fn errors(yaml: &str) -> Vec<(usize, String)> {
    match Mapper::from_yaml(yaml) {
        Ok(_) => panic!("loaded: {yaml}"),
        Err(LoadError::Syntax { line, message, .. }) => vec![(line, message)],
        Err(LoadError::Invalid(d)) => d
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.line, d.message))
            .collect(),
    }
}

const SHOP: &str = r#"
mappings:
- match: shop.*.orders.*
  name: "shop_orders_total"
  help: Orders by region and outcome.
  labels:
    region: "$1"
    outcome: "${2}"
- match: shop.*.latency
  name: shop_latency_seconds
  observer_type: histogram
  histogram_options:
    buckets: [0.05, 0.5, 5]
  labels:
    region: $1
- match: "shop\\.(\\w+)-(\\w+)\\.hits"
  match_type: regex
  name: "hits_$2"
  labels:
    site: "${1}"
- match: shop.junk.*
  action: drop
"#;

#[test]
fn globs_and_regexes_fill_names_and_labels() {
    let m = mapper(SHOP);
    assert_eq!(
        map(&m, "shop.eu.orders.paid", MetricKind::Counter),
        Some((
            "shop_orders_total".into(),
            labels(&[("outcome", "paid"), ("region", "eu")])
        ))
    );
    assert_eq!(
        map(&m, "shop.us.latency", MetricKind::Observer),
        Some(("shop_latency_seconds".into(), labels(&[("region", "us")])))
    );
    assert_eq!(
        map(&m, "shop.north-web.hits", MetricKind::Counter),
        Some(("hits_web".into(), labels(&[("site", "north")])))
    );
    assert_eq!(
        map(&m, "shop.junk.x", MetricKind::Gauge),
        Some(("DROP".into(), vec![]))
    );
    assert_eq!(map(&m, "shop.eu.orders", MetricKind::Counter), None);
    assert_eq!(map(&m, "other", MetricKind::Counter), None);
    let Mapped::Metric(metric) = m.map(b"shop.eu.orders.paid", MetricKind::Counter) else {
        panic!()
    };
    assert_eq!(
        metric.rule.help.as_deref(),
        Some("Orders by region and outcome.")
    );
    assert_eq!(metric.rule.line, 3);
    let Mapped::Metric(metric) = m.map(b"shop.eu.latency", MetricKind::Observer) else {
        panic!()
    };
    assert_eq!(
        metric.rule.observer,
        Observer::Histogram {
            buckets: vec![0.05, 0.5, 5.0]
        }
    );
    assert_eq!(m.histogram_bounds(), vec![0.05, 0.5, 5.0]);
}

#[test]
fn glob_rules_are_tried_before_regex_rules() {
    let m = mapper(
        "mappings:\n- match: '.*'\n  match_type: regex\n  name: any\n- match: a.*\n  name: glob_$1\n",
    );
    assert_eq!(map(&m, "a.b", MetricKind::Gauge).unwrap().0, "glob_b");
    assert_eq!(map(&m, "c", MetricKind::Gauge).unwrap().0, "any");
}

#[test]
fn the_first_regex_wins_and_regexes_are_unanchored() {
    let m = mapper(
        "mappings:\n- match: 'err'\n  match_type: regex\n  name: errors\n- match: '^api'\n  match_type: regex\n  name: api\n",
    );
    assert_eq!(
        map(&m, "api.err.x", MetricKind::Counter).unwrap().0,
        "errors"
    );
    assert_eq!(map(&m, "api.ok", MetricKind::Counter).unwrap().0, "api");
    assert_eq!(map(&m, "web.api", MetricKind::Counter), None);
}

#[test]
fn match_metric_type_picks_the_kind() {
    let m = mapper(
        "mappings:\n- match: q.*\n  match_metric_type: gauge\n  name: q_depth\n- match: q.*\n  match_metric_type: timer\n  name: q_wait_seconds\n- match: q.*\n  name: q_other\n- match: 'r'\n  match_type: regex\n  match_metric_type: counter\n  name: r_total\n",
    );
    assert_eq!(map(&m, "q.a", MetricKind::Gauge).unwrap().0, "q_depth");
    assert_eq!(
        map(&m, "q.a", MetricKind::Observer).unwrap().0,
        "q_wait_seconds"
    );
    assert_eq!(map(&m, "q.a", MetricKind::Counter).unwrap().0, "q_other");
    assert_eq!(map(&m, "r", MetricKind::Counter).unwrap().0, "r_total");
    assert_eq!(map(&m, "r", MetricKind::Gauge), None);
}

#[test]
fn defaults_apply_where_a_rule_says_nothing() {
    let m = mapper(
        r#"
defaults:
  observer_type: histogram
  buckets: [1, 2]
  ttl: 1m30s
  match_type: regex
mappings:
- match: '^a$'
  name: a
- match: b.*
  match_type: glob
  name: b
  observer_type: summary
  summary_options:
    quantiles:
    - quantile: 0.75
      error: 0.01
    max_age: 5m
  ttl: 0
"#,
    );
    let rules = m.rules();
    assert_eq!(rules[0].match_type, MatchType::Regex);
    assert_eq!(
        rules[0].observer,
        Observer::Histogram {
            buckets: vec![1.0, 2.0]
        }
    );
    assert_eq!(rules[0].ttl, Some(Duration::from_secs(90)));
    assert_eq!(rules[1].match_type, MatchType::Glob);
    assert_eq!(
        rules[1].observer,
        Observer::Summary {
            quantiles: vec![Quantile {
                quantile: 0.75,
                error: 0.01
            }],
            max_age: Some(Duration::from_secs(300)),
            age_buckets: None,
            buf_cap: None,
        }
    );
    assert_eq!(rules[1].ttl, None);
}

#[test]
fn statsd_exporters_own_defaults() {
    let m = mapper(
        "mappings:\n- match: a\n  name: a\n- match: b\n  name: b\n  timer_type: histogram\n",
    );
    let r = m.rules();
    assert_eq!(
        r[0].observer,
        Observer::Summary {
            quantiles: DEFAULT_QUANTILES.to_vec(),
            max_age: None,
            age_buckets: None,
            buf_cap: None
        }
    );
    assert_eq!(
        r[1].observer,
        Observer::Histogram {
            buckets: DEFAULT_BUCKETS.to_vec()
        }
    );
    assert_eq!(r[0].ttl, None);
    assert_eq!(Mapper::from_yaml("").unwrap().rules().len(), 0);
    assert_eq!(
        Mapper::from_yaml("mappings: []\n").unwrap().rules().len(),
        0
    );
}

#[test]
fn glob_disable_ordering_prefers_literals() {
    let file = |flag: &str| {
        format!(
        "defaults:\n  glob_disable_ordering: {flag}\nmappings:\n- match: j.*.done\n  name: any_done\n- match: j.build.done\n  name: build_done\n"
    )
    };
    assert_eq!(
        map(&mapper(&file("false")), "j.build.done", MetricKind::Counter)
            .unwrap()
            .0,
        "any_done"
    );
    assert_eq!(
        map(&mapper(&file("true")), "j.build.done", MetricKind::Counter)
            .unwrap()
            .0,
        "build_done"
    );
}

#[test]
fn captures_become_valid_names() {
    let m =
        mapper("mappings:\n- match: '*.size'\n  name: '${1}_bytes'\n  labels:\n    raw: '$1'\n");
    assert_eq!(
        map(&m, "a-b.size", MetricKind::Gauge),
        Some(("a_b_bytes".into(), labels(&[("raw", "a-b")])))
    );
    assert_eq!(
        map(&m, "9x.size", MetricKind::Gauge).unwrap().0,
        "_9x_bytes"
    );
}

#[test]
fn unknown_keys_are_warnings() {
    let m = mapper(
        "mappings:\n- match: a\n  name: a\n  colour: red\n- match: b.*\n  name: b_$1_x\nextra: 1\n",
    );
    let w: Vec<String> = m.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "line 4: warning: unknown key `colour` in a mapping rule is ignored",
            "line 5: warning: `$1_x` names a regex group, which a glob has not (empty); for a capture followed by text write `${1}_x`",
            "line 7: warning: unknown key `extra` in the file is ignored",
        ]
    );
}

#[test]
fn rules_an_earlier_glob_hides_are_warned_about() {
    let yaml = "mappings:
- match: api.*.hits
  name: hits
- match: api.web.hits
  name: web_hits
- match: api.*.hits
  match_metric_type: gauge
  name: gauge_hits
- match: jobs.*
  match_metric_type: counter
  name: jobs
- match: jobs.x
  name: jobs_x
";
    let m = mapper(yaml);
    let lines: Vec<usize> = m.warnings().iter().map(|w| w.line).collect();
    // api.web.hits and the gauge rule are hidden; jobs.x is not (it takes
    // gauges and timers, which jobs.* does not).
    assert_eq!(lines, vec![4, 6], "{:?}", m.warnings());
    assert!(m.warnings()[0]
        .message
        .contains("`api.*.hits` at line 2 comes first"));
    let unordered = mapper(&yaml.replace(
        "mappings:",
        "defaults:\n  glob_disable_ordering: true\nmappings:",
    ));
    assert!(unordered.warnings().is_empty());
}

#[test]
fn every_error_has_its_line() {
    let yaml = r#"mappings:
- match: a.b c
  name: x
- match: ok.*
  name: "9bad"
- match: ok.*
  labels:
    "bad-label": x
- match: "("
  match_type: regex
  name: r
- match: t.*
  name: t_$2
- name: nomatch
- match: h
  name: h
  observer_type: histogram
  summary_options:
    max_age: 1m
- match: d
  name: d
  ttl: 60
  match_metric_type: set
"#;
    let got = errors(yaml);
    let lines: Vec<usize> = got.iter().map(|e| e.0).collect();
    assert_eq!(lines, vec![2, 5, 6, 8, 9, 12, 14, 15, 22, 23], "{got:#?}");
    assert!(got[0].1.contains("is not a glob"), "{got:?}");
    assert!(got[1].1.contains("starts with a digit"), "{got:?}");
    assert!(got[2].1.contains("needs `name`"), "{got:?}");
    assert!(got[4].1.contains("not a regular expression"), "{got:?}");
    assert!(
        got[5].1.contains("uses $2 but its `match` has 1"),
        "{got:?}"
    );
    assert!(
        got[7]
            .1
            .contains("histogram rule cannot have `summary_options`"),
        "{got:?}"
    );
    assert!(got[8].1.contains("needs a unit"), "{got:?}");
}

#[test]
fn structural_errors() {
    assert_eq!(
        errors("mappings: {a: 1}\n")[0].1,
        "`mappings` must be a list, not a mapping"
    );
    assert_eq!(
        errors("- a\n")[0].1,
        "the file must be a mapping of keys, not a list"
    );
    assert!(errors("mappings:\n- match: a\n  name: a\n  name: b\n")[0]
        .1
        .contains("given twice"));
    assert_eq!(errors("mappings:\n  - match: [\n")[0].0, 3);
    let got = errors("defaults:\n  buckets: [2, 1]\n  quantiles:\n  - quantile: 2\nmappings: []\n");
    assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 4]);
}

proptest! {
    /// The cache answers as the mapper does, and a glob rule matches a
    /// name exactly when the same pattern as a regex does.
    #[test]
    fn glob_agrees_with_its_regex(
        patterns in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("*")], 1..4), 1..6),
        names in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 1..4), 1..10),
        ordered in any::<bool>(),
    ) {
        let mut yaml = format!("defaults:\n  glob_disable_ordering: {}\nmappings:\n", !ordered);
        for (i, p) in patterns.iter().enumerate() {
            yaml.push_str(&format!("- match: '{}'\n  name: r{i}\n", p.join(".")));
        }
        let m = mapper(&yaml);
        let mut cache = Cache::new(3);
        for parts in &names {
            let name = parts.join(".");
            let matching: Vec<usize> = patterns.iter().enumerate().filter(|(_, p)| {
                p.len() == parts.len() && p.iter().zip(parts).all(|(a, b)| *a == "*" || a == b)
            }).map(|(i, _)| i).collect();
            let got = m.map(name.as_bytes(), MetricKind::Counter);
            prop_assert_eq!(cache.map(&m, name.as_bytes(), MetricKind::Counter), &got);
            match got {
                Mapped::Metric(metric) => {
                    let i: usize = metric.name[1..].parse().unwrap();
                    prop_assert!(matching.contains(&i));
                    if ordered {
                        prop_assert_eq!(i, matching[0]);
                    }
                }
                other => prop_assert!(matching.is_empty(), "{:?} for {}", other, name),
            }
        }
    }

    /// No input makes the reader panic; what loads maps any name.
    #[test]
    fn any_text_is_read_or_refused(text in "[ -~\n]{0,200}", name in "[a-z.]{0,20}") {
        if let Ok(m) = Mapper::from_yaml(&text) {
            let _ = m.map(name.as_bytes(), MetricKind::Gauge);
        }
    }
}
