//! Stores into cells: the only code that touches mapped memory for values.
//!
//! Every cell is an 8-byte word used through `AtomicU64`, so other
//! processes may read while this one writes. A cell in a thread block has
//! one writer (the thread owning the block), so "add" is a relaxed load and
//! a relaxed store, not a read-modify-write. Multi-word values are wrapped
//! in the begin/end sequence pair `statkit_format::cell` describes.

use std::sync::atomic::{fence, AtomicU64, Ordering::*};

/// The cell at word `index` after `base`.
///
/// # Safety
/// `base + index` must be a word inside a live mapping.
#[inline(always)]
pub(super) unsafe fn word<'a>(base: *mut u64, index: usize) -> &'a AtomicU64 {
    // SAFETY: the caller's promise; mappings are page-aligned so words are
    // 8-aligned.
    unsafe { AtomicU64::from_ptr(base.add(index)) }
}

/// Adds to a cell only this thread writes.
#[inline(always)]
pub(super) fn bump(cell: &AtomicU64, n: u64) {
    cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Writes a multi-word value: `write` runs between the begin and end
/// stores of the sequence pair at `begin` and `end`.
#[inline(always)]
pub(super) fn guarded(begin: &AtomicU64, end: &AtomicU64, write: impl FnOnce()) {
    let sequence = begin.load(Relaxed).wrapping_add(1);
    begin.store(sequence, Relaxed);
    // The begin store is visible before any of the value's stores.
    fence(Release);
    write();
    // ...and all of them before the end store.
    end.store(sequence, Release);
}
