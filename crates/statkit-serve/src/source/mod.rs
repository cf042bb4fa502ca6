//! Where samples come from: datagram sockets (UDP, Unix) on threads of
//! their own, TCP connections on the async runtime, and the shared-memory
//! stats folder and statvent's pipe folder on a thread that scans them. Each source fills a
//! [`Table`](statkit_agg::Table) that the flusher drains.

pub(crate) mod datagram;
pub(crate) mod files;
pub(crate) mod kernel;
pub(crate) mod pipes;
pub(crate) mod tcp;

use std::sync::{Mutex, MutexGuard};

/// Locks a table even if a thread panicked while holding it: a table is
/// plain counts, still valid after any panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
