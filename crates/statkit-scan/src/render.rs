//! What `statkit slurp` prints: text for people, JSON for programs. The
//! Python reader in `python/statkit/reader.py` prints the same JSON.

use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Map, Value as Json};
use statkit_format::{Histogram, StatFile, Value};
use statkit_pipe::read::Process;
use statkit_pipe::Value as PipeValue;

/// The percentiles a histogram shows, as (name, fraction).
pub const PERCENTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)];

/// One file as text: `==> path`, then `  label value` lines with labels
/// padded to the longest, then `  # name [unit] help` for each described
/// name, then a blank line.
pub fn text(out: &mut impl Write, path: &Path, file: &StatFile) -> io::Result<()> {
    let rows = file
        .stats
        .iter()
        .map(|s| (s.label.as_str(), text_value(&s.value)));
    let notes = file.descriptions.iter().map(|d| {
        let unit = match d.unit.as_str() {
            "" => String::new(),
            unit => format!(" [{unit}]"),
        };
        // A file's words reach a terminal: no control characters.
        let help: String = d
            .help
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("# {}{unit} {help}", d.name)
    });
    block(out, path, rows, notes)
}

/// One statvent pipe's snapshot as text, laid out as [`text`] lays out a
/// file (floats with a decimal point, as in the JSON).
pub fn pipe_text(out: &mut impl Write, pipe: &Process) -> io::Result<()> {
    let rows = pipe.stats.iter().map(|(name, value)| {
        let shown = match *value {
            PipeValue::Int(i) => i.to_string(),
            PipeValue::Float(x) => format!("{x:?}"),
        };
        (name.as_str(), shown)
    });
    block(out, &pipe.path, rows, std::iter::empty())
}

fn block<'a>(
    out: &mut impl Write,
    path: &Path,
    rows: impl Iterator<Item = (&'a str, String)> + Clone,
    notes: impl Iterator<Item = String>,
) -> io::Result<()> {
    writeln!(out, "==> {}", path.display())?;
    let width = rows
        .clone()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in rows {
        writeln!(out, "  {label:width$} {value}")?;
    }
    for note in notes {
        writeln!(out, "  {note}")?;
    }
    writeln!(out)
}

/// A value as text: floats always with a decimal point or exponent.
pub fn text_value(value: &Value) -> String {
    match value {
        Value::Counter(n) | Value::Unsigned(n) => n.to_string(),
        Value::Signed(n) => n.to_string(),
        Value::Gauge(x) | Value::Float(x) | Value::MovingAverage(x) => format!("{x:?}"),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Text(s) => s.clone(),
        Value::Average { count, sum } => match *count {
            0 => "-".into(),
            n => format!("{:?}", sum / n as f64),
        },
        Value::Histogram(h) => histogram_text(h),
    }
}

fn histogram_text(h: &Histogram) -> String {
    if h.count == 0 {
        return "count=0".into();
    }
    let mut text = format!(
        "count={} sum={:?} min={:?} max={:?}",
        h.count, h.sum, h.min, h.max
    );
    for (name, q) in PERCENTILES {
        if let Some(v) = h.quantile(q) {
            text.push_str(&format!(" {name}={v:?}"));
        }
    }
    text
}

/// One file as the JSON object `slurp --json` prints in its array:
/// `{"path", "format", "pid", "stats": {label: value}}`, and, when the
/// file describes any metric name, `"descriptions": {name: {"unit",
/// "help"}}`.
pub fn json_file(path: &Path, file: &StatFile) -> Json {
    let stats = file
        .stats
        .iter()
        .map(|s| (s.label.clone(), json_value(&s.value)))
        .collect();
    let mut object = json_object(path, file.format.name(), file.pid, stats);
    if let (Some(object), false) = (object.as_object_mut(), file.descriptions.is_empty()) {
        let descriptions: Map<String, Json> = file
            .descriptions
            .iter()
            .map(|d| (d.name.clone(), json!({"unit": d.unit, "help": d.help})))
            .collect();
        object.insert("descriptions".into(), Json::Object(descriptions));
    }
    object
}

/// One statvent pipe's snapshot as the same object, with the format
/// `"pipe"`; integers as integers, floats as floats.
pub fn json_pipe(pipe: &Process) -> Json {
    let stats = pipe
        .stats
        .iter()
        .map(|(name, value)| {
            let json = match *value {
                PipeValue::Int(i) => json!(i),
                PipeValue::Float(x) => float(x),
            };
            (name.clone(), json)
        })
        .collect();
    json_object(&pipe.path, "pipe", Some(pipe.pid), stats)
}

fn json_object(path: &Path, format: &str, pid: Option<u32>, stats: Map<String, Json>) -> Json {
    json!({
        "path": path.to_string_lossy(),
        "format": format,
        "pid": pid,
        "stats": stats,
    })
}

/// A value as JSON: numbers, strings, booleans; an average as its mean
/// (null when empty); a histogram as an object of its statistics. Floats
/// that are not finite are null.
pub fn json_value(value: &Value) -> Json {
    match value {
        Value::Counter(n) | Value::Unsigned(n) => json!(n),
        Value::Signed(n) => json!(n),
        Value::Gauge(x) | Value::Float(x) | Value::MovingAverage(x) => float(*x),
        Value::Bool(b) => json!(b),
        Value::Text(s) => json!(s),
        Value::Average { count, sum } => match *count {
            0 => Json::Null,
            n => float(sum / n as f64),
        },
        Value::Histogram(h) => histogram_json(h),
    }
}

fn histogram_json(h: &Histogram) -> Json {
    let some = |x: Option<f64>| x.map_or(Json::Null, float);
    let filled = h.count > 0;
    let mut object = Map::new();
    object.insert("count".into(), json!(h.count));
    object.insert("sum".into(), float(h.sum));
    object.insert("min".into(), some(filled.then_some(h.min)));
    object.insert("max".into(), some(filled.then_some(h.max)));
    object.insert("mean".into(), some(h.mean()));
    for (name, q) in PERCENTILES {
        object.insert(name.into(), some(h.quantile(q)));
    }
    Json::Object(object)
}

fn float(x: f64) -> Json {
    serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
}
