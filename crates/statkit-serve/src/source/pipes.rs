//! statvent's named pipes, read by both the scanner thread (into the
//! aggregation, see `files.rs`) and `GET /stats`. Reads go one at a time:
//! two readers of one FIFO would split a writer's snapshot between them.

use std::sync::Mutex;

use statkit_pipe::read::{scan, Options, Scan, ScanError};

/// Held while a scan reads the pipes.
static SCANNING: Mutex<()> = Mutex::new(());

/// One scan of the pipe folder (blocking: up to the read timeout); what it
/// skipped is logged.
pub(crate) fn read(options: &Options) -> Result<Scan, ScanError> {
    let found = {
        let _one_at_a_time = SCANNING.lock().unwrap_or_else(|e| e.into_inner());
        scan(options)?
    };
    log(&found);
    Ok(found)
}

fn log(found: &Scan) {
    for path in &found.stale {
        tracing::info!("removed stale pipe {} (no writer)", path.display());
    }
    for (path, why) in &found.discarded {
        tracing::warn!("pipe {}: {why}", path.display());
    }
    for p in &found.processes {
        for bad in &p.malformed {
            tracing::warn!(
                "pipe {} line {}: {} ({:?}); skipped",
                p.path.display(),
                bad.line,
                bad.reason,
                bad.text
            );
        }
    }
    if found.skipped > 0 {
        tracing::warn!("{} pipes left unread (pipe_max_pipes)", found.skipped);
    }
}
