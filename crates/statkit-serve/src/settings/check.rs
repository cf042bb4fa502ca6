//! Checks feature settings share: counts of at least one, durations in a
//! range, addresses that resolve, and the word that turns a listener or a
//! folder off.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use super::{ConfigError, Setting, SettingType, Settings};

/// The value that turns a listener or a folder off.
pub const OFF: &str = "off";

/// A count setting that must be at least 1.
pub fn positive(setting: &Setting<usize>, s: &Settings) -> Result<usize, ConfigError> {
    match s.get(setting) {
        0 => Err(ConfigError::invalid(setting.key(), "must be at least 1")),
        n => Ok(n),
    }
}

/// A setting within `range`.
pub fn within<T: Bounded + SettingType>(
    setting: &Setting<T>,
    s: &Settings,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let value = s.get(setting);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            setting.key(),
            format!(
                "{} is not between {} and {}",
                value.shown(),
                range.start().shown(),
                range.end().shown()
            ),
        ))
    }
}

/// A value [`within`] can bound and show in its error.
pub trait Bounded: PartialOrd + Sized {
    fn shown(&self) -> String;
}

impl Bounded for Duration {
    fn shown(&self) -> String {
        format!("{} seconds", self.as_secs_f64())
    }
}

impl Bounded for usize {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Bounded for f64 {
    fn shown(&self) -> String {
        self.to_string()
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
