//! Writing families and samples: names, labels, numbers as both formats
//! spell them.

use std::borrow::Cow;
use std::fmt::Write;

use statkit_mapping::{Observer, Rule};
use statkit_store::{Kind, Store, Tag};

use super::{Described, Entry, Format, Shape};
use crate::labels::{add_host, HostLabels};

/// A valid metric name: `[A-Za-z_:][A-Za-z0-9_:]*`.
pub fn metric_name(name: &[u8]) -> String {
    statkit_mapping::metric_name(name)
}

/// A valid label name: `[A-Za-z_][A-Za-z0-9_]*`, not starting with `__`
/// (reserved) and not `reserved` (`le` on a histogram, `quantile` on a
/// summary).
fn label_name(name: &[u8], reserved: Option<&str>) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    if name.first().is_none_or(u8::is_ascii_digit) || name.starts_with(b"__") {
        out.push_str("tag_");
    }
    out.extend(name.iter().map(|&b| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => char::from(b),
        _ => '_',
    }));
    if reserved == Some(out.as_str()) {
        out.insert_str(0, "tag_");
    }
    out
}

/// A label name and its value.
pub(crate) type Pair<'k> = (String, Cow<'k, str>);

/// The labels of a key's tags, in order: a bare tag's value is `true`, a
/// label name given twice keeps its first value.
pub(crate) fn tag_pairs<'k>(
    tags: impl Iterator<Item = Tag<'k>>,
    reserved: Option<&str>,
) -> Vec<Pair<'k>> {
    let mut pairs: Vec<Pair<'k>> = Vec::new();
    for (name, value) in tags {
        let value = String::from_utf8_lossy(value.unwrap_or(b"true"));
        let name = label_name(name, reserved);
        if !pairs.iter().any(|(n, _)| *n == name) {
            pairs.push((name, value));
        }
    }
    pairs
}

/// The label set `{a="1",b="true",host="web1"}` of a key's tags and the
/// host's labels (empty for none).
pub(super) fn labels<'k>(
    tags: impl Iterator<Item = Tag<'k>>,
    histogram: bool,
    host: Option<&HostLabels>,
) -> String {
    // Borrowing from the tags and the host's labels alike.
    let mut pairs: Vec<Pair<'_>> = tag_pairs(tags, histogram.then_some("le"));
    if let Some(host) = host {
        add_host(&mut pairs, host);
    }
    label_set(&pairs)
}

/// `{a="1",b="2"}` of `pairs` in their order; empty for none.
pub(super) fn label_set(pairs: &[Pair<'_>]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        out.push_str(name);
        out.push_str("=\"");
        escape(value, true, &mut out);
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

/// The `# TYPE` of a series of `kind`, mapped by `rule` or not.
pub(super) fn type_name(kind: Kind, rule: Option<&Rule>) -> &'static str {
    match (kind, rule.map(|r| &r.observer)) {
        (Kind::Counter, _) => "counter",
        (Kind::Gauge | Kind::Set, _) => "gauge",
        (Kind::Timer, None | Some(Observer::Histogram { .. })) => "histogram",
        (Kind::Timer, Some(Observer::Summary { .. })) => "summary",
    }
}

/// The label a timer's samples reserve: `le` or `quantile`.
pub(super) fn reserved(kind: Kind, rule: Option<&Rule>) -> Option<&'static str> {
    match type_name(kind, rule) {
        "histogram" => Some("le"),
        "summary" => Some("quantile"),
        _ => None,
    }
}

pub(super) fn header(
    out: &mut String,
    format: Format,
    e: &Entry<'_>,
    described: Option<Described<'_>>,
) {
    let rule = match &e.shape {
        Shape::Plain => None,
        Shape::Mapped { rule, .. } => Some(&**rule),
    };
    let what = match (e.kind, rule) {
        (Kind::Counter, _) => " statsd counter, count since first seen: ",
        (Kind::Gauge, _) => " statsd gauge: ",
        (Kind::Timer, None) => " statsd timer, milliseconds: ",
        (Kind::Timer, Some(_)) => " statsd timer, seconds: ",
        (Kind::Set, _) => " statsd set, members in the last flush: ",
    };
    let declared = match format {
        Format::Text => &e.exposed,
        Format::OpenMetrics => e.family(),
    };
    for (i, part) in ["# HELP ", "# TYPE "].into_iter().enumerate() {
        out.push_str(part);
        out.push_str(declared);
        if i == 1 {
            out.push(' ');
            out.push_str(type_name(e.kind, rule));
        } else if let Some(help) = rule.and_then(|r| r.help.as_deref()) {
            out.push(' ');
            escape(help, false, out);
        } else if let Some(d) = described.filter(|d| !d.help.is_empty()) {
            out.push(' ');
            escape(d.help, format == Format::OpenMetrics, out);
        } else if let Some(rule) = rule {
            out.push_str(what);
            out.push_str("mapped from ");
            escape(&rule.pattern, false, out);
        } else {
            out.push_str(what);
            escape(&String::from_utf8_lossy(e.raw_name), false, out);
        }
        out.push('\n');
    }
    let unit = described.and_then(|d| openmetrics_unit(format, declared, d.unit));
    if let Some(unit) = unit {
        out.push_str("# UNIT ");
        out.push_str(declared);
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

/// The store's bucket bounds (milliseconds) as `le` values, and the
/// quantile its timers' `pct` field is.
#[derive(Debug)]
pub(super) struct Les {
    bounds: Vec<f64>,
    les: Vec<String>,
    pct: Option<f64>,
    /// The store's newest flush (Unix seconds).
    pub last_flush: u64,
}

impl Les {
    pub(super) fn new(store: &Store) -> Les {
        let bounds = store.options().bounds.to_vec();
        Les {
            les: bounds.iter().map(|&b| float(b)).collect(),
            bounds,
            pct: store
                .pct_label()
                .replace('_', ".")
                .parse::<f64>()
                .ok()
                .map(|p| p / 100.0),
            last_flush: store.last_flush(),
        }
    }
}

pub(super) fn samples(out: &mut String, format: Format, e: &Entry<'_>, les: &Les) {
    let (family, labels, s) = (e.family(), &e.labels, e.series);
    match (&e.shape, e.kind) {
        // OpenMetrics requires `_total` on a counter's sample.
        (_, Kind::Counter) if format == Format::OpenMetrics && !e.total() => {
            line(out, &e.exposed, "_total", labels, s.total);
        }
        (_, Kind::Counter) => line(out, &e.exposed, "", labels, s.total),
        (_, Kind::Gauge | Kind::Set) => line(out, family, "", labels, s.last[0]),
        (Shape::Plain, Kind::Timer) => {
            if s.buckets.len() == les.les.len() {
                for (le, &count) in les.les.iter().zip(&s.buckets) {
                    bucket(out, family, labels, le, count);
                }
            }
            bucket(out, family, labels, "+Inf", s.total);
            line(out, family, "_sum", labels, s.sum);
            line(out, family, "_count", labels, s.total);
        }
        (Shape::Mapped { rule, .. }, Kind::Timer) => super::mapped::observer(out, e, rule, les),
    }
}

/// The store's bucket count at `bound` (seconds), when the store counts
/// at that bound (in milliseconds).
pub(super) fn count_at(les: &Les, counts: &[f64], bound: f64) -> Option<f64> {
    if counts.len() != les.bounds.len() {
        return None;
    }
    let ms = bound * 1000.0;
    let i = les
        .bounds
        .iter()
        .position(|&b| (b - ms).abs() <= ms.abs() * 1e-9)?;
    Some(counts[i])
}

/// The store's value for a summary quantile `q` from a timer's newest
/// row (rate, lower, mean, median, upper, pct; milliseconds), if it has
/// one: 0 is the lowest value, 0.5 the median, 1 the highest, and the
/// server's first percent threshold its bound.
pub(super) fn quantile_of(les: &Les, row: &[f64], q: f64) -> Option<f64> {
    let index = match q {
        0.0 => 1,
        0.5 => 3,
        1.0 => 4,
        q if les.pct.is_some_and(|p| (p - q).abs() < 1e-9) => 5,
        _ => return None,
    };
    row.get(index).copied()
}

pub(super) fn line(out: &mut String, family: &str, suffix: &str, labels: &str, value: f64) {
    out.push_str(family);
    out.push_str(suffix);
    out.push_str(labels);
    out.push(' ');
    number(out, value);
    out.push('\n');
}

/// A sample with one more label (`le` or `quantile`) after `labels`.
pub(super) fn with_label(
    out: &mut String,
    family: &str,
    suffix: &str,
    labels: &str,
    label: (&str, &str),
    value: f64,
) {
    out.push_str(family);
    out.push_str(suffix);
    match labels.strip_suffix('}') {
        Some(open) => {
            out.push_str(open);
            out.push(',');
        }
        None => out.push('{'),
    }
    out.push_str(label.0);
    out.push_str("=\"");
    out.push_str(label.1);
    out.push_str("\"} ");
    number(out, value);
    out.push('\n');
}

pub(super) fn bucket(out: &mut String, family: &str, labels: &str, le: &str, count: f64) {
    with_label(out, family, "_bucket", labels, ("le", le), count);
}

/// A bound as OpenMetrics wants `le` values: always with a decimal point
/// or exponent (`1.0`, `0.5`, `1e+21`).
pub(crate) fn float(v: f64) -> String {
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
pub(crate) fn number(out: &mut String, v: f64) {
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

/// `statkit_series_overflow_total`: the series reports the store folded
/// into each name's overflow series; nothing when none was.
pub(super) fn overflows(out: &mut String, format: Format, store: &Store) {
    let mut names = store.overflows().peekable();
    if names.peek().is_none() {
        return;
    }
    let family = match format {
        Format::Text => "statkit_series_overflow_total",
        Format::OpenMetrics => "statkit_series_overflow",
    };
    out.push_str("# HELP ");
    out.push_str(family);
    out.push_str(" Series reports folded into a name's overflow series (labels __overflow__): the name had max_series_per_name label sets\n# TYPE ");
    out.push_str(family);
    out.push_str(" counter\n");
    for (name, count) in names {
        let mut value = String::new();
        escape(&String::from_utf8_lossy(name), true, &mut value);
        line(
            out,
            "statkit_series_overflow_total",
            "",
            &format!("{{name=\"{value}\"}}"),
            count as f64,
        );
    }
}
