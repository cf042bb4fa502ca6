//! The queue between the flusher and one sink.
//!
//! The flusher never waits for a sink. A queue keeps what its sink has not
//! delivered yet in one of two places:
//!
//! - **in memory**, without a state folder: at most `capacity` flushes;
//!   past that the oldest waiting flush is dropped and counted, and the
//!   sink logs that once per episode rather than once per flush;
//! - **on disk**, in the state folder (`queue/<sink>`): every flush is
//!   written there (encoded, with its number) before the sink sees it, and
//!   leaves only once delivered, so a backend outage, a `kill -9` or a
//!   restart loses nothing up to the byte bound, past which the oldest
//!   flushes go first, counted. The last few flushes queued are also kept
//!   in memory, so a sink that keeps up never decodes what it delivers
//!   (the record read back is matched by its number, length and CRC); a
//!   backlog is read back from disk and decoded, which costs less than
//!   keeping it in memory.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use statkit_agg::Snapshot;
use statkit_queue::DiskQueue;
use tokio::sync::Notify;

use crate::support::lock;

/// One flush waiting for its sink: its number (flushes since the totals
/// began) and the flush.
pub(crate) type Waiting = (u64, Arc<Snapshot>);

/// A record on disk: the flush's number, then the encoded snapshot.
const NUMBER: usize = 8;

/// Flushes a disk queue also keeps in memory: the one being delivered and
/// the next.
const RECENT: usize = 2;

#[derive(Debug)]
enum Backlog {
    Memory(VecDeque<Waiting>),
    Disk {
        disk: DiskQueue,
        /// The last flushes queued, by their record's [`Fingerprint`].
        recent: VecDeque<(Fingerprint, Arc<Snapshot>)>,
    },
}

/// What identifies a record read back from disk as one queued in this
/// run: its flush number, length and CRC-32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    number: u64,
    len: usize,
    crc: u32,
}

impl Fingerprint {
    fn of(number: u64, encoded: &[u8]) -> Self {
        Self {
            number,
            len: encoded.len(),
            crc: crc32fast::hash(encoded),
        }
    }
}

#[derive(Debug)]
struct State {
    backlog: Backlog,
    closed: bool,
    /// Drops since the sink last caught up, for the recovery log line.
    dropping: u64,
}

/// A flush queue for one sink; see the module documentation.
#[derive(Debug)]
pub(crate) struct Queue {
    name: String,
    capacity: usize,
    state: Mutex<State>,
    ready: Notify,
    /// Wakes a sink waiting out a backoff when the queue closes.
    closing: Notify,
    /// Flushes dropped since start (never reset), for self-metrics.
    dropped: AtomicU64,
}

impl Queue {
    /// A queue in memory of at most `capacity` flushes.
    pub(crate) fn new(name: String, capacity: usize) -> Self {
        Self::with(name, capacity, Backlog::Memory(VecDeque::new()))
    }

    /// A queue on disk (see [`statkit_queue`] for the bound and recovery).
    pub(crate) fn on_disk(name: String, disk: DiskQueue) -> Self {
        let recovery = disk.recovery();
        if recovery.torn_tails > 0 || !recovery.set_aside.is_empty() || recovery.cursor_reset {
            tracing::warn!(
                sink = %name,
                torn = recovery.torn_tails,
                set_aside = recovery.set_aside.len(),
                cursor_reset = recovery.cursor_reset,
                "the sink's disk queue was repaired after a crash"
            );
        }
        if !disk.is_empty() {
            tracing::info!(sink = %name, flushes = disk.len(), bytes = disk.bytes(), "flushes kept from before the restart will be delivered first");
        }
        let recent = VecDeque::new();
        Self::with(name, usize::MAX, Backlog::Disk { disk, recent })
    }

    fn with(name: String, capacity: usize, backlog: Backlog) -> Self {
        Self {
            name,
            capacity,
            state: Mutex::new(State {
                backlog,
                closed: false,
                dropping: 0,
            }),
            ready: Notify::new(),
            closing: Notify::new(),
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

    /// Whether flushes wait on disk, and so must come encoded.
    pub(crate) fn is_durable(&self) -> bool {
        matches!(lock(&self.state).backlog, Backlog::Disk { .. })
    }

    /// Counts a flush the sink gave up on.
    pub(crate) fn count_drop(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues flush `number` without ever waiting for the sink. A durable
    /// queue writes `encoded` (the snapshot's bytes) instead of keeping the
    /// snapshot.
    pub(crate) fn push(&self, number: u64, snapshot: &Arc<Snapshot>, encoded: Option<&[u8]>) {
        let mut state = lock(&self.state);
        if state.closed {
            return;
        }
        let dropped = match &mut state.backlog {
            Backlog::Memory(waiting) => {
                let full = waiting.len() >= self.capacity;
                if full {
                    waiting.pop_front();
                }
                waiting.push_back((number, snapshot.clone()));
                u64::from(full)
            }
            Backlog::Disk { disk, recent } => {
                let dropped = push_to_disk(&self.name, disk, number, encoded);
                if let Some(encoded) = encoded {
                    if recent.len() == RECENT {
                        recent.pop_front();
                    }
                    recent.push_back((Fingerprint::of(number, encoded), snapshot.clone()));
                }
                dropped
            }
        };
        if dropped > 0 {
            self.dropped.fetch_add(dropped, Ordering::Relaxed);
            if state.dropping == 0 {
                tracing::warn!(sink = %self.name, "the sink is behind by more than its queue holds; dropping the oldest flushes until it catches up");
            }
            state.dropping += dropped;
        }
        drop(state);
        self.ready.notify_one();
    }

    /// The next flush, or `None` once the queue is closed and empty. From
    /// memory it leaves the queue now; from disk only at [`Queue::done`],
    /// after delivery, so a crash in between delivers it again.
    pub(crate) async fn next(self: &Arc<Self>) -> Option<Waiting> {
        loop {
            let ready = self.ready.notified();
            match self.take() {
                Taken::Flush(waiting) => return Some(waiting),
                Taken::Read => {
                    let queue = self.clone();
                    match tokio::task::spawn_blocking(move || queue.read_disk()).await {
                        Ok(Some(waiting)) => return Some(waiting),
                        Ok(None) | Err(_) => continue,
                    }
                }
                Taken::Closed => return None,
                Taken::Empty => ready.await,
            }
        }
    }

    fn take(&self) -> Taken {
        let mut state = lock(&self.state);
        let taken = match &mut state.backlog {
            Backlog::Memory(waiting) => waiting.pop_front().map(Taken::Flush),
            Backlog::Disk { disk, .. } => (!disk.is_empty()).then_some(Taken::Read),
        };
        match taken {
            Some(taken) => taken,
            None if state.closed => Taken::Closed,
            None => {
                if state.dropping > 0 {
                    tracing::warn!(sink = %self.name, dropped = state.dropping, "the sink caught up after dropping flushes");
                    state.dropping = 0;
                }
                Taken::Empty
            }
        }
    }

    /// Reads the first flush on disk: the copy in memory when it is one of
    /// the last queued, else decoded. One that cannot be read is logged,
    /// dropped and counted, and `None` says to look again.
    fn read_disk(&self) -> Option<Waiting> {
        let mut state = lock(&self.state);
        let Backlog::Disk { disk, recent } = &mut state.backlog else {
            return None;
        };
        let read = match disk.peek() {
            Ok(Some(record)) => match remembered(recent, record) {
                Some(waiting) => Ok(waiting),
                None => decode(record),
            },
            Ok(None) => return None,
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(waiting) => Some(waiting),
            Err(why) => {
                tracing::error!(sink = %self.name, error = %why, "dropping a queued flush that cannot be read");
                self.count_drop();
                pop(&self.name, disk);
                None
            }
        }
    }

    /// The flush [`Queue::next`] gave was delivered (or given up on): a
    /// durable queue lets go of it now.
    pub(crate) fn done(&self) {
        if let Backlog::Disk { disk, .. } = &mut lock(&self.state).backlog {
            pop(&self.name, disk);
        }
    }

    /// Flushes waiting, for pacing a backlog's replay.
    pub(crate) fn waiting(&self) -> u64 {
        match &lock(&self.state).backlog {
            Backlog::Memory(waiting) => waiting.len() as u64,
            Backlog::Disk { disk, .. } => disk.len(),
        }
    }

    /// No more flushes will come; `next` gives what is left, then ends.
    pub(crate) fn close(&self) {
        lock(&self.state).closed = true;
        self.ready.notify_one();
        self.closing.notify_waiters();
    }

    /// Returns once the queue is closed.
    pub(crate) async fn wait_closed(&self) {
        let closing = self.closing.notified();
        if self.is_closed() {
            return;
        }
        closing.await;
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }
}

enum Taken {
    Flush(Waiting),
    /// The next flush is on disk: read it off the async runtime.
    Read,
    Closed,
    Empty,
}

/// Writes one flush to disk; returns the records the bound or a failure
/// dropped.
fn push_to_disk(name: &str, disk: &mut DiskQueue, number: u64, encoded: Option<&[u8]>) -> u64 {
    let Some(encoded) = encoded else {
        tracing::error!(sink = %name, "a flush for a disk queue came without its bytes; dropped");
        return 1;
    };
    let before = disk.stats().dropped_records;
    let mut record = Vec::with_capacity(NUMBER + encoded.len());
    record.extend_from_slice(&number.to_le_bytes());
    record.extend_from_slice(encoded);
    if let Err(e) = disk.push(&record) {
        tracing::error!(sink = %name, error = %e, "cannot queue a flush on disk; it is dropped");
    }
    disk.stats().dropped_records - before
}

fn pop(name: &str, disk: &mut DiskQueue) {
    if let Err(e) = disk.pop() {
        tracing::error!(sink = %name, error = %e, "cannot take a delivered flush off the disk queue; it may be delivered again");
    }
}

/// The copy in memory of `record`, if it is one of the `recent` flushes
/// (those before it are gone from disk: delivered or dropped).
fn remembered(
    recent: &mut VecDeque<(Fingerprint, Arc<Snapshot>)>,
    record: &[u8],
) -> Option<Waiting> {
    let (number, encoded) = record.split_first_chunk::<NUMBER>()?;
    let fingerprint = Fingerprint::of(u64::from_le_bytes(*number), encoded);
    let at = recent.iter().position(|(f, _)| *f == fingerprint)?;
    let (_, snapshot) = recent.drain(..=at).next_back()?;
    Some((fingerprint.number, snapshot))
}

fn decode(record: &[u8]) -> Result<Waiting, String> {
    let (number, snapshot) = record
        .split_first_chunk::<NUMBER>()
        .ok_or("a record shorter than its flush number")?;
    let snapshot = Snapshot::decode(snapshot).map_err(|e| e.to_string())?;
    Ok((u64::from_le_bytes(*number), Arc::new(snapshot)))
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use statkit_agg::Snapshot;
    use std::sync::Arc;

    fn snap(timestamp: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot::new(timestamp, 1000.0, Arc::from([])))
    }

    fn push(q: &Queue, timestamp: u64) {
        let snapshot = snap(timestamp);
        let mut bytes = Vec::new();
        snapshot.encode(&mut bytes);
        q.push(timestamp, &snapshot, Some(&bytes));
    }

    async fn next(q: &Arc<Queue>) -> Option<u64> {
        let (number, snapshot) = q.next().await?;
        assert_eq!(number, snapshot.timestamp);
        q.done();
        Some(number)
    }

    #[tokio::test]
    async fn drops_the_oldest_when_full_and_drains_after_close() {
        let q = Arc::new(Queue::new("test".into(), 2));
        for t in 1..=4 {
            push(&q, t);
        }
        assert_eq!(q.dropped(), 2);
        q.close();
        push(&q, 5);
        assert_eq!(next(&q).await, Some(3));
        assert_eq!(next(&q).await, Some(4));
        assert!(next(&q).await.is_none());
    }

    #[tokio::test]
    async fn next_waits_for_a_push() {
        let q = Arc::new(Queue::new("test".into(), 2));
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { next(&q).await }
        });
        tokio::task::yield_now().await;
        push(&q, 7);
        assert_eq!(waiter.await.unwrap(), Some(7));
    }

    fn disk(dir: &std::path::Path, max_bytes: u64) -> Arc<Queue> {
        let options = statkit_queue::Options {
            max_bytes,
            segment_bytes: 1 << 20,
        };
        let disk = statkit_queue::DiskQueue::open(dir, options).unwrap();
        Arc::new(Queue::on_disk("test".into(), disk))
    }

    #[tokio::test]
    async fn a_disk_queue_keeps_what_was_not_delivered_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let q = disk(dir.path(), 1 << 20);
        for t in 1..=3 {
            push(&q, t);
        }
        assert_eq!(next(&q).await, Some(1));
        // Read but not done: still queued.
        assert_eq!(q.next().await.map(|(n, _)| n), Some(2));
        drop(q);
        let q = disk(dir.path(), 1 << 20);
        assert_eq!(q.waiting(), 2);
        q.close();
        assert_eq!(next(&q).await, Some(2));
        assert_eq!(next(&q).await, Some(3));
        assert!(next(&q).await.is_none());
    }

    #[tokio::test]
    async fn a_full_disk_queue_drops_the_oldest_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut one = Vec::new();
        snap(1).encode(&mut one);
        // Room for two records.
        let q = disk(dir.path(), 2 * (one.len() as u64 + 16) + 4);
        for t in 1..=4 {
            push(&q, t);
        }
        assert_eq!(q.dropped(), 2);
        q.close();
        assert_eq!(next(&q).await, Some(3));
        assert_eq!(next(&q).await, Some(4));
    }

    #[tokio::test]
    async fn an_unreadable_record_is_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let q = disk(dir.path(), 1 << 20);
        q.push(1, &snap(1), Some(b"not a snapshot"));
        push(&q, 2);
        drop(q);
        // After a restart, records are read back from disk and decoded.
        let q = disk(dir.path(), 1 << 20);
        q.close();
        assert_eq!(next(&q).await, Some(2));
        assert_eq!(q.dropped(), 1);
    }

    #[tokio::test]
    async fn a_sink_that_keeps_up_gets_the_flush_queued_not_a_decoded_copy() {
        let dir = tempfile::tempdir().unwrap();
        let q = disk(dir.path(), 1 << 20);
        let snapshots: Vec<_> = (1..=3).map(snap).collect();
        for s in &snapshots {
            let mut bytes = Vec::new();
            s.encode(&mut bytes);
            q.push(s.timestamp, s, Some(&bytes));
        }
        // The first is no longer among the last two kept in memory.
        let (_, first) = q.next().await.unwrap();
        assert!(!Arc::ptr_eq(&first, &snapshots[0]));
        assert_eq!(first, snapshots[0]);
        q.done();
        for s in &snapshots[1..] {
            let (_, got) = q.next().await.unwrap();
            assert!(Arc::ptr_eq(&got, s));
            q.done();
        }
    }
}
