//! mmstats 0.8's version 1 files, both ways.
//!
//! A file is a version byte (1) followed by field records, back to back,
//! with no alignment, ended by a zero label length or the end of the file:
//!
//! ```text
//! u16 label_len | label | u16 sig_len | sig (a Python struct code) | u8 write_buffer | value(s)
//! ```
//!
//! `write_buffer` is 0xFF for a field written in place (one value), or the
//! index (0 or 1) of the buffer the writer fills next, in which case two
//! values follow and the current one is the other buffer. Integers are in
//! the writer's byte order; every mmstats file seen in practice is
//! little-endian (x86-64), which is what this module reads and writes.

use crate::bytes::{slice, u16_at};
use crate::{Format, FormatError, Stat, StatFile, Value};

/// The first byte of an mmstats v1 file.
pub const VERSION: u8 = 1;
/// mmstats files are whole pages.
const PAGE: usize = 4096;
/// `write_buffer` of a field written in place.
const UNBUFFERED: u8 = 0xff;

/// Decodes an mmstats v1 file.
pub fn decode(bytes: &[u8]) -> Result<StatFile, FormatError> {
    match bytes.first() {
        Some(&VERSION) => {}
        Some(&other) => {
            return Err(FormatError::UnsupportedVersion {
                found: other.into(),
                known: VERSION.into(),
            })
        }
        None => {
            return Err(FormatError::Truncated {
                what: "version byte",
                needed: 1,
                len: 0,
            })
        }
    }
    let mut at = 1u64;
    let mut stats = Vec::new();
    let len = bytes.len() as u64;
    // The reference reader stops at an empty read, a lone NUL or two NULs.
    while at + 1 < len || (at < len && bytes[at as usize] != 0) {
        let label_len = u16_at(bytes, at, "field label length")?;
        if label_len == 0 {
            break;
        }
        let label = slice(bytes, at + 2, label_len.into(), "field label")?;
        at += 2 + u64::from(label_len);
        let sig_len = u16_at(bytes, at, "field type length")?;
        let sig = slice(bytes, at + 2, sig_len.into(), "field type")?;
        at += 2 + u64::from(sig_len);
        let label = String::from_utf8_lossy(label).into_owned();
        let code = Code::parse(sig).ok_or_else(|| {
            FormatError::Corrupt(format!(
                "field {label:?}: unknown type {:?}",
                String::from_utf8_lossy(sig)
            ))
        })?;
        let write_buffer = slice(bytes, at, 1, "field write buffer")?[0];
        at += 1;
        let size = code.size();
        let current = match write_buffer {
            UNBUFFERED => 0,
            0 | 1 => u64::from(write_buffer ^ 1),
            other => {
                return Err(FormatError::Corrupt(format!(
                    "field {label:?}: write buffer {other}"
                )))
            }
        };
        let copies = if write_buffer == UNBUFFERED { 1 } else { 2 };
        let len = size.saturating_mul(copies);
        slice(bytes, at, len, "field value")?;
        let raw = slice(bytes, at + current * size, size, "field value")?;
        at += len;
        stats.push(Stat {
            label,
            value: code.read(raw),
        });
    }
    let pid = stats
        .iter()
        .rev()
        .find(|stat| stat.label.ends_with("sys.pid"))
        .and_then(|stat| match stat.value {
            Value::Unsigned(n) => u32::try_from(n).ok(),
            Value::Signed(n) => u32::try_from(n).ok(),
            _ => None,
        });
    Ok(StatFile {
        format: Format::Mmstats,
        pid,
        identity: None,
        stats,
        descriptions: Vec::new(),
    })
}

/// A Python `struct` code for one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Unsigned(u8),
    Signed(u8),
    F32,
    F64,
    Bool,
    Text(u64),
}

impl Code {
    fn parse(sig: &[u8]) -> Option<Code> {
        Some(match sig {
            b"Q" | b"L" => Code::Unsigned(8),
            b"q" | b"l" => Code::Signed(8),
            b"I" => Code::Unsigned(4),
            b"i" => Code::Signed(4),
            b"H" => Code::Unsigned(2),
            b"h" => Code::Signed(2),
            b"B" => Code::Unsigned(1),
            b"b" => Code::Signed(1),
            b"?" => Code::Bool,
            b"f" => Code::F32,
            b"d" => Code::F64,
            b"c" | b"s" => Code::Text(1),
            [digits @ .., b's'] if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) => {
                Code::Text(std::str::from_utf8(digits).ok()?.parse().ok()?)
            }
            _ => return None,
        })
    }

    fn size(self) -> u64 {
        match self {
            Code::Unsigned(n) | Code::Signed(n) => n.into(),
            Code::F32 => 4,
            Code::F64 => 8,
            Code::Bool => 1,
            Code::Text(n) => n,
        }
    }

    /// Reads a value of this code from exactly `size()` bytes.
    fn read(self, raw: &[u8]) -> Value {
        let mut wide = [0u8; 8];
        let n = raw.len().min(8);
        wide[..n].copy_from_slice(&raw[..n]);
        let unsigned = u64::from_le_bytes(wide);
        match self {
            Code::Unsigned(_) => Value::Unsigned(unsigned),
            Code::Signed(width) => {
                let shift = 64 - 8 * u32::from(width);
                Value::Signed(((unsigned << shift) as i64) >> shift)
            }
            Code::F32 => Value::Float(f32::from_bits(unsigned as u32).into()),
            Code::F64 => Value::Float(f64::from_bits(unsigned)),
            Code::Bool => Value::Bool(unsigned != 0),
            Code::Text(_) => Value::Text(crate::layout::until_nul(raw)),
        }
    }
}

/// A value to write into an mmstats file, with the type mmstats readers
/// will see.
#[derive(Debug, Clone, PartialEq)]
pub enum MmValue {
    /// `Q`
    U64(u64),
    /// `q`
    I64(i64),
    /// `I`
    U32(u32),
    /// `i`
    I32(i32),
    /// `d`
    F64(f64),
    /// `?`
    Bool(bool),
    /// `<size>s`: UTF-8, cut on a character boundary to `size` bytes.
    Text {
        /// Bytes reserved.
        size: u16,
        /// The text.
        value: String,
    },
}

/// Encodes `fields` as an mmstats v1 file, whole pages long, as mmstats
/// itself writes them (numbers double-buffered, booleans and text in
/// place). Labels longer than 65535 bytes are cut.
pub fn encode(fields: &[(String, MmValue)]) -> Vec<u8> {
    let mut out = vec![VERSION];
    for (label, value) in fields {
        let label = crate::layout::truncate_utf8(label, u16::MAX.into());
        out.extend_from_slice(&(label.len() as u16).to_le_bytes());
        out.extend_from_slice(label.as_bytes());
        let (sig, bytes, buffered) = raw_value(value);
        out.extend_from_slice(&(sig.len() as u16).to_le_bytes());
        out.extend_from_slice(sig.as_bytes());
        if buffered {
            // Next write goes to buffer 1, so readers read buffer 0.
            out.push(1);
            out.extend_from_slice(&bytes);
            out.extend_from_slice(&bytes);
        } else {
            out.push(UNBUFFERED);
            out.extend_from_slice(&bytes);
        }
    }
    let len = out.len().div_ceil(PAGE).max(1) * PAGE;
    out.resize(len, 0);
    out
}

fn raw_value(value: &MmValue) -> (String, Vec<u8>, bool) {
    match value {
        MmValue::U64(n) => ("Q".into(), n.to_le_bytes().to_vec(), true),
        MmValue::I64(n) => ("q".into(), n.to_le_bytes().to_vec(), true),
        MmValue::U32(n) => ("I".into(), n.to_le_bytes().to_vec(), true),
        MmValue::I32(n) => ("i".into(), n.to_le_bytes().to_vec(), true),
        MmValue::F64(n) => ("d".into(), n.to_le_bytes().to_vec(), true),
        MmValue::Bool(b) => ("?".into(), vec![u8::from(*b)], false),
        MmValue::Text { size, value } => {
            let mut bytes = crate::layout::truncate_utf8(value, (*size).into())
                .as_bytes()
                .to_vec();
            bytes.resize((*size).into(), 0);
            (format!("{size}s"), bytes, false)
        }
    }
}
