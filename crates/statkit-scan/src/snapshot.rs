//! A consistent copy of a file that a writer may be updating.
//!
//! A plain `read(2)` copies in whatever order the kernel likes, so it can
//! pair a new `end` word with an old value and hide a torn write. statkit
//! files are mapped instead and copied one aligned word at a time, in
//! ascending order, with acquire loads: exactly the reading order the
//! format's sequence pairs need. Only the parts in use are copied (the
//! header, the committed entries, the cells handed out in each block); the
//! rest of the snapshot is zero pages that were never touched, so a file
//! with room for thousands of metrics costs what its few metrics cost.
//! mmstats files, which their writers may truncate and rewrite, are read
//! with `read(2)`.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Acquire};

use memmap2::Mmap;
use statkit_format::layout::{Header, HEADER_SIZE, MAGIC};

/// The bytes of `path`, copied in word order when it is a statkit file.
pub fn snapshot(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 8];
    let got = read_up_to(&mut file, &mut magic)?;
    if got < magic.len() || magic != MAGIC {
        let mut bytes = magic[..got].to_vec();
        file.read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    // A writer grows the file before it counts the new block, so a header
    // naming more blocks than the mapping holds means the file grew while
    // it was mapped: map it again.
    let mut attempts = 0;
    loop {
        // SAFETY: statkit writers only ever grow their files, so the
        // mapping stays backed while it is read; every read below is an
        // atomic load.
        let map = unsafe { Mmap::map(&file)? };
        let (out, needed) = copy_used(&map);
        attempts += 1;
        if needed <= map.len() as u64 || attempts == 3 {
            return Ok(out);
        }
    }
}

/// Copies the header and the parts it says are in use; returns the copy
/// and the file length the header needs.
fn copy_used(map: &[u8]) -> (Vec<u8>, u64) {
    let mut out = vec![0u8; map.len()];
    let header_len = (HEADER_SIZE as usize).min(map.len());
    ordered_copy(map, &mut out, 0..header_len);
    // A header that does not decode is reported by the decoder from the
    // copy; one that does names the parts in use.
    let Ok((header, sizes)) = Header::decode(&out[..header_len]) else {
        return (out, 0);
    };
    for range in used_ranges(
        &header,
        usize::from(sizes.header),
        usize::from(sizes.entry),
        map.len(),
    ) {
        ordered_copy(map, &mut out, range);
    }
    let needed = header
        .blocks_offset
        .saturating_add(u64::from(header.blocks).saturating_mul(header.block_size.into()));
    (out, needed)
}

/// The entry table's used part and each block's used cells, in ascending
/// order (saturating: the decoder checks them against the file).
fn used_ranges(
    header: &Header,
    header_size: usize,
    entry_size: usize,
    len: usize,
) -> Vec<Range<usize>> {
    let entries_end = (header.entries as usize)
        .saturating_mul(entry_size)
        .saturating_add(header_size);
    // Blocks past the mapping's end hold nothing to copy (and a lying
    // count must not make this loop long).
    let fit = len / (header.block_size as usize).max(1) + 1;
    let blocks = (header.blocks as usize).min(fit);
    let mut ranges = Vec::with_capacity(blocks + 1);
    ranges.push(header_size..entries_end);
    let cells = (header.slots_used as usize).saturating_mul(8);
    for block in 0..blocks {
        let start = (header.blocks_offset as usize)
            .saturating_add(block.saturating_mul(header.block_size as usize));
        ranges.push(start..start.saturating_add(cells));
    }
    ranges
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Copies the whole words of `range` (cut to the mapping) from `map` to
/// the same place in `out`, in ascending order with acquire loads.
fn ordered_copy(map: &[u8], out: &mut [u8], range: Range<usize>) {
    let start = range.start.min(map.len()) & !7;
    let end = range.end.min(map.len()) & !7;
    let base = map.as_ptr();
    for at in (start..end).step_by(8) {
        // SAFETY: mappings are page-aligned and `at` is a multiple of 8
        // below the mapping's end, so the word is aligned and inside it;
        // writers only store it atomically.
        let word = unsafe { AtomicU64::from_ptr(base.add(at).cast_mut().cast()) };
        out[at..at + 8].copy_from_slice(&word.load(Acquire).to_ne_bytes());
    }
}
