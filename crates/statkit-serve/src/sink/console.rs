//! The console sink: each flush on standard output, as one summary line
//! (the default on a terminal) or in full (every series, for debugging what
//! the server receives). See [`ConsoleMode`] for why.
//!
//! Standard output is one per process, and so is what is printed on it:
//! the mode lives in a process-wide cell that building the sinks' settings
//! sets ([`configure`]), the last configuration built winning. A process
//! runs one server; tests that build several configurations do not read
//! the console.

use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Mutex};

use statkit_agg::Snapshot;
use statkit_encode::console::{render, summary, SummaryContext};

use super::settings::ConsoleMode;
use super::{Attempt, Sink, SinkError};

/// What the console prints, and the stats prefix its summary reads.
#[derive(Clone, Debug)]
struct Options {
    mode: ConsoleMode,
    prefix_stats: String,
}

static OPTIONS: Mutex<Option<Options>> = Mutex::new(None);

/// Sets what the console sink prints (see the module's note on why this is
/// process-wide).
pub(crate) fn configure(mode: ConsoleMode, prefix_stats: &str) {
    let options = Options {
        mode,
        prefix_stats: prefix_stats.to_owned(),
    };
    *OPTIONS.lock().unwrap_or_else(|e| e.into_inner()) = Some(options);
}

fn options() -> Options {
    OPTIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or(Options {
            mode: ConsoleMode::Auto,
            prefix_stats: "statsd".into(),
        })
}

/// Prints flushes on standard output.
pub(crate) struct Console;

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
        let _ = tokio::task::spawn_blocking(move || {
            let options = options();
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
