//! The receive path's promise: once a key has been seen, aggregating
//! another line for it allocates nothing. A counting global allocator
//! checks it for every kind of line, tags and sanitized keys included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use statkit_agg::{Table, TableOptions};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn known_keys_aggregate_without_allocating() {
    // Timers keep every value, so they are left out of the steady-state
    // datagram: their vector grows by design (amortized, not per line).
    let datagram = b"api.hits:1|c\napi.hits:2|c|@0.5\nq.depth:4|g\nq.depth:+1|g\nusers:alice|s\n\
we ird/key!:1|c\ntagged:1|c|#env:prod,canary\nbad line\nx:abc|c\n_e{1,1}:a|b\n_sc|svc|0\n";
    let mut table = Table::new(TableOptions::default());
    table.ingest(datagram);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1000 {
        table.ingest(datagram);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
}
