//! The checkpoint's setting (`[state]`).

use std::time::Duration;

use crate::settings::check::within;
use crate::settings::{declare, Alias, Setting};
use crate::{ConfigError, Settings};

declare! {
    INTERVAL: Duration = Setting::new(
        "state.checkpoint_interval",
        "1",
        "Time between checkpoints of the open interval in the state folder: a kill -9 loses at most the lines received since the last one",
    )
    .aliases(&[Alias::new("checkpoint_interval")]);
}

/// The checkpoint interval, from 10 ms to an hour.
pub(crate) fn interval(s: &Settings) -> Result<Duration, ConfigError> {
    within(
        &INTERVAL,
        s,
        Duration::from_millis(10)..=Duration::from_secs(3600),
    )
}
