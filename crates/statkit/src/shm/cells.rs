//! Stores into cells: the only code that touches mapped memory for values.
//!
//! Every cell is an 8-byte word used through `AtomicU64`, so other
//! processes may read while this one writes. A cell in a thread block has
//! one writer (the thread owning the block), so "add" is a relaxed load and
//! a relaxed store, not a read-modify-write. Multi-word values are wrapped
//! in the sequence pair `statkit_format::cell` describes.

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
    // Miri runs no inline assembly; the plain pointer is the same value.
    #[cfg(all(target_arch = "x86_64", not(miri)))]
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
    #[cfg(any(not(target_arch = "x86_64"), miri))]
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

/// Writes a multi-word value whose cells run from word `first` to word
/// `last`: `write` runs after `last` takes the next sequence number and
/// before `first` takes it too.
///
/// Why backwards: readers copy cells in ascending order, so they load
/// `first` before the values and `last` after them. Closing a write on the
/// word read first and opening it on the word read last means equal words
/// prove the values between came from one whole write. Opened on `first`,
/// a reader could load `first` as a write began, values from before and
/// after it, and `last` once it ended, and accept the mix.
#[inline(always)]
pub(super) fn guarded(first: &AtomicU64, last: &AtomicU64, write: impl FnOnce()) {
    let sequence = last.load(Relaxed).wrapping_add(1);
    last.store(sequence, Relaxed);
    // The opening store is visible before any of the value's stores.
    fence(Release);
    write();
    // ...and all of them before the closing store.
    first.store(sequence, Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A four-word cell `[begin, count, sum, end]`, its words as they stand.
    fn state(cell: &[AtomicU64; 4]) -> [u64; 4] {
        cell.each_ref().map(|w| w.load(Relaxed))
    }

    /// Every state the cell passes through over `writes` writes of
    /// (count + 1, sum + 2), one state per store.
    fn states(writes: usize) -> Vec<[u64; 4]> {
        let cell: [AtomicU64; 4] = Default::default();
        let mut seen = vec![state(&cell)];
        for _ in 0..writes {
            let mut during = Vec::new();
            guarded(&cell[0], &cell[3], || {
                during.push(state(&cell));
                bump(&cell[1], 1);
                during.push(state(&cell));
                bump(&cell[2], 2);
                during.push(state(&cell));
            });
            seen.extend(during);
            seen.push(state(&cell));
        }
        seen.dedup();
        seen
    }

    /// A reader copying in ascending order loads word `i` at some point no
    /// earlier than word `i - 1`: try every such schedule over three writes.
    #[test]
    fn an_ascending_reader_accepts_only_whole_writes() {
        let states = states(3);
        assert_eq!(states.len(), 13, "four stores a write");
        let n = states.len();
        let mut accepted = 0;
        for a in 0..n {
            for b in a..n {
                for c in b..n {
                    for d in c..n {
                        let [begin, count, sum, end] =
                            [states[a][0], states[b][1], states[c][2], states[d][3]];
                        if begin == end {
                            accepted += 1;
                            assert_eq!(sum, 2 * count, "schedule {a} {b} {c} {d}");
                            assert_eq!(count, begin, "schedule {a} {b} {c} {d}");
                        }
                    }
                }
            }
        }
        // Exactly the schedules that read all four words between writes.
        assert_eq!(accepted, 4);
    }

    /// The stores through raw words of a block, as handles make them, with
    /// a reader on another thread: run under Miri by the test command, so
    /// the pointer arithmetic and the atomics are checked for undefined
    /// behaviour and data races, not only for the values.
    #[test]
    fn words_of_a_block_take_stores_while_another_thread_reads() {
        const WRITES: u64 = if cfg!(miri) { 20 } else { 2_000 };
        let mut block = vec![0u64; 8];
        let base = in_register(block.as_mut_ptr());
        // SAFETY: every word below 8 lies in `block`, which outlives both
        // threads (the scope joins the reader before `block` is dropped).
        let words: [&AtomicU64; 5] = std::array::from_fn(|i| unsafe { word(base, i + 1) });
        let [counter, begin, count, sum, end] = words;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for _ in 0..WRITES {
                    // An ascending copy, as the readers make it.
                    let copy = [begin, count, sum, end].map(|w| w.load(Acquire));
                    if copy[0] == copy[3] {
                        assert_eq!(copy[2], 2 * copy[1]);
                    }
                }
            });
            for _ in 0..WRITES {
                bump(counter, 1);
                guarded(begin, end, || {
                    bump(count, 1);
                    bump(sum, 2);
                });
            }
        });
        assert_eq!(
            (counter.load(Relaxed), count.load(Relaxed)),
            (WRITES, WRITES)
        );
        assert_eq!(begin.load(Relaxed), end.load(Relaxed));
    }
}
