//! Where every byte of a statkit v1 file goes.
//!
//! ```text
//! 0                 header (HEADER_SIZE bytes)
//! HEADER_SIZE       entry table: capacity x ENTRY_SIZE bytes
//! blocks_offset     block 0: process-wide cells (gauges, text, moving averages)
//!                   block 1..blocks: one block per writing thread (counters,
//!                   histograms, averages), each block_size bytes
//! ```
//!
//! All integers are little-endian. A metric owns the same word range
//! (`slot .. slot + words`) in every block; only the block kind that
//! [`Kind::per_thread`] names holds its value.

use crate::bytes::{array, put, u16_at, u32_at, u64_at};
use crate::FormatError;

/// The first eight bytes of every statkit file.
pub const MAGIC: [u8; 8] = *b"STATKIT\0";
/// Written as a little-endian u32; reads back byte-swapped on a file written
/// by a big-endian machine.
pub const BYTE_ORDER_MARK: u32 = 0x0102_0304;
/// The format version this crate writes (it reads 1 and 2).
pub const VERSION: u16 = 2;
/// Bytes in the header this version writes (readers accept larger): the
/// chain fields and the descriptions section's fields included.
pub const HEADER_SIZE: u16 = 152;
/// Bytes in a version 1 header, which has no chain fields.
pub const HEADER_SIZE_V1: u16 = 128;
/// Bytes in the smallest version 2 header: the chain fields, no
/// descriptions section (files written before it was appended).
pub const HEADER_SIZE_V2: u16 = 136;
/// Files in a chain at most: the main file and 63 continuations
/// (`<file>.1` .. `<file>.63`).
pub const MAX_SEGMENTS: u32 = 64;
/// Bytes in one entry this version writes (readers accept larger).
pub const ENTRY_SIZE: u16 = 128;
/// Longest metric label, in UTF-8 bytes.
pub const NAME_MAX: usize = 112;
/// Longest program name kept in the header, in bytes.
pub const PROGRAM_MAX: usize = 56;
/// Bytes in a cell word.
pub const WORD: u64 = 8;
/// The page size the writer aligns blocks to (a file of another page size
/// is still readable: readers only check sizes).
pub const PAGE: u64 = 4096;
/// `state` of a file whose header is complete.
pub const STATE_READY: u32 = 1;
/// `flags` bit: the file holds a program's retired totals, not a process.
pub const FLAG_RETIRED: u16 = 1;
/// `flags` bit: the writer also publishes this registry's values on its
/// statvent pipe (`<pid>.stats`), so readers that sum both count them once.
/// Set and cleared while the file lives, by the pipe publisher.
pub const FLAG_PIPED: u16 = 2;

/// Byte offsets of the header fields.
pub mod header {
    pub const MAGIC: usize = 0;
    pub const BYTE_ORDER: usize = 8;
    pub const VERSION: usize = 12;
    pub const HEADER_SIZE: usize = 14;
    pub const ENTRY_SIZE: usize = 16;
    pub const FLAGS: usize = 18;
    pub const CAPACITY: usize = 20;
    pub const BLOCK_SIZE: usize = 24;
    pub const STATE: usize = 28;
    pub const BLOCKS_OFFSET: usize = 32;
    pub const PID: usize = 40;
    pub const ENTRIES: usize = 44;
    pub const BLOCKS: usize = 48;
    pub const SLOTS_USED: usize = 52;
    pub const START_TIME: usize = 56;
    pub const CREATED_NS: usize = 64;
    pub const PROGRAM: usize = 72;
    pub const SEGMENTS: usize = 128;
    pub const SEGMENT: usize = 132;
    pub const DESCRIPTIONS_OFFSET: usize = 136;
    pub const DESCRIPTIONS_SIZE: usize = 144;
    pub const DESCRIPTIONS_USED: usize = 148;
}

/// Byte offsets of the entry fields, from the entry's start.
pub mod entry {
    pub const KIND: usize = 0;
    pub const NAME_LEN: usize = 2;
    pub const SLOT: usize = 4;
    pub const WORDS: usize = 8;
    pub const PARAM: usize = 12;
    pub const NAME: usize = 16;
}

/// What a metric is, which decides its cells and how readers combine them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A u64 per thread; the value is their wrapping sum.
    Counter = 1,
    /// One f64 for the process.
    Gauge = 2,
    /// Log-linear buckets per thread (seqlocked); buckets add up.
    Histogram = 3,
    /// A short UTF-8 string for the process (seqlocked).
    Text = 4,
    /// Count and sum per thread (seqlocked); the value is sum / count.
    Average = 5,
    /// One f64 for the process: the mean of the last `param` values.
    MovingAverage = 6,
}

impl Kind {
    /// The kind stored as `code`, if any.
    pub fn from_code(code: u8) -> Option<Kind> {
        Some(match code {
            1 => Kind::Counter,
            2 => Kind::Gauge,
            3 => Kind::Histogram,
            4 => Kind::Text,
            5 => Kind::Average,
            6 => Kind::MovingAverage,
            _ => return None,
        })
    }

    /// Whether each thread has its own cells (in blocks 1..) rather than one
    /// set for the process (in block 0).
    pub fn per_thread(self) -> bool {
        matches!(self, Kind::Counter | Kind::Histogram | Kind::Average)
    }

    /// Words of cells the kind takes in a block.
    pub fn words(self) -> u32 {
        crate::cell::words(self)
    }

    /// The name used in documents and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Text => "text",
            Kind::Average => "average",
            Kind::MovingAverage => "moving_average",
        }
    }
}

/// The header fields a writer fills in; the counters (`entries`, `blocks`,
/// `slots_used`) and `state` change later and are written separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Entries the table has room for.
    pub capacity: u32,
    /// Bytes per block, a multiple of [`WORD`].
    pub block_size: u32,
    /// Where block 0 starts.
    pub blocks_offset: u64,
    /// [`FLAG_RETIRED`] or 0.
    pub flags: u16,
    /// The writing process.
    pub pid: u32,
    /// The process' start time in clock ticks after boot (field 22 of
    /// `/proc/<pid>/stat`): with the pid, it names one process even after
    /// the pid is reused.
    pub start_time: u64,
    /// When the file was created, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// The program's name, at most [`PROGRAM_MAX`] bytes.
    pub program: String,
    /// Committed entries.
    pub entries: u32,
    /// Committed blocks, block 0 included.
    pub blocks: u32,
    /// Words of each block handed out to metrics.
    pub slots_used: u32,
    /// 0 while the writer fills the header, [`STATE_READY`] after.
    pub state: u32,
    /// Continuation files in use (main file only; grows; 0 in version 1).
    pub segments: u32,
    /// This file's place in its chain: 0 for the main file, `n` for
    /// `<main file>.<n>`.
    pub segment: u32,
    /// Where the descriptions are (none in files with a smaller header).
    pub descriptions: Section,
}

/// A section of the file: where it starts, the bytes it has room for and
/// the bytes in use (which grow).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Section {
    /// Byte offset from the start of the file.
    pub offset: u64,
    /// Bytes of room.
    pub size: u32,
    /// Bytes in use, from the start.
    pub used: u32,
}

impl Header {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_SIZE as usize] {
        use header as h;
        let mut out = [0; HEADER_SIZE as usize];
        put(&mut out, h::MAGIC, &MAGIC);
        put(&mut out, h::BYTE_ORDER, &BYTE_ORDER_MARK.to_le_bytes());
        put(&mut out, h::VERSION, &VERSION.to_le_bytes());
        put(&mut out, h::HEADER_SIZE, &HEADER_SIZE.to_le_bytes());
        put(&mut out, h::ENTRY_SIZE, &ENTRY_SIZE.to_le_bytes());
        put(&mut out, h::FLAGS, &self.flags.to_le_bytes());
        put(&mut out, h::CAPACITY, &self.capacity.to_le_bytes());
        put(&mut out, h::BLOCK_SIZE, &self.block_size.to_le_bytes());
        put(&mut out, h::STATE, &self.state.to_le_bytes());
        put(
            &mut out,
            h::BLOCKS_OFFSET,
            &self.blocks_offset.to_le_bytes(),
        );
        put(&mut out, h::PID, &self.pid.to_le_bytes());
        put(&mut out, h::ENTRIES, &self.entries.to_le_bytes());
        put(&mut out, h::BLOCKS, &self.blocks.to_le_bytes());
        put(&mut out, h::SLOTS_USED, &self.slots_used.to_le_bytes());
        put(&mut out, h::START_TIME, &self.start_time.to_le_bytes());
        put(&mut out, h::CREATED_NS, &self.created_ns.to_le_bytes());
        let program = truncate_utf8(&self.program, PROGRAM_MAX);
        put(&mut out, h::PROGRAM, program.as_bytes());
        put(&mut out, h::SEGMENTS, &self.segments.to_le_bytes());
        put(&mut out, h::SEGMENT, &self.segment.to_le_bytes());
        let notes = self.descriptions;
        put(
            &mut out,
            h::DESCRIPTIONS_OFFSET,
            &notes.offset.to_le_bytes(),
        );
        put(&mut out, h::DESCRIPTIONS_SIZE, &notes.size.to_le_bytes());
        put(&mut out, h::DESCRIPTIONS_USED, &notes.used.to_le_bytes());
        out
    }

    /// Reads and checks a header: magic, byte order, version, sizes. Does
    /// not check it against the file's length (see [`crate::decode()`]).
    pub fn decode(bytes: &[u8]) -> Result<(Header, Sizes), FormatError> {
        use header as h;
        let what = "header";
        let magic: [u8; 8] = array(bytes, h::MAGIC as u64, what)?;
        if magic != MAGIC {
            return Err(FormatError::ForeignMagic {
                found: magic.to_vec(),
            });
        }
        let bom = u32_at(bytes, h::BYTE_ORDER as u64, what)?;
        if bom == BYTE_ORDER_MARK.swap_bytes() {
            return Err(FormatError::WrongEndianness);
        }
        if bom != BYTE_ORDER_MARK {
            return Err(FormatError::Corrupt(format!("byte-order mark {bom:#010x}")));
        }
        let version = u16_at(bytes, h::VERSION as u64, what)?;
        let least = match version {
            1 => HEADER_SIZE_V1,
            VERSION => HEADER_SIZE_V2,
            found => {
                return Err(FormatError::UnsupportedVersion {
                    found,
                    known: VERSION,
                })
            }
        };
        let sizes = Sizes {
            header: u16_at(bytes, h::HEADER_SIZE as u64, what)?,
            entry: u16_at(bytes, h::ENTRY_SIZE as u64, what)?,
        };
        if sizes.header < least || sizes.entry < ENTRY_SIZE {
            return Err(FormatError::Corrupt(format!(
                "header size {} or entry size {} below version {version}'s {least} and {ENTRY_SIZE}",
                sizes.header, sizes.entry
            )));
        }
        array::<{ HEADER_SIZE_V1 as usize }>(bytes, 0, what)?;
        let chain = |offset: usize| match version {
            1 => Ok(0),
            _ => u32_at(bytes, offset as u64, what),
        };
        let program = array::<PROGRAM_MAX>(bytes, h::PROGRAM as u64, what)?;
        let header = Header {
            flags: u16_at(bytes, h::FLAGS as u64, what)?,
            capacity: u32_at(bytes, h::CAPACITY as u64, what)?,
            block_size: u32_at(bytes, h::BLOCK_SIZE as u64, what)?,
            state: u32_at(bytes, h::STATE as u64, what)?,
            blocks_offset: u64_at(bytes, h::BLOCKS_OFFSET as u64, what)?,
            pid: u32_at(bytes, h::PID as u64, what)?,
            entries: u32_at(bytes, h::ENTRIES as u64, what)?,
            blocks: u32_at(bytes, h::BLOCKS as u64, what)?,
            slots_used: u32_at(bytes, h::SLOTS_USED as u64, what)?,
            start_time: u64_at(bytes, h::START_TIME as u64, what)?,
            created_ns: u64_at(bytes, h::CREATED_NS as u64, what)?,
            program: until_nul(&program),
            segments: chain(h::SEGMENTS)?,
            segment: chain(h::SEGMENT)?,
            descriptions: match version >= 2 && sizes.header >= HEADER_SIZE {
                true => Section {
                    offset: u64_at(bytes, h::DESCRIPTIONS_OFFSET as u64, what)?,
                    size: u32_at(bytes, h::DESCRIPTIONS_SIZE as u64, what)?,
                    used: u32_at(bytes, h::DESCRIPTIONS_USED as u64, what)?,
                },
                false => Section::default(),
            },
        };
        Ok((header, sizes))
    }
}

/// The header and entry sizes a file declares (version 1 or larger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Header bytes.
    pub header: u16,
    /// Bytes per entry.
    pub entry: u16,
}

/// One metric's entry in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What it is.
    pub kind: Kind,
    /// First word of its cells in every block.
    pub slot: u32,
    /// Words of cells.
    pub words: u32,
    /// The moving average's window; 0 for other kinds.
    pub param: u32,
    /// Its label: name and tags, at most [`NAME_MAX`] bytes.
    pub label: String,
}

impl Entry {
    /// The entry's bytes; `None` when the label is longer than [`NAME_MAX`].
    pub fn encode(&self) -> Option<[u8; ENTRY_SIZE as usize]> {
        use entry as e;
        if self.label.len() > NAME_MAX {
            return None;
        }
        let mut out = [0; ENTRY_SIZE as usize];
        out[e::KIND] = self.kind as u8;
        put(
            &mut out,
            e::NAME_LEN,
            &(self.label.len() as u16).to_le_bytes(),
        );
        put(&mut out, e::SLOT, &self.slot.to_le_bytes());
        put(&mut out, e::WORDS, &self.words.to_le_bytes());
        put(&mut out, e::PARAM, &self.param.to_le_bytes());
        put(&mut out, e::NAME, self.label.as_bytes());
        Some(out)
    }

    /// Reads entry `index` starting at byte `at`, checking it against the
    /// words handed out (`slots_used`).
    pub fn decode(
        bytes: &[u8],
        at: u64,
        index: u32,
        slots_used: u32,
    ) -> Result<Entry, FormatError> {
        use entry as e;
        let what = "entry table";
        let raw: [u8; ENTRY_SIZE as usize] = array(bytes, at, what)?;
        let bad = |reason: String| FormatError::Corrupt(format!("entry {index}: {reason}"));
        let kind = Kind::from_code(raw[e::KIND])
            .ok_or_else(|| bad(format!("unknown kind {}", raw[e::KIND])))?;
        let name_len = u16_at(&raw, e::NAME_LEN as u64, what)? as usize;
        if name_len > NAME_MAX {
            return Err(FormatError::SizeLying {
                field: "entry name length",
                value: name_len as u64,
                limit: NAME_MAX as u64,
            });
        }
        let name = &raw[e::NAME..e::NAME + name_len];
        let label = std::str::from_utf8(name).map_err(|_| bad("label is not UTF-8".into()))?;
        let entry = Entry {
            kind,
            slot: u32_at(&raw, e::SLOT as u64, what)?,
            words: u32_at(&raw, e::WORDS as u64, what)?,
            param: u32_at(&raw, e::PARAM as u64, what)?,
            label: label.to_owned(),
        };
        if entry.words != kind.words() {
            return Err(bad(format!(
                "{} cells of {} words, not {}",
                kind.name(),
                entry.words,
                kind.words()
            )));
        }
        let end = u64::from(entry.slot) + u64::from(entry.words);
        if end > u64::from(slots_used) {
            return Err(FormatError::SizeLying {
                field: "entry cells end",
                value: end,
                limit: u64::from(slots_used),
            });
        }
        Ok(entry)
    }
}

/// Sizes of a file with a given capacity, block size and block count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Entries the table holds.
    pub capacity: u32,
    /// Bytes per block (a multiple of [`PAGE`] when the writer maps blocks
    /// one by one).
    pub block_size: u32,
    /// Bytes of room for descriptions, a multiple of 8 (0: none).
    pub descriptions: u32,
}

impl Layout {
    /// Where the descriptions section starts: right after the entry table.
    pub fn descriptions_offset(&self) -> u64 {
        u64::from(HEADER_SIZE) + u64::from(self.capacity) * u64::from(ENTRY_SIZE)
    }

    /// The descriptions section, nothing in use yet.
    pub fn descriptions(&self) -> Section {
        Section {
            offset: self.descriptions_offset(),
            size: self.descriptions,
            used: 0,
        }
    }

    /// Where block 0 starts: after the entry table and the descriptions,
    /// on a page boundary.
    pub fn blocks_offset(&self) -> u64 {
        let end = self.descriptions_offset() + u64::from(self.descriptions);
        end.div_ceil(PAGE) * PAGE
    }

    /// Byte offset of block `index`.
    pub fn block_offset(&self, index: u32) -> u64 {
        self.blocks_offset() + u64::from(index) * u64::from(self.block_size)
    }

    /// Byte offset of entry `index`.
    pub fn entry_offset(index: u32) -> u64 {
        u64::from(HEADER_SIZE) + u64::from(index) * u64::from(ENTRY_SIZE)
    }

    /// File length holding `blocks` blocks.
    pub fn file_len(&self, blocks: u32) -> u64 {
        self.block_offset(blocks)
    }

    /// Words in a block.
    pub fn block_words(&self) -> u32 {
        self.block_size / WORD as u32
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a
/// character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Bytes up to the first NUL, decoded as UTF-8 with bad sequences replaced.
pub fn until_nul(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
