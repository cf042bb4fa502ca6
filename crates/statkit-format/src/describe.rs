//! Descriptions: a metric name's help text and unit, kept in the file so
//! every reader sees what `describe_counter!` and its kin said.
//!
//! They sit in a section of their own between the entry table and the
//! blocks (found through the header's `descriptions` fields), as records
//! back to back, each 8-aligned:
//!
//! ```text
//! u16 name length, u16 unit length, u16 help length, u16 reserved (0)
//! name, unit, help (UTF-8), zeros to a multiple of 8
//! ```
//!
//! A description belongs to a metric *name*, tags aside, as in the
//! `metrics` crate, so it may come before the metric and covers every tag
//! set of it. The writer only appends (a later record for a name replaces
//! the earlier) and raises the header's `descriptions used` after a record
//! is whole, so a reader that read the header first copies whole records.

use std::collections::HashMap;

use crate::bytes::{slice, u16_at};
use crate::layout::NAME_MAX;
use crate::FormatError;

/// Longest help text, in UTF-8 bytes.
pub const HELP_MAX: usize = 1024;
/// Longest unit, in UTF-8 bytes.
pub const UNIT_MAX: usize = 64;
/// Largest section a reader accepts, in bytes (at least 4,096 records).
pub const SECTION_MAX: u32 = 1 << 20;
/// Bytes before a record's strings.
pub const RECORD_HEAD: usize = 8;

/// A metric name's help text and unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The metric's name, without tags.
    pub name: String,
    /// Its unit (`seconds`, `bytes`, ...), or empty.
    pub unit: String,
    /// What it measures, or empty.
    pub help: String,
}

/// Why a description cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescribeError {
    /// The name is empty, too long, or holds what names cannot.
    #[error("cannot describe {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The unit or the help text is over its limit, or the unit holds a
    /// control character.
    #[error("cannot describe {name:?}: the {what} is {len} bytes (at most {max}) or holds control characters")]
    TooLong {
        /// The metric's name.
        name: String,
        /// `unit` or `help text`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl Description {
    /// A description, checked against the format's limits: a name of 1 to
    /// [`NAME_MAX`] bytes without `{`, `}` or control characters, a unit
    /// of at most [`UNIT_MAX`] bytes without control characters, a help
    /// text of at most [`HELP_MAX`] bytes.
    pub fn new(name: &str, unit: &str, help: &str) -> Result<Description, DescribeError> {
        let invalid = |reason| DescribeError::InvalidName {
            name: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(invalid("the name is empty"));
        }
        if name.len() > NAME_MAX {
            return Err(invalid("the name is longer than a label"));
        }
        if name.contains(['{', '}']) || name.chars().any(char::is_control) {
            return Err(invalid("names cannot hold '{', '}' or control characters"));
        }
        let too_long = |what, len, max| DescribeError::TooLong {
            name: name.to_owned(),
            what,
            len,
            max,
        };
        if unit.len() > UNIT_MAX || unit.chars().any(char::is_control) {
            return Err(too_long("unit", unit.len(), UNIT_MAX));
        }
        if help.len() > HELP_MAX {
            return Err(too_long("help text", help.len(), HELP_MAX));
        }
        Ok(Description {
            name: name.to_owned(),
            unit: unit.to_owned(),
            help: help.to_owned(),
        })
    }

    /// The record's bytes, padded to a multiple of 8. The lengths fit
    /// their `u16`s: [`Description::new`] checked them, and a decoded
    /// description was checked against the same limits.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.record_len());
        for len in [self.name.len(), self.unit.len(), self.help.len(), 0] {
            out.extend_from_slice(&(len as u16).to_le_bytes());
        }
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(self.unit.as_bytes());
        out.extend_from_slice(self.help.as_bytes());
        out.resize(self.record_len(), 0);
        out
    }

    /// Bytes the record takes in the section.
    pub fn record_len(&self) -> usize {
        (RECORD_HEAD + self.name.len() + self.unit.len() + self.help.len()).div_ceil(8) * 8
    }
}

/// The descriptions in a section's used bytes, one per name (the last
/// record of a name wins), in the order names first appear. Work and
/// memory are linear in `section`'s length: every record takes at least 16
/// bytes.
pub fn decode_section(section: &[u8]) -> Result<Vec<Description>, FormatError> {
    let mut out: Vec<Description> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut at = 0usize;
    while at < section.len() {
        let (description, len) = decode_record(section, at)?;
        match by_name.get(&description.name) {
            Some(&index) => out[index] = description,
            None => {
                by_name.insert(description.name.clone(), out.len());
                out.push(description);
            }
        }
        at += len;
    }
    Ok(out)
}

/// The record at `at` and the bytes it takes.
fn decode_record(section: &[u8], at: usize) -> Result<(Description, usize), FormatError> {
    let what = "descriptions";
    let field = |offset: usize| u16_at(section, (at + offset) as u64, what).map(usize::from);
    let (name, unit, help) = (field(0)?, field(2)?, field(4)?);
    for (field, len, max) in [
        ("description name length", name, NAME_MAX),
        ("description unit length", unit, UNIT_MAX),
        ("description help length", help, HELP_MAX),
    ] {
        if len > max {
            return Err(FormatError::SizeLying {
                field,
                value: len as u64,
                limit: max as u64,
            });
        }
    }
    if name == 0 {
        return Err(FormatError::Corrupt(format!(
            "description at byte {at} has no name"
        )));
    }
    let record = (RECORD_HEAD + name + unit + help).div_ceil(8) * 8;
    let body = slice(
        section,
        (at + RECORD_HEAD) as u64,
        (record - RECORD_HEAD) as u64,
        what,
    )?;
    let text = |range: std::ops::Range<usize>| {
        std::str::from_utf8(&body[range])
            .map_err(|_| FormatError::Corrupt(format!("description at byte {at} is not UTF-8")))
    };
    let (name, unit, help) = (
        text(0..name)?,
        text(name..name + unit)?,
        text(name + unit..name + unit + help)?,
    );
    // What a writer may not write, a reader does not take either.
    let description = Description::new(name, unit, help)
        .map_err(|e| FormatError::Corrupt(format!("description at byte {at}: {e}")))?;
    Ok((description, record))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn section(descriptions: &[Description]) -> Vec<u8> {
        descriptions.iter().flat_map(Description::encode).collect()
    }

    #[test]
    fn a_later_record_replaces_the_earlier_in_place() {
        let old = Description::new("hits", "", "old").unwrap();
        let other = Description::new("latency", "seconds", "time to answer").unwrap();
        let new = Description::new("hits", "count", "requests served").unwrap();
        let decoded = decode_section(&section(&[old, other.clone(), new.clone()])).unwrap();
        assert_eq!(decoded, vec![new, other]);
    }

    #[test]
    fn limits_are_refused_when_written() {
        let long = "x".repeat(HELP_MAX + 1);
        assert!(Description::new("a", "", &long).is_err());
        assert!(Description::new("a", &"u".repeat(UNIT_MAX + 1), "").is_err());
        assert!(Description::new("a", "sec\nonds", "").is_err());
        assert!(Description::new("", "", "").is_err());
        assert!(Description::new("a{b=c}", "", "").is_err());
        assert!(Description::new(&"n".repeat(NAME_MAX + 1), "", "").is_err());
        let most = Description::new(
            &"n".repeat(NAME_MAX),
            &"u".repeat(UNIT_MAX),
            &"h".repeat(HELP_MAX),
        );
        assert_eq!(
            decode_section(&section(&[most.clone().unwrap()])).unwrap(),
            vec![most.unwrap()]
        );
    }

    #[test]
    fn lying_records_are_refused() {
        let mut bytes = Description::new("hits", "count", "served")
            .unwrap()
            .encode();
        bytes[4..6].copy_from_slice(&(HELP_MAX as u16 + 1).to_le_bytes());
        assert!(matches!(
            decode_section(&bytes),
            Err(FormatError::SizeLying { .. })
        ));
        bytes[4..6].copy_from_slice(&200u16.to_le_bytes());
        assert!(matches!(
            decode_section(&bytes),
            Err(FormatError::Truncated { .. })
        ));
        bytes[0..2].copy_from_slice(&0u16.to_le_bytes());
        assert!(matches!(
            decode_section(&bytes),
            Err(FormatError::Corrupt(_))
        ));
        let mut bad = Description::new("hits", "", "").unwrap().encode();
        bad[RECORD_HEAD] = 0xff;
        assert!(matches!(decode_section(&bad), Err(FormatError::Corrupt(_))));
        // A name a writer may not write: a brace.
        bad[RECORD_HEAD] = b'{';
        assert!(matches!(decode_section(&bad), Err(FormatError::Corrupt(_))));
        assert!(matches!(
            decode_section(&[1, 0, 0]),
            Err(FormatError::Truncated { .. })
        ));
    }

    fn description() -> impl Strategy<Value = Description> {
        ("[a-z][a-z0-9_.]{0,111}", "[a-z_]{0,64}", "\\PC{0,200}")
            .prop_filter_map("within limits", |(n, u, h)| {
                Description::new(&n, &u, &h).ok()
            })
    }

    proptest! {
        #[test]
        fn sections_round_trip(descriptions in proptest::collection::vec(description(), 0..20)) {
            let mut expected: Vec<Description> = Vec::new();
            for d in &descriptions {
                match expected.iter_mut().find(|e| e.name == d.name) {
                    Some(e) => *e = d.clone(),
                    None => expected.push(d.clone()),
                }
            }
            prop_assert_eq!(decode_section(&section(&descriptions)).unwrap(), expected);
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_section(&bytes);
        }
    }
}
