//! Checks feature settings share: counts of at least one, durations in a
//! range, addresses that resolve, and the word that turns a listener or a
//! folder off.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::{ConfigError, Setting, Settings};

/// The value that turns a listener or a folder off.
pub const OFF: &str = "off";

/// A count setting that must be at least 1.
pub fn positive(setting: &Setting<usize>, s: &Settings) -> Result<usize, ConfigError> {
    match s.get(setting) {
        0 => Err(ConfigError::invalid(setting.key(), "must be at least 1")),
        n => Ok(n),
    }
}

/// A duration setting within `range`.
pub fn within(
    setting: &Setting<Duration>,
    s: &Settings,
    range: std::ops::RangeInclusive<Duration>,
) -> Result<Duration, ConfigError> {
    let value = s.get(setting);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            setting.key(),
            format!(
                "{} is not between {} and {} seconds",
                value.as_secs_f64(),
                range.start().as_secs_f64(),
                range.end().as_secs_f64()
            ),
        ))
    }
}

/// Resolves an address setting's value.
pub fn resolve(setting: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    let error = |reason: String| ConfigError::Address {
        setting,
        value: value.to_owned(),
        reason,
    };
    value
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .next()
        .ok_or_else(|| error("no address found".into()))
}
