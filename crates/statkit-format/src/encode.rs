//! Values to bytes: a whole statkit file in one go.
//!
//! Live processes write their files cell by cell through the `statkit`
//! crate; this encoder is for files written at once: the retired totals
//! `statkit clean` keeps, and tests. It puts every per-thread value in
//! block 1, as if one thread had written them all.

use crate::bytes::put;
use crate::cell::{self, TEXT_MAX};
use crate::layout::{self, Entry, Header, Layout, Section, FLAG_PIPED, FLAG_RETIRED};
use crate::layout::{STATE_READY, WORD};
use crate::{describe, DescribeError, Description, Identity, Kind, Stat, Value};

/// Why a set of values cannot be written as a statkit file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The label is longer than [`layout::NAME_MAX`] bytes.
    #[error("label {0:?} is longer than {max} bytes", max = layout::NAME_MAX)]
    LabelTooLong(String),
    /// The text is longer than [`TEXT_MAX`] bytes.
    #[error("text of {0:?} is longer than {TEXT_MAX} bytes")]
    TextTooLong(String),
    /// The value is one only mmstats files hold.
    #[error("{0:?} holds an mmstats value, which statkit files do not store")]
    NotStatkit(String),
    /// More cells than a block's 32-bit size holds.
    #[error("too many metrics for one file")]
    TooLarge,
    /// The descriptions' records take more than the section may.
    #[error("descriptions of {0} bytes, more than a file's {max}", max = describe::SECTION_MAX)]
    TooManyDescriptions(usize),
    /// A description is over a limit of the format.
    #[error(transparent)]
    Description(#[from] DescribeError),
}

/// Encodes `stats` as a ready statkit file written by `identity`, without
/// descriptions.
pub fn encode(identity: &Identity, stats: &[Stat]) -> Result<Vec<u8>, EncodeError> {
    encode_with(identity, stats, &[])
}

/// Encodes `stats` and the `descriptions` of their names as a ready
/// statkit file written by `identity`; the section is as large as the
/// records need.
pub fn encode_with(
    identity: &Identity,
    stats: &[Stat],
    descriptions: &[Description],
) -> Result<Vec<u8>, EncodeError> {
    let mut notes = Vec::new();
    for d in descriptions {
        // Fields are public: checked again before their lengths are cast.
        notes.extend(Description::new(&d.name, &d.unit, &d.help)?.encode());
    }
    let notes_len = u32::try_from(notes.len())
        .ok()
        .filter(|&n| n <= describe::SECTION_MAX)
        .ok_or(EncodeError::TooManyDescriptions(notes.len()))?;
    let mut entries = Vec::with_capacity(stats.len());
    let mut slots = 0u32;
    for stat in stats {
        let kind = kind_of(stat)?;
        if stat.label.len() > layout::NAME_MAX {
            return Err(EncodeError::LabelTooLong(stat.label.clone()));
        }
        entries.push(Entry {
            kind,
            slot: slots,
            words: kind.words(),
            param: 0,
            label: stat.label.clone(),
        });
        slots = slots
            .checked_add(kind.words())
            .ok_or(EncodeError::TooLarge)?;
    }
    let block_size = slots
        .max(1)
        .checked_mul(WORD as u32)
        .ok_or(EncodeError::TooLarge)?;
    let layout = Layout {
        capacity: u32::try_from(stats.len()).map_err(|_| EncodeError::TooLarge)?,
        block_size,
        descriptions: notes_len,
    };
    let header = Header {
        capacity: layout.capacity,
        block_size,
        blocks_offset: layout.blocks_offset(),
        flags: if identity.retired { FLAG_RETIRED } else { 0 }
            | if identity.piped { FLAG_PIPED } else { 0 },
        pid: identity.pid,
        start_time: identity.start_time,
        created_ns: identity.created_ns,
        program: identity.program.clone(),
        entries: layout.capacity,
        blocks: 2,
        slots_used: slots,
        state: STATE_READY,
        segments: 0,
        segment: 0,
        descriptions: Section {
            used: notes_len,
            ..layout.descriptions()
        },
    };
    let mut bytes = vec![0u8; layout.file_len(2) as usize];
    put(&mut bytes, 0, &header.encode());
    put(&mut bytes, layout.descriptions_offset() as usize, &notes);
    for (index, (entry, stat)) in entries.iter().zip(stats).enumerate() {
        let encoded = entry
            .encode()
            .ok_or_else(|| EncodeError::LabelTooLong(stat.label.clone()))?;
        put(
            &mut bytes,
            Layout::entry_offset(index as u32) as usize,
            &encoded,
        );
        let block = if entry.kind.per_thread() { 1 } else { 0 };
        let base = (layout.block_offset(block) + u64::from(entry.slot) * WORD) as usize;
        write_cells(&mut bytes[base..], stat)?;
    }
    Ok(bytes)
}

fn kind_of(stat: &Stat) -> Result<Kind, EncodeError> {
    Ok(match stat.value {
        Value::Counter(_) => Kind::Counter,
        Value::Gauge(_) => Kind::Gauge,
        Value::Histogram(_) => Kind::Histogram,
        Value::Text(_) => Kind::Text,
        Value::Average { .. } => Kind::Average,
        Value::MovingAverage(_) => Kind::MovingAverage,
        Value::Unsigned(_) | Value::Signed(_) | Value::Float(_) | Value::Bool(_) => {
            return Err(EncodeError::NotStatkit(stat.label.clone()))
        }
    })
}

/// Writes one value's cells at the start of `cells`.
fn write_cells(cells: &mut [u8], stat: &Stat) -> Result<(), EncodeError> {
    let mut word = |index: u32, value: u64| put(cells, index as usize * 8, &value.to_le_bytes());
    match &stat.value {
        Value::Counter(n) => word(0, *n),
        Value::Gauge(v) | Value::MovingAverage(v) => word(0, v.to_bits()),
        Value::Average { count, sum } => {
            word(cell::average::COUNT, *count);
            word(cell::average::SUM, sum.to_bits());
        }
        Value::Histogram(h) => {
            use cell::histogram as c;
            word(c::COUNT, h.count);
            word(c::SUM, h.sum.to_bits());
            word(c::MIN, h.min.to_bits());
            word(c::MAX, h.max.to_bits());
            for (index, &n) in h.buckets.iter().take(crate::histogram::BUCKETS).enumerate() {
                word(c::BUCKETS + index as u32, n);
            }
        }
        Value::Text(text) => {
            if text.len() > TEXT_MAX {
                return Err(EncodeError::TextTooLong(stat.label.clone()));
            }
            word(cell::text::LEN, text.len() as u64);
            put(cells, cell::text::BYTES as usize * 8, text.as_bytes());
        }
        Value::Unsigned(_) | Value::Signed(_) | Value::Float(_) | Value::Bool(_) => {
            return Err(EncodeError::NotStatkit(stat.label.clone()))
        }
    }
    Ok(())
}
