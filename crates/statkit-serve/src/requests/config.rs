//! The request view's settings: the `[requests]` table of the config file,
//! and the flags and environment `statkit serve` lays over it.

use serde::Deserialize;
use statkit_requests::Settings;

use crate::allow::AllowList;
use crate::config::ConfigError;

/// Who may read `/_status` when nothing says otherwise (gstats allowed
/// only 127.0.0.1).
const DEFAULT_ALLOW: [&str; 2] = ["127.0.0.1", "::1"];

/// `[requests]` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequests {
    /// Seconds a finished request counts in the mean and deviation.
    pub buffer_length: Option<u64>,
    /// Prefixes tracked at most.
    pub max_prefixes: Option<usize>,
    /// Recent durations kept per prefix.
    pub recent_limit: Option<usize>,
    /// Addresses and CIDR networks that may read `/_status`.
    pub status_allow: Option<Vec<String>>,
    /// gstats' PULL endpoint for its hooks (`tcp://host:port`); off unless set.
    pub gstats_pull: Option<String>,
    /// gstats' REP endpoint for gstatsctl, its munin plug-ins and WSGI app.
    pub gstats_rep: Option<String>,
}

impl RawRequests {
    pub(crate) fn overlay(self, top: RawRequests) -> RawRequests {
        RawRequests {
            buffer_length: top.buffer_length.or(self.buffer_length),
            max_prefixes: top.max_prefixes.or(self.max_prefixes),
            recent_limit: top.recent_limit.or(self.recent_limit),
            status_allow: top.status_allow.or(self.status_allow),
            gstats_pull: top.gstats_pull.or(self.gstats_pull),
            gstats_rep: top.gstats_rep.or(self.gstats_rep),
        }
    }
}

/// The validated request view settings.
#[derive(Clone, Debug)]
pub struct RequestsConfig {
    pub view: Settings,
    pub(crate) status_allow: AllowList,
    pub gstats_pull: Option<String>,
    pub gstats_rep: Option<String>,
}

impl Default for RequestsConfig {
    fn default() -> Self {
        RequestsConfig {
            view: Settings::default(),
            status_allow: AllowList::parse(DEFAULT_ALLOW).unwrap_or_else(|_| unreachable!()),
            gstats_pull: None,
            gstats_rep: None,
        }
    }
}

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

/// A ZeroMQ TCP endpoint, `tcp://host:port`, as gstats took them.
fn endpoint(setting: &'static str, value: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let valid = value
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid {
        return Err(invalid(
            setting,
            format!("{value:?} is not a ZeroMQ TCP endpoint like tcp://127.0.0.1:2345"),
        ));
    }
    Ok(Some(value.to_owned()))
}

impl TryFrom<Option<&RawRequests>> for RequestsConfig {
    type Error = ConfigError;

    fn try_from(raw: Option<&RawRequests>) -> Result<Self, ConfigError> {
        let d = RequestsConfig::default();
        let Some(raw) = raw else { return Ok(d) };
        let buffer_length = raw.buffer_length.unwrap_or(d.view.buffer_length);
        if !(1..=7 * 86_400).contains(&buffer_length) {
            return Err(invalid(
                "requests.buffer_length",
                format!("{buffer_length} is not between 1 and 604800 seconds"),
            ));
        }
        let max_prefixes = raw.max_prefixes.unwrap_or(d.view.max_prefixes);
        if max_prefixes == 0 {
            return Err(invalid("requests.max_prefixes", "must be at least 1"));
        }
        let status_allow = match &raw.status_allow {
            None => d.status_allow,
            Some(list) => AllowList::parse(list.iter().map(String::as_str)).map_err(|entry| {
                invalid(
                    "requests.status_allow",
                    format!("{entry:?} is neither an IP address nor a CIDR network"),
                )
            })?,
        };
        Ok(RequestsConfig {
            view: Settings {
                buffer_length,
                max_prefixes,
                recent_limit: raw.recent_limit.unwrap_or(d.view.recent_limit),
            },
            status_allow,
            gstats_pull: endpoint("requests.gstats_pull", raw.gstats_pull.as_deref())?,
            gstats_rep: endpoint("requests.gstats_rep", raw.gstats_rep.as_deref())?,
        })
    }
}
