//! A consistent copy of a file that a writer may be updating, and that its
//! owner may be truncating on purpose.
//!
//! Files are copied with `pread(2)` into a buffer, never mapped: a mapped
//! file that its owner truncates while it is read raises SIGBUS, which
//! kills the reader (`statkit slurp` died in 86 runs of 150, and `serve`
//! with it). A `pread` of a shrunk file returns short instead, and the
//! file is reported. ARCHITECTURE.md ("Readers") has the measurement that
//! chose this over mapping with SIGBUS recovery.
//!
//! Only the parts in use are copied (the header, the committed entries,
//! the descriptions in use,
//! the cells handed out in each block), so a file with room for thousands
//! of metrics costs what its few metrics cost, and no more than
//! [`Limits::max_used_bytes`]; the copy is compact, with the header
//! rewritten to match. mmstats files, which have no such header, are read
//! whole up to [`Limits::max_mmstats_bytes`].
//!
//! The begin/end pairs of multi-word cells need `begin` loaded before the
//! values and `end` after them; one `pread` copies in whatever order the
//! kernel likes. A block holding such cells is therefore read three times,
//! one system call after another: `begin` words are taken from the first
//! copy, values from the second, `end` words from the third, which orders
//! the loads exactly as the format's reading rule asks
//! (`docs/format.md#torn-writes-the-beginend-pair`).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use statkit_format::layout::{self, entry as entry_field, Header, HEADER_SIZE, MAGIC};

use crate::open::{open_regular, OpenError, Refused};
use crate::read::{Limits, ReadError};

/// The bytes of `path` for the decoder: the used parts of a statkit file
/// in a compact copy, or the whole of any other file, within `limits`.
pub fn snapshot(path: &Path, limits: &Limits) -> Result<Vec<u8>, ReadError> {
    let io = |source: io::Error| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let refused = |source: Refused| ReadError::Refused {
        path: path.to_owned(),
        source,
    };
    let (file, mut len) = open_regular(path, limits.max_file_len).map_err(|e| match e {
        OpenError::Io(e) => io(e),
        OpenError::Refused(r) => refused(r),
    })?;
    let mut magic = [0u8; 8];
    let got = read_up_to(&file, &mut magic, 0).map_err(io)?;
    if got < magic.len() || magic != MAGIC {
        return read_whole(
            &file,
            len,
            limits.max_mmstats_bytes,
            "the file",
            "max_mmstats_bytes",
        )
        .map_err(|e| e.at(path));
    }
    // A writer grows the file before it counts the new block, so a header
    // naming more blocks than the file held when it was measured means the
    // file grew since: measure it again.
    let mut attempts = 0;
    loop {
        let mut head = vec![0u8; (HEADER_SIZE as usize).min(len as usize)];
        read_exact(&file, &mut head, 0).map_err(io)?;
        attempts += 1;
        let Ok((header, sizes)) = Header::decode(&head) else {
            return Ok(head);
        };
        let needed = header
            .blocks_offset
            .saturating_add(u64::from(header.blocks).saturating_mul(header.block_size.into()));
        if needed > len && attempts < 3 {
            len = file.metadata().map_err(io)?.len();
            continue;
        }
        let shape = Shape::of(&header, sizes.header.into(), sizes.entry.into(), len);
        return match shape {
            Some(shape) => shape.copy(&file, &head, &header, limits),
            // For the decoder to say precisely what is wrong.
            None => read_whole(
                &file,
                len,
                limits.max_used_bytes,
                "the file",
                "max_used_bytes",
            ),
        }
        .map_err(|e| e.at(path));
    }
}

/// Why a copy failed, before the path is known to the error.
enum CopyError {
    Io(io::Error),
    Refused(Refused),
}

impl CopyError {
    fn at(self, path: &Path) -> ReadError {
        let path = path.to_owned();
        match self {
            CopyError::Io(source) => ReadError::Io { path, source },
            CopyError::Refused(source) => ReadError::Refused { path, source },
        }
    }
}

impl From<io::Error> for CopyError {
    fn from(e: io::Error) -> Self {
        CopyError::Io(e)
    }
}

/// Where the used parts of a sound header's file are.
struct Shape {
    header_size: usize,
    entry_size: usize,
    blocks_offset: usize,
    block_size: usize,
    /// Used bytes of each block.
    cells: usize,
    /// Where the descriptions section is and its bytes in use, when the
    /// header is large enough to have one (else `None`).
    descriptions: Option<(u64, usize)>,
}

impl Shape {
    /// The shape, or `None` when the header does not fit a file of `len`
    /// bytes (or this machine's address space).
    fn of(header: &Header, header_size: usize, entry_size: usize, len: u64) -> Option<Shape> {
        let table_end = entry_size
            .checked_mul(header.capacity as usize)?
            .checked_add(header_size)?;
        let cells = (header.slots_used as usize).checked_mul(8)?;
        let block_size = header.block_size as usize;
        let blocks_offset = usize::try_from(header.blocks_offset).ok()?;
        let end = block_size
            .checked_mul(header.blocks as usize)?
            .checked_add(blocks_offset)?;
        let descriptions = header_size >= usize::from(HEADER_SIZE);
        let sound = header.entries <= header.capacity
            && table_end <= blocks_offset
            && (!descriptions || section_sound(header, table_end as u64))
            && cells <= block_size
            && [header_size, entry_size, blocks_offset, block_size]
                .iter()
                .all(|n| n % 8 == 0)
            && header.blocks > 0
            && end as u64 <= len;
        sound.then_some(Shape {
            header_size,
            entry_size,
            blocks_offset,
            block_size,
            cells,
            descriptions: descriptions.then_some((
                header.descriptions.offset,
                header.descriptions.used as usize,
            )),
        })
    }

    /// The compact copy: header, used entries, then each block's used
    /// cells back to back, with the header's capacity, block size and
    /// blocks offset rewritten to match.
    fn copy(
        &self,
        file: &File,
        head: &[u8],
        header: &Header,
        limits: &Limits,
    ) -> Result<Vec<u8>, CopyError> {
        // A `pread` per block (three with multi-word cells): bounded
        // apart from the bytes, since blocks of a few bytes each would
        // make many system calls of little.
        if u64::from(header.blocks) > limits.max_blocks {
            return Err(CopyError::Refused(Refused::OverLimit {
                what: "the file's block count",
                size: header.blocks.into(),
                unit: "blocks",
                limit: limits.max_blocks,
                option: "max_blocks",
            }));
        }
        let entries_len = self.entry_size * header.entries as usize;
        let notes_at = (self.header_size + entries_len).div_ceil(8) * 8;
        let (notes_from, notes_len) = self.descriptions.unwrap_or_default();
        // `notes_len` is at most `SECTION_MAX` and a multiple of 8.
        let blocks_at = notes_at + notes_len;
        // Cannot overflow: `Shape::of` checked `cells * blocks` fits
        // (cells <= block_size) and the entries are within the table.
        let total = blocks_at + self.cells * header.blocks as usize;
        if total as u64 > limits.max_used_bytes {
            return Err(CopyError::Refused(Refused::OverLimit {
                what: "the part of the file in use",
                size: total as u64,
                unit: "bytes",
                limit: limits.max_used_bytes,
                option: "max_used_bytes",
            }));
        }
        let mut out = vec![0u8; total];
        out[..head.len()].copy_from_slice(head);
        let table = self.header_size..self.header_size + entries_len;
        read_exact(file, &mut out[table.clone()], self.header_size as u64)?;
        read_exact(file, &mut out[notes_at..blocks_at], notes_from)?;
        let pairs = sequence_pairs(&out[table], self.entry_size, header.slots_used);
        let (mut first, mut last) = match pairs.is_empty() {
            true => (Vec::new(), Vec::new()),
            false => (vec![0u8; self.cells], vec![0u8; self.cells]),
        };
        for block in 0..header.blocks as usize {
            let from = (self.blocks_offset + block * self.block_size) as u64;
            let at = blocks_at + block * self.cells;
            let values = &mut out[at..at + self.cells];
            if pairs.is_empty() {
                read_exact(file, values, from)?;
                continue;
            }
            read_exact(file, &mut first, from)?;
            read_exact(file, values, from)?;
            read_exact(file, &mut last, from)?;
            assemble(values, &first, &last, &pairs);
        }
        let mut put =
            |offset: usize, bytes: &[u8]| out[offset..offset + bytes.len()].copy_from_slice(bytes);
        put(layout::header::CAPACITY, &header.entries.to_le_bytes());
        put(
            layout::header::BLOCK_SIZE,
            &header.slots_used.saturating_mul(8).to_le_bytes(),
        );
        put(
            layout::header::BLOCKS_OFFSET,
            &(blocks_at as u64).to_le_bytes(),
        );
        if self.descriptions.is_some() {
            use layout::header::{DESCRIPTIONS_OFFSET, DESCRIPTIONS_SIZE};
            put(DESCRIPTIONS_OFFSET, &(notes_at as u64).to_le_bytes());
            put(DESCRIPTIONS_SIZE, &(notes_len as u32).to_le_bytes());
        }
        Ok(out)
    }
}

/// Whether the descriptions section lies as the format says: its bytes in
/// use within its room, within `SECTION_MAX`, 8-aligned, between the entry
/// table and the blocks. A section that does not is left to the decoder
/// to report, from a copy of the whole file.
fn section_sound(header: &Header, table_end: u64) -> bool {
    let section = header.descriptions;
    let none = section.size == 0 && section.used == 0;
    none || (section.used <= section.size
        && section.size <= statkit_format::describe::SECTION_MAX
        && section.offset % 8 == 0
        && section.used % 8 == 0
        && section.offset >= table_end
        && section.offset.saturating_add(section.size.into()) <= header.blocks_offset)
}

/// A block's cells from its three copies: `values` holds the second copy
/// and is completed in place, every sequence pair (byte offsets, as
/// [`sequence_pairs`] gives them) taking its `begin` word from `first`
/// and its `end` word from `last`. A function of its own so that the
/// schedule tests (`snapshot/schedule_tests.rs`) prove the very code that
/// runs.
fn assemble(values: &mut [u8], first: &[u8], last: &[u8], pairs: &[(usize, usize)]) {
    for &(begin, end) in pairs {
        values[begin..begin + 8].copy_from_slice(&first[begin..begin + 8]);
        values[end..end + 8].copy_from_slice(&last[end..end + 8]);
    }
}

/// The byte offsets, within a block's used cells, of the `begin` and
/// `end` words of every multi-word cell the entries name. Entries whose
/// cells lie past `slots_used` are left to the decoder to report.
fn sequence_pairs(table: &[u8], entry_size: usize, slots_used: u32) -> Vec<(usize, usize)> {
    table
        .chunks_exact(entry_size)
        .filter_map(|entry| {
            let word = |at: usize| {
                let bytes: [u8; 4] = entry.get(at..at + 4)?.try_into().ok()?;
                Some(u32::from_le_bytes(bytes))
            };
            let (slot, words) = (word(entry_field::SLOT)?, word(entry_field::WORDS)?);
            let end = slot.checked_add(words)?;
            (words > 1 && end <= slots_used).then(|| (slot as usize * 8, (end as usize - 1) * 8))
        })
        .collect()
}

/// The whole file, refused past `max` bytes (`option` names the limit).
/// The file may have grown since it was measured, so the read itself is
/// bounded, not only the length `fstat` gave.
fn read_whole(
    file: &File,
    len: u64,
    max: u64,
    what: &'static str,
    option: &'static str,
) -> Result<Vec<u8>, CopyError> {
    let over = |size| {
        CopyError::Refused(Refused::OverLimit {
            what,
            size,
            unit: "bytes",
            limit: max,
            option,
        })
    };
    // A file already longer than the limit is refused before any read:
    // a sparse file of a gigabyte costs one `fstat`, not 16 MiB of zeros.
    // One that grows past it while read is caught by the loop.
    if len > max {
        return Err(over(len));
    }
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let at = bytes.len() as u64;
        let n = match file.read_at(&mut chunk, at) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if at + n as u64 > max {
            return Err(over(at + n as u64));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
}

/// Fills `buf` from `offset`; a file that ends first shrank while it was
/// read (writers only grow theirs), which is an error.
fn read_exact(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was read",
        ),
        _ => e,
    })
}

/// Reads up to `buf.len()` bytes from `offset`; how many there were.
fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod schedule_tests;
