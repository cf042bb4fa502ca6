//! Prometheus exposition of the store: text format 0.0.4 or OpenMetrics
//! 1.0.
//!
//! - A counter is a `counter` family: `<name>_total`, the count since the
//!   series was first seen (kept across restarts by the state file).
//! - A gauge is a `gauge`; a set a `gauge` of the members the last flush
//!   saw.
//! - A timer is a `histogram`: `<name>_bucket{le=...}` for the configured
//!   bounds and `+Inf`, `_sum`, `_count`, all since first seen.
//!
//! A key `name;tag=value;bare` gives the metric name `name` and the labels
//! `tag="value"` and `bare="true"`. Metric names keep `[A-Za-z0-9_:]` and
//! turn every other byte into `_`; label names keep `[A-Za-z0-9_]`. Two
//! keys that give the same name and labels, or one name used by two
//! kinds, would make the exposition invalid: the first (in key order) is
//! kept, the rest are left out and counted.

use std::fmt::Write;

use statkit_store::{split_key, Kind, Series, Store, Tag};

/// Which exposition format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (without `q=0`), else text 0.0.4.
    pub fn negotiate(accept: &str) -> Format {
        let wants = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            parts.next() == Some("application/openmetrics-text")
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One series, ready to sort into families.
struct Entry<'s> {
    family: String,
    kind: Kind,
    labels: String,
    raw_name: &'s [u8],
    series: &'s Series,
}

/// Writes the store in `format` to `out`; returns how many series were
/// left out for clashing names.
pub fn render(store: &Store, format: Format, out: &mut String) -> usize {
    render_described(store, format, &|_| None, out)
}

/// A family's own help text and unit, from where its values came from (a
/// stats file's `describe_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Described<'d> {
    /// The `# HELP` text (empty: the default text).
    pub help: &'d str,
    /// The unit (empty: none).
    pub unit: &'d str,
}

/// [`render`], with `described` giving a statsd name's (a key without its
/// tags) help text and unit: its family's `# HELP` is that text and, in
/// OpenMetrics, `# UNIT` is the unit when the family's name ends with
/// `_<unit>`, as the OpenMetrics specification requires of a unit
/// (otherwise the unit is left out). Families take the description of
/// their first series' name.
pub fn render_described<'d>(
    store: &Store,
    format: Format,
    described: &dyn Fn(&[u8]) -> Option<Described<'d>>,
    out: &mut String,
) -> usize {
    let mut entries: Vec<Entry<'_>> = store
        .iter()
        .map(|(kind, key, series)| {
            let (name, tags) = split_key(key);
            Entry {
                family: metric_name(name),
                kind,
                labels: labels(tags, kind == Kind::Timer),
                raw_name: name,
                series,
            }
        })
        .collect();
    entries.sort_unstable_by(|a, b| {
        (&a.family, a.kind, &a.labels, a.raw_name).cmp(&(&b.family, b.kind, &b.labels, b.raw_name))
    });
    let les: Vec<String> = store.options().bounds.iter().map(|&b| float(b)).collect();
    let mut clashes = 0;
    let mut previous: Option<(&str, Kind, &str)> = None;
    for e in &entries {
        match previous {
            Some((family, kind, labels)) if family == e.family => {
                if kind != e.kind || labels == e.labels {
                    clashes += 1;
                    continue;
                }
            }
            _ => header(out, format, e, described(e.raw_name)),
        }
        previous = Some((&e.family, e.kind, &e.labels));
        samples(out, e, &les);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    clashes
}

/// A valid metric name: `[A-Za-z_:][A-Za-z0-9_:]*`.
pub fn metric_name(name: &[u8]) -> String {
    let mut out = Vec::with_capacity(name.len() + 1);
    if name.first().is_none_or(u8::is_ascii_digit) {
        out.push(b'_');
    }
    out.extend(name.iter().map(|&b| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b':' => b,
        _ => b'_',
    }));
    // Every byte is ASCII by construction.
    String::from_utf8(out).unwrap_or_default()
}

/// A valid label name: `[A-Za-z_][A-Za-z0-9_]*`, not starting with `__`
/// (reserved) and, on a histogram, not `le`.
fn label_name(name: &[u8], histogram: bool) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    if name.first().is_none_or(u8::is_ascii_digit) || name.starts_with(b"__") {
        out.push_str("tag_");
    }
    out.extend(name.iter().map(|&b| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => char::from(b),
        _ => '_',
    }));
    if histogram && out == "le" {
        out.insert_str(0, "tag_");
    }
    out
}

/// The label set `{a="1",b="true"}` of a key's tags (empty for none); a
/// label name given twice keeps its first value.
fn labels<'k>(tags: impl Iterator<Item = Tag<'k>>, histogram: bool) -> String {
    let mut pairs: Vec<(String, &[u8])> = Vec::new();
    for (name, value) in tags {
        let value = value.unwrap_or(b"true");
        let name = label_name(name, histogram);
        if !pairs.iter().any(|(n, _)| *n == name) {
            pairs.push((name, value));
        }
    }
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(name);
        out.push_str("=\"");
        escape(&String::from_utf8_lossy(value), true, &mut out);
        out.push('"');
    }
    if !out.is_empty() {
        out.push('}');
    }
    out
}

/// Escapes `\` and newlines, and `"` in label values.
fn escape(text: &str, quote: bool, out: &mut String) {
    if !text.contains(['\\', '\n', '"']) {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn header(out: &mut String, format: Format, e: &Entry<'_>, described: Option<Described<'_>>) {
    let (type_name, what) = match e.kind {
        Kind::Counter => ("counter", " statsd counter, count since first seen: "),
        Kind::Gauge => ("gauge", " statsd gauge: "),
        Kind::Timer => ("histogram", " statsd timer, milliseconds: "),
        Kind::Set => ("gauge", " statsd set, members in the last flush: "),
    };
    let total = if (format, e.kind) == (Format::Text, Kind::Counter) {
        "_total"
    } else {
        ""
    };
    for (i, part) in ["# HELP ", "# TYPE "].into_iter().enumerate() {
        out.push_str(part);
        out.push_str(&e.family);
        out.push_str(total);
        if let (0, Some(d)) = (i, described.filter(|d| !d.help.is_empty())) {
            out.push(' ');
            escape(d.help, format == Format::OpenMetrics, out);
        } else if i == 0 {
            out.push_str(what);
            match std::str::from_utf8(e.raw_name) {
                Ok(name) => escape(name, false, out),
                Err(_) => escape(&String::from_utf8_lossy(e.raw_name), false, out),
            }
        } else {
            out.push(' ');
            out.push_str(type_name);
        }
        out.push('\n');
    }
    if let Some(unit) = described.and_then(|d| openmetrics_unit(format, &e.family, d.unit)) {
        out.push_str("# UNIT ");
        out.push_str(&e.family);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
}

/// The unit OpenMetrics may show for `family`: only there, only when the
/// name ends with `_<unit>`.
fn openmetrics_unit<'u>(format: Format, family: &str, unit: &'u str) -> Option<&'u str> {
    let suffix = family.strip_suffix(unit)?;
    (format == Format::OpenMetrics && !unit.is_empty() && suffix.ends_with('_')).then_some(unit)
}

fn samples(out: &mut String, e: &Entry<'_>, les: &[String]) {
    let (family, labels, s) = (&e.family, &e.labels, e.series);
    match e.kind {
        Kind::Counter => line(out, family, "_total", labels, s.total),
        Kind::Gauge | Kind::Set => line(out, family, "", labels, s.last[0]),
        Kind::Timer => {
            if s.buckets.len() == les.len() {
                for (le, &count) in les.iter().zip(&s.buckets) {
                    bucket(out, family, labels, le, count);
                }
            }
            bucket(out, family, labels, "+Inf", s.total);
            line(out, family, "_sum", labels, s.sum);
            line(out, family, "_count", labels, s.total);
        }
    }
}

fn line(out: &mut String, family: &str, suffix: &str, labels: &str, value: f64) {
    out.push_str(family);
    out.push_str(suffix);
    out.push_str(labels);
    out.push(' ');
    number(out, value);
    out.push('\n');
}

fn bucket(out: &mut String, family: &str, labels: &str, le: &str, count: f64) {
    out.push_str(family);
    out.push_str("_bucket");
    match labels.strip_suffix('}') {
        Some(open) => {
            out.push_str(open);
            out.push_str(",le=\"");
        }
        None => out.push_str("{le=\""),
    }
    out.push_str(le);
    out.push_str("\"} ");
    number(out, count);
    out.push('\n');
}

/// A bound as OpenMetrics wants `le` values: always with a decimal point
/// or exponent (`1.0`, `0.5`, `1e+21`).
fn float(v: f64) -> String {
    let mut s = String::new();
    number(&mut s, v);
    if !s.contains(['.', 'e', 'I', 'N']) {
        s.push_str(".0");
    }
    s
}

/// Writes a sample value as both formats spell it: `NaN`, `+Inf`, `-Inf`,
/// integers without a fraction, others in the shortest form that reads
/// back exactly (`0.1`, `1e+21`).
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        // Integers are most values (counts); they print faster as such.
        let _ = write!(out, "{}", v as i64);
    } else {
        out.push_str(ryu_js::Buffer::new().format_finite(v));
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod described_tests;
