//! Stores into cells: the only code that touches mapped memory for values.
//!
//! Every cell is an 8-byte word used through `AtomicU64`, so other
//! processes may read while this one writes. A cell in a thread block has
//! one writer (the thread owning the block), so "add" is a relaxed load and
//! a relaxed store, not a read-modify-write. Multi-word values are wrapped
//! in the begin/end sequence pair `statkit_format::cell` describes.

use std::sync::atomic::{fence, AtomicU64, Ordering::*};

/// `cells` itself, opaque to the compiler, so that every access through it
/// addresses memory as one register plus a constant rather than folding
/// the slot offset into a base-plus-scaled-index operand.
///
/// Why: recent Intel cores (Golden Cove, as on the machine the benches ran
/// on) hand a load the value of an earlier store to the same word without
/// waiting for the store, but only when both use the simple addressing
/// form. A counter bumped in a loop then takes about 1 ns an increment
/// instead of 2.9 (see `docs/shm.md`). The cost is one `lea`.
#[inline(always)]
pub(super) fn in_register(cells: *mut u64) -> *mut u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let mut cells = cells;
        // SAFETY: an empty template: no instruction, no memory touched;
        // the pointer comes back unchanged.
        #[expect(
            clippy::pointers_in_nomem_asm_block,
            reason = "the template is empty: it hides the pointer's value, never dereferences it"
        )]
        unsafe {
            std::arch::asm!(
                "/* {0} */",
                inout(reg) cells,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        cells
    }
    #[cfg(not(target_arch = "x86_64"))]
    cells
}

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
