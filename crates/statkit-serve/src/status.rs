//! The server's life as the admin port and the HTTP server report it:
//! when it started, whether it says it is healthy (etsy's `health`), when
//! it last flushed, and a way for a client to ask it to stop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Debug)]
pub(crate) struct Status {
    /// Unix seconds.
    pub started: u64,
    healthy: AtomicBool,
    /// Unix seconds of the last flush, 0 before the first: the flusher
    /// stores it so readers need not wait for the aggregator's lock.
    last_flush: AtomicU64,
    /// Notified when a client asks the server to stop (gstats' `QUIT`).
    quit: Notify,
}

impl Status {
    /// A server started at `started`: healthy, not flushed yet.
    pub(crate) fn new(started: u64) -> Self {
        Self {
            started,
            healthy: AtomicBool::new(true),
            last_flush: AtomicU64::new(0),
            quit: Notify::new(),
        }
    }

    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Unix seconds of the last flush, `None` before the first.
    pub(crate) fn last_flush(&self) -> Option<u64> {
        Some(self.last_flush.load(Ordering::Relaxed)).filter(|&t| t != 0)
    }

    pub(crate) fn flushed(&self, at: u64) {
        self.last_flush.store(at, Ordering::Relaxed);
    }

    /// Asks the server to stop, as a signal does.
    pub(crate) fn quit(&self) {
        self.quit.notify_one();
    }

    /// Completes once a client asked the server to stop.
    pub(crate) async fn quitting(&self) {
        self.quit.notified().await;
    }
}
