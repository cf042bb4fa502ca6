//! The history store's settings (`[store]`) and the state folder's
//! (`[state]`): where what must survive a restart is kept.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::check::{positive, within, OFF};
use crate::settings::{declare, Alias, Legacy, Setting};
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
    FORGET_AFTER: Duration = Setting::new(
        "store.forget_after",
        "86400",
        "The history store forgets a series (history and all) once no flush has reported it for this long: the aggregation let it go (series_ttl, etsy's delete options, an admin delete); 0 keeps every series",
    );
    STATE_DIR: String = Setting::new(
        "state.dir",
        "off",
        "The state folder (0700, locked so two servers cannot share it): the checkpoint, the sinks' disk queues and the history are kept there, or `off` to keep nothing",
    )
    .shown("$STATE_DIRECTORY, else $XDG_STATE_HOME/statkit, else ~/.local/state/statkit")
    .legacy(Legacy::Default(&[
        ("STATE_DIRECTORY", ""),
        ("XDG_STATE_HOME", "statkit"),
        ("HOME", ".local/state/statkit"),
    ]))
    .value_name("DIR|off");
    STATE_FILE: Option<PathBuf> = Setting::new(
        "state.file",
        "",
        "Save the history (and gauges) in this file instead of the state folder's `history`",
    )
    .shown("history in state.dir")
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
        // The Prometheus face's settings (prometheus/settings.rs).
        max_series_per_name: crate::prometheus::settings::max_series_per_name(s),
        forget_after_s: s.get(&FORGET_AFTER).as_secs(),
        idle_ttl_s: crate::prometheus::settings::series_ttl(s)
            .map_or(0, |ttl| ttl.as_secs().max(1)),
    })
}

/// The state folder, `None` when off.
pub(crate) fn state_dir(s: &Settings) -> Result<Option<PathBuf>, ConfigError> {
    let dir = s.get(&STATE_DIR);
    if dir == OFF {
        return Ok(None);
    }
    let dir = PathBuf::from(dir);
    if !dir.is_absolute() {
        return Err(ConfigError::invalid(
            STATE_DIR.key(),
            format!("{} is not an absolute path", dir.display()),
        ));
    }
    Ok(Some(dir))
}

/// The history's file: `state.file`, else `history` in the state folder
/// when the HTTP face keeps a history (`shown`; without it there is none
/// to save unless `state.file` asks for one).
pub(crate) fn state_file(
    s: &Settings,
    dir: Option<&std::path::Path>,
    shown: bool,
) -> Result<Option<StateFile>, ConfigError> {
    let save_interval = within(
        &SAVE_INTERVAL,
        s,
        Duration::from_secs(1)..=Duration::from_secs(86_400),
    )?;
    let in_dir = dir.filter(|_| shown).map(|d| d.join(HISTORY));
    let path = s.get(&STATE_FILE).or(in_dir);
    Ok(path.map(|path| StateFile {
        path,
        save_interval,
    }))
}

/// The history store's file in the state folder.
pub const HISTORY: &str = "history";
