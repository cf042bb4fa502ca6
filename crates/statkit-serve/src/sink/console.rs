//! The console sink: each flush on standard output, as one summary line
//! (the default on a terminal) or in full (every series, for debugging what
//! the server receives). See [`ConsoleMode`] for why.

use std::io::{IsTerminal as _, Write};
use std::sync::Arc;

use statkit_agg::Snapshot;
use statkit_encode::console::{render, summary, SummaryContext};

use super::settings::ConsoleMode;
use super::{Attempt, Sink, SinkError};

/// Prints flushes on standard output: what `mode` says, the summary
/// reading the server's own counters under `prefix_stats`.
#[derive(Clone, Debug)]
pub(crate) struct Console {
    pub mode: ConsoleMode,
    pub prefix_stats: String,
}

impl Sink for Console {
    async fn deliver(
        &mut self,
        snapshot: &Arc<Snapshot>,
        attempt: Attempt,
    ) -> Result<(), SinkError> {
        // Written on a blocking thread: a stalled stdout (a pipe nobody
        // reads) must not hold an async worker. A closed stdout is not
        // worth stopping the server or retrying for.
        let snapshot = Arc::clone(snapshot);
        let options = self.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let stdout = std::io::stdout();
            let full = match options.mode {
                ConsoleMode::Off => return,
                ConsoleMode::Auto if !stdout.is_terminal() => return,
                ConsoleMode::Auto | ConsoleMode::Summary => false,
                ConsoleMode::Full => true,
            };
            let mut out = std::io::BufWriter::new(stdout.lock());
            let written = if full {
                render(&snapshot, &mut out)
            } else {
                let context = SummaryContext {
                    prefix_stats: &options.prefix_stats,
                    skipped_flushes: attempt.dropped,
                };
                summary(&snapshot, context, &mut out)
            };
            let _ = written.and_then(|()| out.flush());
        })
        .await;
        Ok(())
    }
}
