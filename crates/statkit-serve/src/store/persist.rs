//! The history store's state file on disk: loaded at start, saved every
//! `state_save_interval` and at shutdown.
//!
//! A save writes a temporary file next to the state file, syncs it to disk
//! and renames it over the old one (then syncs the folder), so a crash at
//! any moment, `kill -9` included, leaves either the old file or the new
//! one, never half of one. A file that cannot be read as a state file
//! (foreign, corrupt, from a newer statkit) is reported and renamed aside
//! to `<name>.bad-<unix time>`; the server starts empty instead of
//! refusing to start.

use std::io;
use std::path::Path;
use std::sync::Arc;

use statkit_store::{state, Kind};
use tokio::sync::watch;

use super::settings::StateFile;
use super::History;
use crate::files;
use crate::pipeline::Pipeline;

/// Loads the state file into the shared store, if there is one, and puts
/// the gauges' last values back into the aggregator so the next flush
/// reports them. Never fails: what cannot be loaded is logged.
pub(crate) fn load(
    history: &History,
    pipeline: &Pipeline,
    file: &StateFile,
    options: statkit_store::Options,
) {
    let bytes = match files::read_own(&file.path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            tracing::info!(
                path = %file.path.display(),
                "no state file yet; starting empty"
            );
            return;
        }
        Err(e) => {
            tracing::warn!(
                path = %file.path.display(),
                error = %e,
                "cannot read the state file; starting empty"
            );
            return;
        }
    };
    let store = match state::decode(&bytes, options) {
        Ok(store) => store,
        Err(e) => {
            files::set_aside(&file.path, "state file", &e.to_string());
            return;
        }
    };
    let mut gauges = 0;
    for (kind, key, series) in store.iter() {
        if kind == Kind::Gauge && pipeline.restore_gauge(key, series.last[0]) {
            gauges += 1;
        }
    }
    tracing::info!(
        path = %file.path.display(),
        series = store.len(),
        gauges,
        "loaded the state file"
    );
    *history.write() = store;
}

/// Saves the shared store now, on a blocking thread; logs a failure.
pub(crate) async fn save_now(history: &Arc<History>, path: &Path) {
    let (history, target) = (history.clone(), path.to_owned());
    let saved = tokio::task::spawn_blocking(move || {
        // Encode under the read lock (the flusher's next write waits a
        // moment), write without it.
        let bytes = state::encode(&history.read());
        files::save(&bytes, &target)
    })
    .await;
    match saved {
        Ok(Ok(())) => tracing::debug!(path = %path.display(), "saved the state file"),
        Ok(Err(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the state file")
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "saving the state file failed")
        }
    }
}

/// Saves every `file.save_interval` until `stop` changes.
pub(crate) async fn run(history: Arc<History>, file: StateFile, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(file.save_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate; nothing new to save
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => save_now(&history, &file.path).await,
        }
    }
}
