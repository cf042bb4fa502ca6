//! Bounds-checked little-endian reads and writes on byte slices.
//!
//! Every read names what it was reading, so a short file is reported as
//! "truncated: header" (or whichever part) instead of panicking.

use crate::FormatError;

/// Reads `N` bytes at `offset`, or says which part did not fit.
pub fn array<const N: usize>(
    bytes: &[u8],
    offset: u64,
    what: &'static str,
) -> Result<[u8; N], FormatError> {
    let slice = slice(bytes, offset, N as u64, what)?;
    let mut out = [0; N];
    out.copy_from_slice(slice);
    Ok(out)
}

/// The `len` bytes at `offset`, or a truncation error naming `what`.
pub fn slice<'a>(
    bytes: &'a [u8],
    offset: u64,
    len: u64,
    what: &'static str,
) -> Result<&'a [u8], FormatError> {
    let truncated = || FormatError::Truncated {
        what,
        needed: offset.saturating_add(len),
        len: bytes.len() as u64,
    };
    let start = usize::try_from(offset).map_err(|_| truncated())?;
    let end = start
        .checked_add(usize::try_from(len).map_err(|_| truncated())?)
        .ok_or_else(truncated)?;
    bytes.get(start..end).ok_or_else(truncated)
}

pub fn u16_at(bytes: &[u8], offset: u64, what: &'static str) -> Result<u16, FormatError> {
    array(bytes, offset, what).map(u16::from_le_bytes)
}

pub fn u32_at(bytes: &[u8], offset: u64, what: &'static str) -> Result<u32, FormatError> {
    array(bytes, offset, what).map(u32::from_le_bytes)
}

pub fn u64_at(bytes: &[u8], offset: u64, what: &'static str) -> Result<u64, FormatError> {
    array(bytes, offset, what).map(u64::from_le_bytes)
}

/// Copies `value` to `offset`; the caller sized `bytes` from the layout, so
/// a miss is a bug in this crate, reported rather than panicking.
pub fn put(bytes: &mut [u8], offset: usize, value: &[u8]) {
    if let Some(target) = bytes.get_mut(offset..offset + value.len()) {
        target.copy_from_slice(value);
    } else {
        debug_assert!(false, "layout put out of range at {offset}");
    }
}
