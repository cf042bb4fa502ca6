//! Which block a thread writes into.
//!
//! The first update a thread makes through a registry leases it a block
//! (cells no other thread writes); the lease is cached in a constant
//! thread-local, so every later update finds its block with one
//! thread-local read and a compare. When the thread ends, its leases go back
//! to their registries for the next new thread, totals included.

use std::cell::{Cell, RefCell};
use std::ptr;
use std::sync::{Arc, Weak};

use super::registry::Inner;

thread_local! {
    /// The registry id and block base of the last lease used. No
    /// destructor, so reading it is a plain thread-local load.
    static CURRENT: Cell<(u64, *mut u64)> = const { Cell::new((0, ptr::null_mut())) };
    /// Every lease this thread holds, returned when the thread ends.
    static LEASES: RefCell<Leases> = const { RefCell::new(Leases(Vec::new())) };
}

struct Lease {
    registry: Weak<Inner>,
    id: u64,
    /// `None` for the shared overflow block, which is never returned.
    block: Option<u32>,
    base: *mut u64,
}

struct Leases(Vec<Lease>);

impl Drop for Leases {
    fn drop(&mut self) {
        // Updates made later in this thread's teardown go to the overflow block.
        CURRENT.set((0, ptr::null_mut()));
        for lease in self.0.drain(..) {
            if let (Some(inner), Some(block)) = (lease.registry.upgrade(), lease.block) {
                inner.release_block(block);
            }
        }
    }
}

/// The base of the calling thread's block in `inner`'s storage; `id` is
/// `inner.id`, which the caller holds at hand.
#[inline(always)]
pub(super) fn block(inner: &Arc<Inner>, id: u64) -> *mut u64 {
    let (current, base) = CURRENT.get();
    if current == id {
        base
    } else {
        block_slow(inner)
    }
}

#[cold]
#[inline(never)]
fn block_slow(inner: &Arc<Inner>) -> *mut u64 {
    let found = LEASES.try_with(|leases| {
        let mut leases = leases.borrow_mut();
        if let Some(lease) = leases.0.iter().find(|lease| lease.id == inner.id) {
            return lease.base;
        }
        let (block, base) = match inner.acquire_block() {
            Some((index, base)) => (Some(index), base),
            None => (None, inner.overflow_block(true)),
        };
        leases.0.retain(|lease| lease.registry.strong_count() > 0);
        leases.0.push(Lease {
            registry: Arc::downgrade(inner),
            id: inner.id,
            block,
            base,
        });
        base
    });
    match found {
        Ok(base) => {
            CURRENT.set((inner.id, base));
            base
        }
        // The thread is ending and its leases are gone.
        Err(_) => inner.overflow_block(false),
    }
}
