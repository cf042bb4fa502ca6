//! The receive path's promise: once a key has been seen, aggregating
//! another line for it allocates nothing. A counting global allocator
//! checks it for every kind of line, tags and sanitized keys included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use statkit_agg::{Table, TableOptions};

struct Counting;

thread_local! {
    /// Allocations made by this thread: tests run on parallel threads, and
    /// each must count only its own.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn count_one() {
    // `try_with`: the allocator may run while this thread's locals are
    // being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
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
    let before = allocations();
    for _ in 0..1000 {
        table.ingest(datagram);
    }
    assert_eq!(allocations() - before, 0);
}

#[test]
fn steady_traffic_allocates_nothing_across_flushes() {
    // Timers and sets keep their buffers in the table between intervals,
    // so once traffic is steady even their values cost no allocation.
    use statkit_agg::{Aggregator, Options};
    let datagram = b"lat:12.5|ms\nlat:7|ms|@0.5\nusers:alice|s\nusers:bob|s\nhits:1|c\nq:+1|g\n";
    let mut table = Table::new(TableOptions::default());
    let mut aggregator = Aggregator::new(Options::default());
    let mut during_ingest = 0;
    for round in 0..50 {
        let before = allocations();
        for _ in 0..20 {
            table.ingest(datagram);
        }
        if round >= 3 {
            during_ingest += allocations() - before;
        }
        aggregator.absorb(&mut table);
        aggregator.flush(round);
    }
    assert_eq!(during_ingest, 0);
}
