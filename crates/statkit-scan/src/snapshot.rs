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
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Acquire};

use memmap2::Mmap;
use statkit_format::layout::{self, Header, HEADER_SIZE, MAGIC};

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
///
/// A sound header gets a compact copy: header, used entries, then each
/// block's used cells back to back, with the header's capacity, block size
/// and blocks offset rewritten to match, so reading a file costs what its
/// metrics take, not what it has room for. Any other header is copied into
/// a buffer as long as the file, for the decoder to report what is wrong.
fn copy_used(map: &[u8]) -> (Vec<u8>, u64) {
    let header_len = (HEADER_SIZE as usize).min(map.len());
    let mut head = vec![0u8; header_len];
    ordered_copy(map, 0, &mut head);
    let Ok((header, sizes)) = Header::decode(&head) else {
        return (head, 0);
    };
    let needed = header
        .blocks_offset
        .saturating_add(u64::from(header.blocks).saturating_mul(header.block_size.into()));
    match compact(
        map,
        &head,
        &header,
        usize::from(sizes.header),
        usize::from(sizes.entry),
    ) {
        Some(out) => (out, needed),
        None => {
            let mut out = vec![0u8; map.len()];
            out[..header_len].copy_from_slice(&head);
            (out, needed)
        }
    }
}

/// The compact copy, or `None` when the header does not fit the file.
fn compact(
    map: &[u8],
    head: &[u8],
    header: &Header,
    header_size: usize,
    entry_size: usize,
) -> Option<Vec<u8>> {
    let table_end = entry_size
        .checked_mul(header.capacity as usize)?
        .checked_add(header_size)?;
    let cells = (header.slots_used as usize).checked_mul(8)?;
    let block_size = header.block_size as usize;
    let blocks_offset = usize::try_from(header.blocks_offset).ok()?;
    let end = block_size
        .checked_mul(header.blocks as usize)?
        .checked_add(blocks_offset)?;
    let sound = header.entries <= header.capacity
        && table_end <= blocks_offset
        && cells <= block_size
        && [header_size, entry_size, blocks_offset, block_size]
            .iter()
            .all(|n| n % 8 == 0)
        && header.blocks > 0
        && end <= map.len();
    if !sound {
        return None;
    }
    let entries_len = entry_size * header.entries as usize;
    let blocks_at = (header_size + entries_len).div_ceil(8) * 8;
    let mut out = vec![0u8; blocks_at + cells * header.blocks as usize];
    out[..head.len()].copy_from_slice(head);
    ordered_copy(
        map,
        header_size,
        &mut out[header_size..header_size + entries_len],
    );
    for block in 0..header.blocks as usize {
        let at = blocks_at + block * cells;
        ordered_copy(
            map,
            blocks_offset + block * block_size,
            &mut out[at..at + cells],
        );
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
    Some(out)
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

/// Fills `out` from `map` starting at `from`, whole words (8-aligned in
/// the mapping) in ascending order with acquire loads; bytes past the
/// mapping's end stay zero.
fn ordered_copy(map: &[u8], from: usize, out: &mut [u8]) {
    debug_assert!(from % 8 == 0);
    let base = map.as_ptr();
    for (index, chunk) in out.chunks_exact_mut(8).enumerate() {
        let at = from + index * 8;
        if at + 8 > map.len() {
            break;
        }
        // SAFETY: mappings are page-aligned and `at` is a multiple of 8
        // whose word lies inside the mapping, so the word is aligned and
        // in bounds; writers only store it atomically.
        let word = unsafe { AtomicU64::from_ptr(base.add(at).cast_mut().cast()) };
        chunk.copy_from_slice(&word.load(Acquire).to_ne_bytes());
    }
}
