//! statvent's named pipes, read by both the scanner thread (into the
//! aggregation, see `files.rs`) and `GET /stats`. Reads go one at a time
//! (`statkit_pipe::read::scan` sees to that): two readers of one FIFO
//! would split a writer's snapshot between them.

use statkit_pipe::read::{scan, Options, Scan, ScanError};

/// One scan of the pipe folder (blocking: up to the read timeout, after
/// any scan already running); what it skipped is logged.
pub(crate) fn read(options: &Options) -> Result<Scan, ScanError> {
    let found = scan(options)?;
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
