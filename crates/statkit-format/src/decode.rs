//! Bytes to values: a snapshot of a file in, its metrics out.
//!
//! The decoder trusts nothing in the file: every offset and count is checked
//! against the snapshot's length and the header's own limits with checked
//! arithmetic, so a truncated, corrupt or hostile file is an error, never a
//! panic or an out-of-bounds read.
//!
//! Its work is linear in the snapshot's length. A per-thread metric is read
//! once per block, so entries whose cells overlap (a writer hands every
//! metric words of its own) would multiply the work: a crafted 10 MB file
//! of 40,000 entries on one shared slot and 650,000 blocks took 15 s. The
//! decoder therefore refuses entries whose cells add up to more than the
//! words handed out (`slots_used`), before it reads any value; then every
//! word of every block is read at most once.

use crate::bytes::slice;
use crate::cell::Cells;
use crate::layout::{self, Entry, Header, FLAG_PIPED, FLAG_RETIRED, STATE_READY};
use crate::Value;
use crate::{describe, mmstats, Description, Format, FormatError, Identity, Kind, Stat, StatFile};

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
    // `entries <= capacity` and the table fits before the blocks, which
    // fit in the bytes: this allocation is bounded by the input's length.
    let mut entries = Vec::with_capacity(header.entries as usize);
    let mut words = 0u64;
    for index in 0..header.entries {
        let at = u64::from(sizes.header) + u64::from(index) * u64::from(sizes.entry);
        let entry = Entry::decode(bytes, at, index, header.slots_used)?;
        words += u64::from(entry.words);
        entries.push(entry);
    }
    check("entry cells in total", words, header.slots_used.into())?;
    let descriptions = descriptions(bytes, &header, table_end)?;
    let mut stats = Vec::with_capacity(entries.len());
    for entry in entries {
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
        piped: header.flags & FLAG_PIPED != 0,
    };
    Ok(StatFile {
        format: Format::Statkit,
        pid: Some(identity.pid).filter(|_| !identity.retired),
        identity: Some(identity),
        stats,
        descriptions,
    })
}

/// The descriptions section's records, checked to lie between the entry
/// table and the blocks, within [`describe::SECTION_MAX`] bytes.
fn descriptions(
    bytes: &[u8],
    header: &Header,
    table_end: u64,
) -> Result<Vec<Description>, FormatError> {
    let section = header.descriptions;
    if section.size == 0 && section.used == 0 {
        return Ok(Vec::new());
    }
    check(
        "descriptions size",
        section.size.into(),
        describe::SECTION_MAX.into(),
    )?;
    check(
        "descriptions used",
        section.used.into(),
        section.size.into(),
    )?;
    if section.offset % layout::WORD != 0 || u64::from(section.used) % layout::WORD != 0 {
        return Err(FormatError::Corrupt(format!(
            "descriptions offset {} and bytes used {} must be multiples of 8",
            section.offset, section.used
        )));
    }
    if section.offset < table_end {
        return Err(FormatError::Corrupt(format!(
            "descriptions at {} overlap the entry table (it ends at {table_end})",
            section.offset
        )));
    }
    let end = section.offset.saturating_add(section.size.into());
    check("descriptions end", end, header.blocks_offset)?;
    describe::decode_section(slice(
        bytes,
        section.offset,
        section.used.into(),
        "descriptions",
    )?)
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::decode;
    use crate::cell::WORDS_READ;
    use crate::layout::{Entry, Header, ENTRY_SIZE, HEADER_SIZE, STATE_READY};
    use crate::{FormatError, Kind};

    /// A file of `entries` (kind, slot) on `blocks` blocks of `slots_used`
    /// words, which may lie about anything the decoder must check.
    fn crafted(entries: &[(Kind, u32)], blocks: u32, slots_used: u32) -> Vec<u8> {
        let capacity = entries.len() as u32;
        let blocks_offset = u64::from(HEADER_SIZE) + u64::from(capacity) * u64::from(ENTRY_SIZE);
        let block_size = slots_used * 8;
        let header = Header {
            capacity,
            block_size,
            blocks_offset,
            flags: 0,
            pid: 1,
            start_time: 0,
            created_ns: 0,
            program: "crafted".into(),
            entries: capacity,
            blocks,
            slots_used,
            state: STATE_READY,
            segments: 0,
            segment: 0,
            descriptions: Default::default(),
        };
        let len = blocks_offset as usize + blocks as usize * block_size as usize;
        let mut bytes = vec![0u8; len];
        bytes[..HEADER_SIZE as usize].copy_from_slice(&header.encode());
        for (index, &(kind, slot)) in entries.iter().enumerate() {
            let entry = Entry {
                kind,
                slot,
                words: kind.words(),
                param: 0,
                label: format!("m{index}"),
            };
            let at = HEADER_SIZE as usize + index * ENTRY_SIZE as usize;
            let raw = entry.encode().expect("short label");
            bytes[at..at + raw.len()].copy_from_slice(&raw);
        }
        bytes
    }

    /// Decodes `bytes`; the words of cells it read.
    fn words_read(bytes: &[u8]) -> (Result<crate::StatFile, FormatError>, u64) {
        WORDS_READ.with(|n| n.set(0));
        let result = decode(bytes);
        (result, WORDS_READ.with(|n| n.get()))
    }

    #[test]
    fn entries_sharing_a_slot_over_many_blocks_are_refused_before_any_cell_is_read() {
        // The file, scaled down: every entry on slot 0, read once
        // per block, was entries x blocks steps (15 s at 10 MB).
        let entries = vec![(Kind::Counter, 0); 4000];
        let bytes = crafted(&entries, 60_000, 1);
        let (result, read) = words_read(&bytes);
        assert!(
            matches!(
                result,
                Err(FormatError::SizeLying {
                    field: "entry cells in total",
                    ..
                })
            ),
            "{result:?}"
        );
        assert_eq!(read, 0);
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Counter),
            Just(Kind::Gauge),
            Just(Kind::Histogram),
            Just(Kind::Text),
            Just(Kind::Average),
            Just(Kind::MovingAverage),
        ]
    }

    proptest! {
        /// Whatever the entries' slots (overlapping or not) and however
        /// many blocks, the decoder reads at most one word of cells per
        /// word of the file.
        #[test]
        fn decoding_reads_each_word_at_most_once(
            entries in proptest::collection::vec((kind(), 0u32..1200), 0..64),
            blocks in 1u32..300,
            slots_used in 0u32..1600,
        ) {
            let bytes = crafted(&entries, blocks, slots_used);
            let (_, read) = words_read(&bytes);
            prop_assert!(read <= bytes.len() as u64 / 8, "{read} words read from {} bytes", bytes.len());
        }
    }
}
