//! The history store as one more sink: each flush is taken in on a blocking
//! thread, off the receivers and the async workers.

use std::sync::Arc;

use statkit_agg::Snapshot;

use super::History;
use crate::sink::{Attempt, Sink, SinkError};

/// Takes every flush into the shared store.
pub(crate) struct StoreSink(pub Arc<History>);

impl Sink for StoreSink {
    async fn deliver(&mut self, snapshot: &Arc<Snapshot>, _: Attempt) -> Result<(), SinkError> {
        let (history, snapshot) = (self.0.clone(), Arc::clone(snapshot));
        let taken = tokio::task::spawn_blocking(move || history.write().ingest(&snapshot)).await;
        // A flush that made the store panic would again: not retried.
        if let Err(e) = taken {
            tracing::error!("the history store failed to take a flush: {e}");
        }
        Ok(())
    }
}
