//! Helpers for statkit's own tests.
//!
//! - [`CountingAllocator`]: allocations per thread, for the no-allocation
//!   promises.
//! - [`http::Answer`]: HTTP answers read whole, for the HTTP server's tests.
//!
//! [`CountingAllocator`] backs the tests that pin statkit's "no allocation
//! on the hot path" promises (a parsed line, an aggregated sample, a client
//! call). A test installs it as its binary's global allocator:
//!
//! ```text
//! #[global_allocator]
//! static GLOBAL: statkit_testkit::CountingAllocator = statkit_testkit::CountingAllocator;
//!
//! assert_eq!(statkit_testkit::allocations_during(|| parse(line)), 0);
//! ```
//!
//! Allocations are counted per thread, so the test harness's parallel
//! threads never disturb each other's measurements.

pub mod http;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the allocations of each thread.
#[derive(Debug)]
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator also runs while a thread's locals are being
    // torn down, when there is nothing left to count for.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System` upholds the `GlobalAlloc` contract; counting only touches a
// const-initialized thread-local `Cell`, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` came from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (including reallocations) the current thread made while
/// running `f`. Meaningful only where [`CountingAllocator`] is the global
/// allocator; elsewhere it is always 0.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}
