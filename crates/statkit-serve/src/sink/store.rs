//! The history store as one more consumer of the flusher's snapshots:
//! each flush is taken in on a blocking thread, off the receivers and the
//! async workers, behind its own bounded queue like any sink.

use std::sync::Arc;

use super::Queue;
use crate::state::Shared;

/// Takes every flush from `queue` into the shared store until the queue
/// closes.
pub(crate) async fn run(queue: Arc<Queue>, shared: Arc<Shared>) {
    while let Some(snapshot) = queue.pop().await {
        let shared = shared.clone();
        let taken = tokio::task::spawn_blocking(move || {
            shared.store_mut().ingest(&snapshot);
        })
        .await;
        if let Err(e) = taken {
            tracing::error!("the history store failed to take a flush: {e}");
        }
    }
}
