//! Where flushes go. A [`Sink`] only delivers one flush; what every sink
//! needs around that is here, once: a bounded [`Queue`] per sink (the
//! flusher never waits for a sink, the oldest flush is dropped and counted
//! when one falls behind), retries with backoff, logging a failure once
//! per episode, and a bounded grace at shutdown.
//!
//! A new sink implements [`Sink`] and is started with [`Sinks::start`].

pub(crate) mod console;
pub(crate) mod graphite;
pub(crate) mod push;
pub(crate) mod queue;
pub(crate) mod settings;

use std::future::Future;
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
    #[error(transparent)]
    Push(#[from] push::PushError),
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

/// Every running sink: the flusher's fan-out, and what the admin port and
/// the health report say about drops.
#[derive(Debug, Default)]
pub(crate) struct Sinks {
    queues: Vec<Arc<Queue>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sinks {
    /// Starts `sink` behind a queue of `capacity` flushes, named `name` in
    /// logs and counts.
    pub(crate) fn start(&mut self, name: String, capacity: usize, sink: impl Sink) {
        let queue = Arc::new(Queue::new(name, capacity));
        self.tasks.push(tokio::spawn(drive(sink, queue.clone())));
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

    pub(crate) fn push(&self, snapshot: Arc<Snapshot>) {
        for queue in self.0.iter() {
            queue.push(snapshot.clone());
        }
    }

    /// Each sink's name and the flushes it dropped since start.
    pub(crate) fn drops(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|queue| (queue.name(), queue.dropped()))
    }
}

/// Delivers every flush from `queue` until it closes and is empty.
async fn drive(mut sink: impl Sink, queue: Arc<Queue>) {
    let mut backoff = BACKOFF_START;
    let mut failing = false;
    let mut closing_since: Option<Instant> = None;
    let mut reported = 0;
    while let Some(snapshot) = queue.pop().await {
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
                    if queue.is_closed()
                        && closing_since.get_or_insert_with(Instant::now).elapsed() > SHUTDOWN_GRACE
                    {
                        tracing::error!(sink = %queue.name(), error = %e, "giving up on a flush at shutdown");
                        queue.count_drop();
                        break;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
