//! Bytes to values: a snapshot of a file in, its metrics out.
//!
//! The decoder trusts nothing in the file: every offset and count is checked
//! against the snapshot's length and the header's own limits with checked
//! arithmetic, so a truncated, corrupt or hostile file is an error, never a
//! panic or an out-of-bounds read.

use crate::cell::Cells;
use crate::layout::{self, Entry, Header, FLAG_RETIRED, STATE_READY};
use crate::{mmstats, Format, FormatError, Identity, Kind, Stat, StatFile, Value};

/// Decodes a statkit or mmstats v1 file, told apart by their first bytes.
pub fn decode(bytes: &[u8]) -> Result<StatFile, FormatError> {
    if bytes.starts_with(&layout::MAGIC) {
        decode_statkit(bytes)
    } else if bytes.first() == Some(&mmstats::VERSION) {
        mmstats::decode(bytes)
    } else if bytes.len() < layout::MAGIC.len() && layout::MAGIC.starts_with(bytes) {
        Err(FormatError::Truncated {
            what: "magic",
            needed: layout::MAGIC.len() as u64,
            len: bytes.len() as u64,
        })
    } else {
        Err(FormatError::ForeignMagic {
            found: bytes.iter().take(8).copied().collect(),
        })
    }
}

/// Decodes a statkit file.
pub fn decode_statkit(bytes: &[u8]) -> Result<StatFile, FormatError> {
    let (header, sizes) = Header::decode(bytes)?;
    if header.state != STATE_READY {
        return Err(FormatError::NotReady);
    }
    let table_end = u64::from(header.capacity)
        .saturating_mul(sizes.entry.into())
        .saturating_add(sizes.header.into());
    check("entries", header.entries.into(), header.capacity.into())?;
    let last = u64::from(layout::MAX_SEGMENTS - 1);
    check("segments", header.segments.into(), last)?;
    check("segment", header.segment.into(), last)?;
    check("entry table end", table_end, header.blocks_offset)?;
    let aligned = [
        u64::from(sizes.header),
        u64::from(sizes.entry),
        header.blocks_offset,
        u64::from(header.block_size),
    ];
    if aligned.iter().any(|n| n % layout::WORD != 0) {
        return Err(FormatError::Corrupt(format!(
            "header size {}, entry size {}, blocks offset {} and block size {} must be multiples of 8",
            sizes.header, sizes.entry, header.blocks_offset, header.block_size
        )));
    }
    check(
        "slots used",
        u64::from(header.slots_used) * layout::WORD,
        header.block_size.into(),
    )?;
    if header.blocks == 0 {
        return Err(FormatError::Corrupt("no block 0".into()));
    }
    // Saturating: a lying header makes these huge, never wrap to small.
    let needed = u64::from(header.blocks)
        .saturating_mul(header.block_size.into())
        .saturating_add(header.blocks_offset);
    if needed > bytes.len() as u64 {
        return Err(FormatError::Truncated {
            what: "blocks",
            needed,
            len: bytes.len() as u64,
        });
    }
    let mut stats = Vec::with_capacity(header.entries as usize);
    for index in 0..header.entries {
        let at = u64::from(sizes.header) + u64::from(index) * u64::from(sizes.entry);
        let entry = Entry::decode(bytes, at, index, header.slots_used)?;
        let value = read_value(bytes, &header, &entry)?;
        stats.push(Stat {
            label: entry.label,
            value,
        });
    }
    let identity = Identity {
        pid: header.pid,
        start_time: header.start_time,
        created_ns: header.created_ns,
        program: header.program,
        retired: header.flags & FLAG_RETIRED != 0,
    };
    Ok(StatFile {
        format: Format::Statkit,
        pid: Some(identity.pid).filter(|_| !identity.retired),
        identity: Some(identity),
        stats,
    })
}

fn check(field: &'static str, value: u64, limit: u64) -> Result<(), FormatError> {
    if value > limit {
        Err(FormatError::SizeLying {
            field,
            value,
            limit,
        })
    } else {
        Ok(())
    }
}

/// Reads an entry's value: its block 0 cells, or the sum over thread blocks.
fn read_value(bytes: &[u8], header: &Header, entry: &Entry) -> Result<Value, FormatError> {
    let block = |index: u32| {
        u64::from(index)
            .saturating_mul(header.block_size.into())
            .saturating_add(header.blocks_offset)
    };
    let shared = Cells::new(bytes, block(0), entry.slot);
    let threads = (1..header.blocks).map(|index| Cells::new(bytes, block(index), entry.slot));
    let label = entry.label.as_str();
    Ok(match entry.kind {
        Kind::Gauge => Value::Gauge(shared.f64()?),
        Kind::MovingAverage => Value::MovingAverage(shared.f64()?),
        Kind::Text => Value::Text(shared.text(label)?),
        Kind::Counter => {
            let mut total = 0u64;
            for cells in threads {
                total = total.wrapping_add(cells.word(0)?);
            }
            Value::Counter(total)
        }
        Kind::Average => {
            let (mut count, mut sum) = (0u64, 0.0);
            for cells in threads {
                let (n, s) = cells.average(label)?;
                count = count.wrapping_add(n);
                sum += s;
            }
            Value::Average { count, sum }
        }
        Kind::Histogram => {
            let mut total = crate::Histogram::default();
            for cells in threads {
                total.merge(&cells.histogram(label)?);
            }
            Value::Histogram(total)
        }
    })
}
