//! The bounded queue between the flusher and one sink.
//!
//! The flusher never waits for a sink: when a sink has fallen `capacity`
//! flushes behind, the oldest waiting flush is dropped and counted, and the
//! sink logs that once per episode rather than once per flush or line.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use statkit_agg::Snapshot;
use tokio::sync::Notify;

use crate::support::lock;

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<Arc<Snapshot>>,
    closed: bool,
    /// Drops since the sink last caught up, for the recovery log line.
    dropping: u64,
}

/// A bounded, drop-oldest queue of flushes for one sink.
#[derive(Debug)]
pub(crate) struct Queue {
    name: String,
    capacity: usize,
    state: Mutex<State>,
    ready: Notify,
    /// Flushes dropped since start (never reset), for self-metrics.
    dropped: AtomicU64,
}

impl Queue {
    pub(crate) fn new(name: String, capacity: usize) -> Self {
        Self {
            name,
            capacity,
            state: Mutex::default(),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Flushes dropped since start.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Counts a flush the sink gave up on.
    pub(crate) fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues a flush without ever blocking.
    pub(crate) fn push(&self, snapshot: Arc<Snapshot>) {
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        if state.waiting.len() >= self.capacity {
            state.waiting.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if state.dropping == 0 {
                tracing::warn!(sink = %self.name, "sink is {} flushes behind; dropping the oldest until it catches up", self.capacity);
            }
            state.dropping += 1;
        }
        state.waiting.push_back(snapshot);
        drop(state);
        self.ready.notify_one();
    }

    /// The next flush, or `None` once the queue is closed and empty.
    pub(crate) async fn pop(&self) -> Option<Arc<Snapshot>> {
        loop {
            let ready = self.ready.notified();
            {
                let mut state = lock(&self.state);
                if let Some(snapshot) = state.waiting.pop_front() {
                    if state.waiting.is_empty() && state.dropping > 0 {
                        tracing::warn!(sink = %self.name, "sink caught up after dropping {} flushes", state.dropping);
                        state.dropping = 0;
                    }
                    return Some(snapshot);
                }
                if state.closed {
                    return None;
                }
            }
            ready.await;
        }
    }

    /// No more flushes will come; `pop` drains what is left, then ends.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_one();
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use statkit_agg::Snapshot;
    use std::sync::Arc;

    fn snap(timestamp: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot::new(timestamp, 1000.0, Arc::from([])))
    }

    #[tokio::test]
    async fn drops_the_oldest_when_full_and_drains_after_close() {
        let q = Queue::new("test".into(), 2);
        for t in 1..=4 {
            q.push(snap(t));
        }
        assert_eq!(q.dropped(), 2);
        q.close();
        q.push(snap(5));
        assert_eq!(q.pop().await.unwrap().timestamp, 3);
        assert_eq!(q.pop().await.unwrap().timestamp, 4);
        assert!(q.pop().await.is_none());
    }

    #[tokio::test]
    async fn pop_waits_for_a_push() {
        let q = Arc::new(Queue::new("test".into(), 2));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.pop().await.map(|s| s.timestamp) }
        });
        tokio::task::yield_now().await;
        q.push(snap(7));
        assert_eq!(waiter.await.unwrap(), Some(7));
    }
}
