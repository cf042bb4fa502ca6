//! The two helpers every thread of the server uses: the clock as etsy
//! reads it, and locks that survive a panic elsewhere.

use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

/// Unix time in seconds, rounded as etsy rounds `Date.now() / 1000`.
pub(crate) fn unix_now() -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    (now.as_secs_f64()).round() as u64
}

/// Locks `mutex` even if a thread panicked while holding it: what the
/// server keeps behind locks (tables of counts, queues, views) stays valid
/// after any panic, and one failed thread must not stop the others.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
