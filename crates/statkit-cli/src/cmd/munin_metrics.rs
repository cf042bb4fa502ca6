//! `statkit munin` linked as `statkit_metrics_<name>`: a munin graph of any
//! statkit series, chosen by the plug-in configuration's `env.metrics`
//! (keys, or `prefix*` for every key starting with `prefix`), read from
//! the server's `/api/v1/metrics`.
//!
//! munin computes rates itself from running totals (DERIVE), which the
//! history store keeps: a counter is graphed from its count since first
//! seen, a timer from its value count, so a missed poll loses nothing.
//! Gauges, sets' members and timers' mean and percentile are GAUGEs of the
//! newest flush.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// The link names' stem.
pub const STEM: &str = "statkit_metrics_";
/// Fields one graph holds at most; a wider graph is unreadable anyway.
const MAX_FIELDS: usize = 100;
/// Pages of `/api/v1/metrics` read per pattern at most.
const MAX_PAGES: usize = 10;
/// To connect and to read each answer: munin gives a plug-in 10 s in all.
const TIMEOUT: Duration = Duration::from_secs(4);

/// One entry of `env.metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    /// `env.metrics`: keys separated by spaces or commas; `a.b*` is every
    /// key starting with `a.b`.
    fn parse_all(text: &str) -> Vec<Pattern> {
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

/// How munin treats a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Type {
    /// A running total: munin graphs its rate per second.
    Derive,
    Gauge,
}

/// One line of the graph.
#[derive(Clone, Debug, PartialEq)]
struct Field {
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
fn config(title: &str, vlabel: &str, fields: &[Field]) -> String {
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
fn fetch(fields: &[Field]) -> String {
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

/// Runs the plug-in linked as `name` with munin's `action`.
pub fn run_as(name: &str, action: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let graph = &name[STEM.len().min(name.len())..];
    if graph.is_empty() {
        writeln!(out, "please link as {STEM}<name>")?;
        return Ok(ExitCode::FAILURE);
    }
    let server = Server::from_env();
    let patterns = Pattern::parse_all(&std::env::var("metrics").unwrap_or_default());
    let text = match action {
        Some("autoconf") => match (patterns.is_empty(), server.get("/api/v1/health")) {
            (true, _) => "no (set env.metrics in the plug-in configuration)\n".to_owned(),
            (false, Ok(_)) => "yes\n".to_owned(),
            (false, Err(e)) => format!("no ({e:#})\n"),
        },
        Some("suggest") => String::new(),
        Some("config") | Some("fetch") | None => {
            anyhow::ensure!(
                !patterns.is_empty(),
                "{name}: set env.metrics (series keys, or prefix*) in the plug-in configuration"
            );
            let (series, pct) = server.series(&patterns)?;
            let fields = fields(&series, &pct);
            if action == Some("config") {
                let title = std::env::var("title").unwrap_or_else(|_| format!("statkit {graph}"));
                let vlabel = std::env::var("vlabel")
                    .unwrap_or_else(|_| "per ${graph_period} or value".to_owned());
                config(&title, &vlabel, &fields)
            } else {
                fetch(&fields)
            }
        }
        Some(other) => {
            return Err(super::UsageError(format!("unknown munin action {other:?}")).into())
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// statkit's HTTP port: munin's `env.http_addr`, else `STATKIT_HTTP`, else
/// 127.0.0.1:8127.
struct Server {
    address: String,
}

impl Server {
    fn from_env() -> Server {
        let address = std::env::var("http_addr")
            .or_else(|_| std::env::var("STATKIT_HTTP"))
            .unwrap_or_else(|_| "127.0.0.1:8127".to_owned());
        let address = address
            .strip_prefix("http://")
            .unwrap_or(&address)
            .trim_end_matches('/')
            .to_owned();
        Server { address }
    }

    /// `GET path` as HTTP/1.0, so the answer is the body up to the end of
    /// the stream (no chunks); a status other than 200 is an error.
    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let to = self
            .address
            .to_socket_addrs()
            .with_context(|| format!("HTTP address {}", self.address))?
            .next()
            .with_context(|| format!("HTTP address {}: no address", self.address))?;
        let mut stream = TcpStream::connect_timeout(&to, TIMEOUT)
            .with_context(|| format!("connecting to statkit's HTTP port {to}"))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .with_context(|| format!("reading GET {path} from {to}"))?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .with_context(|| format!("GET {path}: not an HTTP answer"))?;
        let status = head.split_whitespace().nth(1).unwrap_or_default();
        anyhow::ensure!(status == "200", "GET {path}: status {status}: {body}");
        serde_json::from_str(body).with_context(|| format!("GET {path}: not JSON"))
    }

    /// The series matching `patterns`, each once in key order, and the
    /// timers' percentile.
    fn series(&self, patterns: &[Pattern]) -> anyhow::Result<(Vec<Value>, String)> {
        let mut found = std::collections::BTreeMap::new();
        let mut pct = String::from("90");
        for pattern in patterns {
            let mut offset = Some(0);
            for _ in 0..MAX_PAGES {
                let Some(at) = offset else { break };
                let page = self.get(&format!(
                    "/api/v1/metrics?limit=10000&offset={at}&filter={}",
                    encode(pattern.text())
                ))?;
                if let Some(p) = page["pct"].as_str() {
                    pct = p.to_owned();
                }
                for s in page["metrics"].as_array().into_iter().flatten() {
                    let key = s["key"].as_str().unwrap_or_default();
                    if pattern.matches(key) {
                        found.insert(key.to_owned(), s.clone());
                    }
                }
                offset = page["next_offset"].as_u64();
            }
        }
        Ok((found.into_values().collect(), pct))
    }
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
    fn filters_are_percent_encoded() {
        assert_eq!(encode("a.b;env=prod"), "a.b%3Benv%3Dprod");
    }
}
