//! The history store's settings (`[store]`) and its state file's
//! (`[state]`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::check::{positive, within};
use crate::settings::{declare, Alias, Setting};
use crate::{ConfigError, Settings};

declare! {
    MAX_SERIES: usize = Setting::new(
        "store.max_series",
        "100000",
        "Series the HTTP server's history store keeps",
    )
    .aliases(&[Alias::new("store_max_series")]);
    HISTORY_BYTES: usize = Setting::new(
        "store.history_bytes",
        "16384",
        "Bytes of history the store keeps per series",
    )
    .aliases(&[Alias::new("history_bytes")])
    .value_name("BYTES");
    STATE_FILE: Option<PathBuf> = Setting::new(
        "state.file",
        "",
        "Save the history (and gauges) here on shutdown and every state.save_interval, and load it at start",
    )
    .shown("not kept")
    .aliases(&[Alias::new("state_file")]);
    SAVE_INTERVAL: Duration = Setting::new(
        "state.save_interval",
        "60",
        "Time between saves of the state file",
    )
    .aliases(&[Alias::new("state_save_interval")]);
}

/// Where and how often the history store is saved.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFile {
    pub path: PathBuf,
    pub save_interval: Duration,
}

/// The store's options; `bounds` are the timers' bucket bounds.
pub(crate) fn options(
    s: &Settings,
    bounds: Arc<[f64]>,
) -> Result<statkit_store::Options, ConfigError> {
    Ok(statkit_store::Options {
        max_series: positive(&MAX_SERIES, s)?,
        bytes_per_series: s.get(&HISTORY_BYTES),
        bounds,
        own_prefix: s.get(&crate::pipeline::settings::PREFIX_STATS),
    })
}

pub(crate) fn state_file(s: &Settings) -> Result<Option<StateFile>, ConfigError> {
    let save_interval = within(
        &SAVE_INTERVAL,
        s,
        Duration::from_secs(1)..=Duration::from_secs(86_400),
    )?;
    Ok(s.get(&STATE_FILE).map(|path| StateFile {
        path,
        save_interval,
    }))
}
