//! The console sink: each flush printed on standard output, for trying
//! statkit out and for debugging what it receives.

use std::io::Write;
use std::sync::Arc;

use statkit_encode::console::render;

use super::queue::Queue;

/// Prints every flush from `queue` until it closes.
pub(crate) async fn run(queue: Arc<Queue>) {
    while let Some(snapshot) = queue.pop().await {
        // Written on a blocking thread: a stalled stdout (a pipe nobody
        // reads) must not hold an async worker. A closed stdout is not
        // worth stopping the server for.
        let _ = tokio::task::spawn_blocking(move || {
            let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
            let _ = render(&snapshot, &mut stdout).and_then(|()| stdout.flush());
        })
        .await;
    }
}
