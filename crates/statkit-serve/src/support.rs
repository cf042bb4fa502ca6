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

/// Counts an event that could flood the log (refused connections) and
/// logs it at most once per [`Tally::EVERY`], with how many happened since
/// the last line.
#[derive(Debug)]
pub(crate) struct Tally {
    what: &'static str,
    state: Mutex<TallyState>,
}

#[derive(Debug, Default)]
struct TallyState {
    logged: Option<std::time::Instant>,
    unlogged: u64,
}

impl Tally {
    pub(crate) const EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            state: Mutex::default(),
        }
    }

    /// Counts one; logs the count if the last line is older than
    /// [`Tally::EVERY`].
    pub(crate) fn note(&self) {
        let mut state = lock(&self.state);
        state.unlogged += 1;
        if state.logged.is_none_or(|at| at.elapsed() >= Self::EVERY) {
            tracing::warn!(
                count = state.unlogged,
                "{}: {} since the last report",
                self.what,
                state.unlogged
            );
            state.unlogged = 0;
            state.logged = Some(std::time::Instant::now());
        }
    }
}
