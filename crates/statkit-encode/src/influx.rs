//! InfluxDB line protocol: a flush's [`Export`] as lines for InfluxDB's
//! `/write` (v1) and `/api/v2/write` (v2), and VictoriaMetrics' `/write`.
//!
//! The measurement is the metric name, the tags are the series' labels,
//! and the fields are named so that a database that joins measurement and
//! field with `_` (VictoriaMetrics) gets the names `/metrics` has:
//!
//! - a counter: `<name> total=<since first seen>`;
//! - a gauge or a set: `<name> value=<value>`;
//! - a timer: `<name> count=...,sum=...`, and one line per bucket,
//!   `<name>,le=<bound> bucket=<values at most it>` (`le=+Inf` too).
//!
//! Every line has the flush time in nanoseconds (the default precision).
//! Escaping: commas, spaces and `=` in tag values get a backslash; the
//! characters line protocol cannot carry in a tag value whatever the
//! escaping (backslash, whose escaping InfluxDB and VictoriaMetrics read
//! differently, and line breaks) become `_`; a tag with an empty value is
//! left out (InfluxDB refuses it). Metric names and label names are
//! already `[A-Za-z0-9_:]`. Fields that are not finite (InfluxDB stores
//! no NaN or infinity) are left out, and a line left without a field.

use crate::export::{Export, Value};
use crate::prometheus::{float, number};

/// The request's content type.
pub const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The flush as line protocol, one line per series (and per bucket).
pub fn encode(export: &Export<'_>) -> Vec<u8> {
    let mut out = String::with_capacity(export.series.len() * 80);
    let time = export.timestamp_ms.saturating_mul(1_000_000).to_string();
    let les: Vec<String> = export.bounds.iter().map(|&b| float(b)).collect();
    for s in &export.series {
        let mut tags = String::new();
        for (name, value) in &s.labels {
            tag(&mut tags, name, value);
        }
        let mut write = |extra: Option<&str>, fields: &[(&str, f64)]| {
            let mut all = tags.clone();
            if let Some(le) = extra {
                tag(&mut all, "le", le);
            }
            line(&mut out, &s.name, &all, fields, &time);
        };
        match s.value {
            Value::Counter(total) => write(None, &[("total", total)]),
            Value::Gauge(value) => write(None, &[("value", value)]),
            Value::Histogram {
                count,
                sum,
                buckets,
            } => {
                write(None, &[("count", count), ("sum", sum)]);
                for (le, &n) in les.iter().zip(buckets) {
                    write(Some(le), &[("bucket", n)]);
                }
                write(Some("+Inf"), &[("bucket", count)]);
            }
        }
    }
    out.into_bytes()
}

/// Adds `,name=value` (escaped) unless the value is empty.
fn tag(out: &mut String, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    out.push(',');
    out.push_str(name);
    out.push('=');
    for c in value.chars() {
        match c {
            ',' | ' ' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '\\' | '\n' | '\r' => out.push('_'),
            c => out.push(c),
        }
    }
}

/// `measurement,tags field=1,field=2 time`, finite fields only.
fn line(out: &mut String, measurement: &str, tags: &str, fields: &[(&str, f64)], time: &str) {
    let mut finite = fields.iter().filter(|(_, v)| v.is_finite()).peekable();
    if finite.peek().is_none() {
        return;
    }
    out.push_str(measurement);
    out.push_str(tags);
    for (i, (name, value)) in finite.enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(name);
        out.push('=');
        number(out, *value);
    }
    out.push(' ');
    out.push_str(time);
    out.push('\n');
}

#[cfg(test)]
mod tests;
