//! Where flushes go. A [`Sink`] only delivers one flush; what every sink
//! needs around that is here, once: a bounded [`Queue`] per sink (the
//! flusher never waits for a sink; on disk in the state folder for the
//! sinks that deliver to a backend, so outages and restarts lose nothing up
//! to a byte bound; the oldest flush is dropped and counted past the
//! bound), retries with backoff, a paced replay of a backlog, logging a
//! failure once per episode, and a bounded grace at shutdown (what is on
//! disk then stays for the next start).
//!
//! A new sink implements [`Sink`] and is started with [`Sinks::start`] (a
//! backend: its queue is on disk when there is a state folder) or
//! [`Sinks::start_local`] (the console, the history store: in memory).

pub(crate) mod console;
pub(crate) mod graphite;
pub(crate) mod queue;
pub(crate) mod settings;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_agg::Snapshot;
use tokio::task::JoinHandle;

pub(crate) use queue::Queue;

const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// After shutdown starts, how long a sink keeps retrying its last flushes.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Why a delivery failed; it is retried.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SinkError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// About the delivery at hand.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Attempt {
    /// Flushes this sink's queue dropped since its last delivery.
    pub dropped: u64,
}

/// A destination for flushes.
pub(crate) trait Sink: Send + 'static {
    /// Delivers one flush whole. An error is logged (once per episode) and
    /// the same flush is offered again after a backoff, so a delivery cut
    /// short must be safe to repeat.
    fn deliver(
        &mut self,
        snapshot: &Arc<Snapshot>,
        attempt: Attempt,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}

/// How sinks queue what they have not delivered yet.
#[derive(Clone, Debug)]
pub(crate) struct QueueOptions {
    /// Flushes a queue in memory holds.
    pub capacity: usize,
    /// Where backends' queues go on disk (`<state folder>/queue`) and the
    /// bytes each may hold; `None` without a state folder.
    pub disk: Option<(PathBuf, u64)>,
    /// Flushes per second while a backlog is delivered.
    pub replay_rate: f64,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            capacity: 64,
            disk: None,
            replay_rate: 2.0,
        }
    }
}

/// Every running sink: the flusher's fan-out, and what the admin port and
/// the health report say about drops.
#[derive(Debug, Default)]
pub(crate) struct Sinks {
    options: QueueOptions,
    queues: Vec<Arc<Queue>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sinks {
    pub(crate) fn new(options: QueueOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Starts `sink`, a backend named `name` in logs and counts, behind a
    /// queue on disk in the state folder's `queue/<id>` (`id` names the
    /// backend in a file name), or in memory without a state folder or
    /// when the folder cannot be used (logged).
    pub(crate) fn start(&mut self, name: String, id: &str, sink: impl Sink) {
        let queue = match &self.options.disk {
            Some((root, bytes)) => {
                let options = statkit_queue::Options {
                    max_bytes: *bytes,
                    ..statkit_queue::Options::default()
                };
                match statkit_queue::DiskQueue::open(root.join(id), options) {
                    Ok(disk) => Queue::on_disk(name, disk),
                    Err(e) => {
                        tracing::error!(sink = %name, error = %e, "cannot use the sink's disk queue; queueing in memory (lost at a restart)");
                        Queue::new(name, self.options.capacity)
                    }
                }
            }
            None => Queue::new(name, self.options.capacity),
        };
        self.run(queue, sink);
    }

    /// Starts `sink` behind a queue in memory: for sinks in the server
    /// itself, whose state a restart does not keep anyway.
    pub(crate) fn start_local(&mut self, name: String, sink: impl Sink) {
        self.run(Queue::new(name, self.options.capacity), sink);
    }

    fn run(&mut self, queue: Queue, sink: impl Sink) {
        let queue = Arc::new(queue);
        let pace = Duration::from_secs_f64(1.0 / self.options.replay_rate);
        self.tasks
            .push(tokio::spawn(drive(sink, queue.clone(), pace)));
        self.queues.push(queue);
    }

    /// The queues, for the flusher and the readers of drop counts.
    pub(crate) fn queues(&self) -> Fanout {
        Fanout(self.queues.clone().into())
    }

    /// No more flushes: lets every sink deliver what it holds, for at most
    /// the shutdown grace.
    pub(crate) async fn finish(self) {
        for queue in &self.queues {
            queue.close();
        }
        let all = async {
            for task in self.tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), all)
            .await
            .is_err()
        {
            tracing::error!(
                grace = ?SHUTDOWN_GRACE,
                "sinks did not finish delivering the final flush in time"
            );
        }
    }
}

/// The sinks' queues: the flusher pushes each flush to all of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fanout(Arc<[Arc<Queue>]>);

impl Fanout {
    /// The queues given, for tests that need a sink's drop count.
    #[cfg(test)]
    pub(crate) fn of(queues: Vec<Arc<Queue>>) -> Self {
        Fanout(queues.into())
    }

    /// Queues flush `number` for every sink. The queues on disk take its
    /// bytes: `encoded` when the caller has them, else encoded here once.
    pub(crate) fn push(&self, number: u64, snapshot: Arc<Snapshot>, encoded: Option<&[u8]>) {
        let mut own = Vec::new();
        let encoded = match encoded {
            Some(bytes) => Some(bytes),
            None if self.0.iter().any(|q| q.is_durable()) => {
                snapshot.encode(&mut own);
                Some(&own[..])
            }
            None => None,
        };
        for queue in self.0.iter() {
            queue.push(number, &snapshot, encoded);
        }
    }

    /// Each sink's name and the flushes it dropped since start.
    pub(crate) fn drops(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|queue| (queue.name(), queue.dropped()))
    }
}

/// Delivers every flush from `queue` until it closes and is empty (or, at
/// shutdown, the grace ends: a queue on disk then keeps the rest), a
/// backlog at most one flush per `pace`.
async fn drive(mut sink: impl Sink, queue: Arc<Queue>, pace: Duration) {
    let mut backoff = BACKOFF_START;
    let mut failing = false;
    let mut closing_since: Option<Instant> = None;
    let mut reported = 0;
    let mut last = None;
    while let Some((number, snapshot)) = queue.next().await {
        // A flush queued twice (a checkpoint's copy put back at a start
        // after a crash that came just after the flush was queued) is
        // delivered once.
        if last == Some(number) {
            queue.done();
            continue;
        }
        let dropped = queue.dropped();
        let attempt = Attempt {
            dropped: dropped - reported,
        };
        loop {
            match sink.deliver(&snapshot, attempt).await {
                Ok(()) => {
                    if failing {
                        tracing::info!(sink = %queue.name(), "sink delivers again");
                    }
                    failing = false;
                    backoff = BACKOFF_START;
                    reported = dropped;
                    break;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(sink = %queue.name(), error = %e, "cannot deliver, will retry with backoff");
                    }
                    failing = true;
                    let wait = match queue.is_closed() {
                        false => backoff,
                        true => {
                            let since = closing_since.get_or_insert_with(Instant::now);
                            match SHUTDOWN_GRACE.checked_sub(since.elapsed()) {
                                Some(left) if !left.is_zero() => backoff.min(left),
                                _ => {
                                    give_up(&queue, &e);
                                    return;
                                }
                            }
                        }
                    };
                    // A shutdown cuts a long backoff short: the grace
                    // starts then.
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = queue.wait_closed(), if !queue.is_closed() => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
        queue.done();
        last = Some(number);
        if queue.waiting() > 0 && !queue.is_closed() {
            tokio::time::sleep(pace).await;
        }
    }
}

/// At shutdown, with the backend still failing: a queue on disk keeps
/// what is left for the next start; one in memory loses it, counted.
fn give_up(queue: &Queue, e: &SinkError) {
    if queue.is_durable() {
        tracing::warn!(sink = %queue.name(), error = %e, flushes = queue.waiting(), "the backend is still failing at shutdown; its flushes stay queued on disk for the next start");
        return;
    }
    let left = queue.waiting() + 1;
    for _ in 0..left {
        queue.count_drop();
    }
    tracing::error!(sink = %queue.name(), error = %e, flushes = left, "the backend is still failing at shutdown; its last flushes are lost (no state folder to keep them in)");
}

#[cfg(test)]
mod tests;
