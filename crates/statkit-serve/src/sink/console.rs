//! The console sink: each flush printed on standard output, for trying
//! statkit out and for debugging what it receives.

use std::io::Write;
use std::sync::Arc;

use statkit_agg::Snapshot;
use statkit_encode::console::render;

use super::{Attempt, Sink, SinkError};

/// Prints every flush on standard output.
pub(crate) struct Console;

impl Sink for Console {
    async fn deliver(&mut self, snapshot: &Arc<Snapshot>, _: Attempt) -> Result<(), SinkError> {
        // Written on a blocking thread: a stalled stdout (a pipe nobody
        // reads) must not hold an async worker. A closed stdout is not
        // worth stopping the server or retrying for.
        let snapshot = Arc::clone(snapshot);
        let _ = tokio::task::spawn_blocking(move || {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = render(&snapshot, &mut stdout).and_then(|()| stdout.flush());
        })
        .await;
        Ok(())
    }
}
