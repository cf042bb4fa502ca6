//! statvent's line format: `name: value`, one stat a line, `%d` for
//! integers and `%f` (six decimals) for floats.
//!
//! Names may hold spaces and colons (`name: with colon: 7` is the stat
//! `name: with colon`), so a line splits on its last colon; name and value
//! are trimmed of surrounding whitespace, and the value is read as an
//! integer if it is one, else as a float, as statvent's reader does.
//! statvent aborts the whole read on a line it cannot split; [`parse`]
//! reports such a line with its [`Reason`] and goes on.

use std::collections::HashSet;

use crate::Value;

/// What [`parse`] found in a snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The stats in the order of their lines.
    pub stats: Vec<(String, Value)>,
    /// Lines that were skipped, in order.
    pub malformed: Vec<Malformed>,
}

/// A line that is not a stat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    /// 1-based line number in the snapshot.
    pub line: usize,
    /// The line (lossily decoded, at most [`SHOWN_BYTES`] bytes of it).
    pub text: String,
    pub reason: Reason,
}

/// How much of a malformed line is kept to show.
pub const SHOWN_BYTES: usize = 200;

/// Why a line was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    #[error("not UTF-8")]
    NotUtf8,
    #[error("no `:` between name and value")]
    NoColon,
    #[error("empty name")]
    EmptyName,
    #[error("the value is not a number")]
    NotANumber,
    #[error("the name was already given by an earlier line (that one is kept)")]
    Duplicate,
}

/// Reads a whole snapshot. Blank lines are skipped silently; any other line
/// that is not `name: number` is reported and skipped.
pub fn parse(snapshot: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    let mut seen = HashSet::new();
    for (index, raw) in snapshot.split(|&b| b == b'\n').enumerate() {
        let result = std::str::from_utf8(raw)
            .map_err(|_| Reason::NotUtf8)
            .and_then(|text| stat(text.trim()));
        let reject = |reason| Malformed {
            line: index + 1,
            text: shown(raw),
            reason,
        };
        match result {
            Ok(None) => {}
            Ok(Some((name, value))) => {
                if seen.insert(name) {
                    parsed.stats.push((name.to_owned(), value));
                } else {
                    parsed.malformed.push(reject(Reason::Duplicate));
                }
            }
            Err(reason) => parsed.malformed.push(reject(reason)),
        }
    }
    parsed
}

/// One trimmed line: `None` when blank.
fn stat(line: &str) -> Result<Option<(&str, Value)>, Reason> {
    if line.is_empty() {
        return Ok(None);
    }
    let (name, raw) = line.rsplit_once(':').ok_or(Reason::NoColon)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Reason::EmptyName);
    }
    Ok(Some((name, number(raw.trim())?)))
}

/// An integer if it reads as one (and fits `i64`), else a float.
fn number(raw: &str) -> Result<Value, Reason> {
    if let Ok(i) = raw.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    raw.parse::<f64>()
        .map(Value::Float)
        .map_err(|_| Reason::NotANumber)
}

fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(&raw[..raw.len().min(SHOWN_BYTES)]).into_owned()
}

/// Why a stat cannot be written so that it reads back as itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    #[error("stat name {0:?} is empty, has a line break, or starts or ends with whitespace")]
    Name(String),
}

/// Appends one line for `name` and `value` to `out`, as statvent writes it:
/// `%d` for integers, `%f` for floats (`inf`, `-inf` and `nan` as Python
/// prints them).
pub fn write_stat(out: &mut String, name: &str, value: Value) -> Result<(), WriteError> {
    use std::fmt::Write as _;
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.len() != name.len() || name.contains('\n') {
        return Err(WriteError::Name(name.to_owned()));
    }
    // Writing to a String cannot fail.
    let _ = match value {
        Value::Int(i) => writeln!(out, "{name}: {i}"),
        Value::Float(f) if f.is_nan() => writeln!(out, "{name}: nan"),
        Value::Float(f) => writeln!(out, "{name}: {f:.6}"),
    };
    Ok(())
}

/// A whole snapshot of `stats`, in their order.
pub fn write<'a>(stats: impl IntoIterator<Item = (&'a str, Value)>) -> Result<String, WriteError> {
    let mut out = String::new();
    for (name, value) in stats {
        write_stat(&mut out, name, value)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
