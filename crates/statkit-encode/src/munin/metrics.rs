//! The `statkit_metrics_<name>` munin plug-in's output: a munin graph of
//! any statkit series, chosen by the plug-in configuration's `env.metrics`
//! (keys, or `prefix*` for every key starting with `prefix`), read from
//! the server's `/api/v1/metrics`. The plug-in itself (environment, HTTP,
//! standard output) is `statkit munin`; this is what it asks for and what
//! it prints.
//!
//! munin computes rates itself from running totals (DERIVE), which the
//! history store keeps: a counter is graphed from its count since first
//! seen, a timer from its value count, so a missed poll loses nothing.
//! Gauges, sets' members and timers' mean and percentile are GAUGEs of the
//! newest flush.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// Fields one graph holds at most; a wider graph is unreadable anyway.
const MAX_FIELDS: usize = 100;
/// Pages of `/api/v1/metrics` read per pattern at most.
pub const MAX_PAGES: usize = 10;

/// One entry of `env.metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    /// `env.metrics`: keys separated by spaces or commas; `a.b*` is every
    /// key starting with `a.b`.
    pub fn parse_all(text: &str) -> Vec<Pattern> {
        text.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(|w| match w.strip_suffix('*') {
                Some(stem) => Pattern::Prefix(stem.to_owned()),
                None => Pattern::Exact(w.to_owned()),
            })
            .collect()
    }

    fn text(&self) -> &str {
        match self {
            Pattern::Exact(t) | Pattern::Prefix(t) => t,
        }
    }

    fn matches(&self, key: &str) -> bool {
        match self {
            Pattern::Exact(k) => key == k,
            Pattern::Prefix(p) => key.starts_with(p.as_str()),
        }
    }
}

/// The path and query of the page at `offset` of the series `pattern`
/// may match: the server's filter is a substring match, so the page is
/// narrowed further by [`Selection::add_page`].
pub fn page_path(pattern: &Pattern, offset: u64) -> String {
    format!(
        "/api/v1/metrics?limit=10000&offset={offset}&filter={}",
        encode(pattern.text())
    )
}

/// Percent-encodes all but URL-safe characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The series matching the patterns, gathered from the pages read, each
/// once in key order, and the timers' percentile.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    found: BTreeMap<String, Value>,
    pct: String,
}

impl Default for Selection {
    fn default() -> Self {
        Selection {
            found: BTreeMap::new(),
            pct: String::from("90"),
        }
    }
}

impl Selection {
    /// Takes the series of one `/api/v1/metrics` page that `pattern`
    /// matches; returns the offset of the next page, if there is one.
    pub fn add_page(&mut self, pattern: &Pattern, page: &Value) -> Option<u64> {
        if let Some(p) = page["pct"].as_str() {
            self.pct = p.to_owned();
        }
        for s in page["metrics"].as_array().into_iter().flatten() {
            let key = s["key"].as_str().unwrap_or_default();
            if pattern.matches(key) {
                self.found.insert(key.to_owned(), s.clone());
            }
        }
        page["next_offset"].as_u64()
    }

    /// The graph's fields.
    pub fn into_fields(self) -> Vec<Field> {
        let series: Vec<Value> = self.found.into_values().collect();
        fields(&series, &self.pct)
    }
}

/// How munin treats a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    /// A running total: munin graphs its rate per second.
    Derive,
    Gauge,
}

/// One line of the graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    name: String,
    label: String,
    kind: Type,
    /// `None`: unknown this time (munin's `U`).
    value: Option<f64>,
}

/// The fields of `series` (entries of `/api/v1/metrics`, each once, in
/// key order), `pct` being the timers' percentile; at most [`MAX_FIELDS`].
fn fields(series: &[Value], pct: &str) -> Vec<Field> {
    let mut out: Vec<Field> = Vec::new();
    for s in series {
        let key = s["key"].as_str().unwrap_or_default();
        let last = |field: &str| s["last"][field].as_f64();
        let total = s["total"].as_f64();
        let lines: Vec<(String, String, Type, Option<f64>)> = match s["kind"].as_str() {
            Some("counter") => vec![(key.into(), key.into(), Type::Derive, total)],
            Some("gauge") => vec![(key.into(), key.into(), Type::Gauge, last("value"))],
            Some("set") => vec![(key.into(), key.into(), Type::Gauge, last("members"))],
            Some("timer") => vec![
                (
                    format!("{key}_count"),
                    format!("{key} values"),
                    Type::Derive,
                    total,
                ),
                (
                    format!("{key}_mean"),
                    format!("{key} mean ms"),
                    Type::Gauge,
                    last("mean"),
                ),
                (
                    format!("{key}_p{pct}"),
                    format!("{key} p{pct} ms"),
                    Type::Gauge,
                    last("pct"),
                ),
            ],
            _ => continue,
        };
        for (name, label, kind, value) in lines {
            let name = unique(field_name(&name), &out);
            out.push(Field {
                name,
                label,
                kind,
                value,
            });
        }
    }
    out.truncate(MAX_FIELDS);
    out
}

/// munin's field names: `[A-Za-z0-9_]`, not starting with a digit.
fn field_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, '_');
    }
    name
}

/// `name`, or `name_2`, `name_3`... when a field has it already (`a.b`
/// and `a_b` both make `a_b`).
fn unique(name: String, taken: &[Field]) -> String {
    let free = |n: &str| !taken.iter().any(|f| f.name == n);
    if free(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}_{i}"))
        .find(|n| free(n))
        .unwrap_or(name)
}

/// `config`: the graph, then each field's label and type.
pub fn config(title: &str, vlabel: &str, fields: &[Field]) -> String {
    let mut out = format!(
        "graph_title {title}\ngraph_args --base 1000\ngraph_vlabel {vlabel}\ngraph_category statkit\n"
    );
    for f in fields {
        let _ = writeln!(out, "{}.label {}", f.name, f.label);
        match f.kind {
            Type::Derive => {
                let _ = writeln!(out, "{0}.type DERIVE\n{0}.min 0", f.name);
            }
            Type::Gauge => {
                let _ = writeln!(out, "{}.type GAUGE", f.name);
            }
        }
    }
    out
}

/// Fetch: `name.value V` per field; totals as integers (rrdtool's DERIVE
/// takes no fractions), unknown values as `U`.
pub fn fetch(fields: &[Field]) -> String {
    let mut out = String::new();
    for f in fields {
        let value = match (f.value, f.kind) {
            (None, _) => "U".to_owned(),
            (Some(v), _) if !v.is_finite() => "U".to_owned(),
            (Some(v), Type::Derive) => format!("{}", v.floor() as i64),
            (Some(v), Type::Gauge) => format!("{v}"),
        };
        let _ = writeln!(out, "{}.value {value}", f.name);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn patterns_are_keys_or_prefixes() {
        let p = Pattern::parse_all("shop.orders, web.*\tq");
        assert_eq!(
            p,
            [
                Pattern::Exact("shop.orders".into()),
                Pattern::Prefix("web.".into()),
                Pattern::Exact("q".into())
            ]
        );
        assert!(p[1].matches("web.hits") && !p[0].matches("shop.orders2"));
    }

    #[test]
    fn kinds_become_derive_totals_and_gauges() {
        let series = [
            json!({"key": "a.b", "kind": "counter", "last": {"rate": 2.0}, "total": 12.5}),
            json!({"key": "a_b", "kind": "gauge", "last": {"value": 3.5}, "total": 0.0}),
            json!({"key": "lat", "kind": "timer", "last": {"mean": 20.0, "pct": null}, "total": 4.0}),
            json!({"key": "1u", "kind": "set", "last": {"members": 2.0}, "total": 0.0}),
        ];
        let fields = fields(&series, "99.9");
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["a_b", "a_b_2", "lat_count", "lat_mean", "lat_p99_9", "_1u"]
        );
        assert_eq!(
            fetch(&fields),
            "a_b.value 12\na_b_2.value 3.5\nlat_count.value 4\nlat_mean.value 20\nlat_p99_9.value U\n_1u.value 2\n"
        );
        let config = config("t", "v", &fields[..2]);
        assert_eq!(
            config,
            "graph_title t\ngraph_args --base 1000\ngraph_vlabel v\ngraph_category statkit\n\
             a_b.label a.b\na_b.type DERIVE\na_b.min 0\na_b_2.label a_b\na_b_2.type GAUGE\n"
        );
    }

    #[test]
    fn pages_keep_the_matching_series_once_in_key_order() {
        let pattern = Pattern::Prefix("web.".into());
        assert_eq!(
            page_path(&pattern, 20),
            "/api/v1/metrics?limit=10000&offset=20&filter=web."
        );
        let mut selection = Selection::default();
        let first = json!({"pct": "99", "next_offset": 2, "metrics": [
            {"key": "web.b", "kind": "gauge", "last": {"value": 1.0}},
            {"key": "webx", "kind": "gauge", "last": {"value": 2.0}},
        ]});
        let second = json!({"metrics": [
            {"key": "web.a", "kind": "gauge", "last": {"value": 3.0}},
            {"key": "web.b", "kind": "gauge", "last": {"value": 4.0}},
        ]});
        assert_eq!(selection.add_page(&pattern, &first), Some(2));
        assert_eq!(selection.add_page(&pattern, &second), None);
        assert_eq!(selection.pct, "99");
        let fields = selection.into_fields();
        assert_eq!(fetch(&fields), "web_a.value 3\nweb_b.value 4\n");
    }

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(encode("a.b;env=prod"), "a.b%3Benv%3Dprod");
    }
}
