//! The request view's settings (`[requests]`, gstats' collector).

use crate::allow::AllowList;
use crate::settings::{declare, Alias, Legacy, Setting};
use crate::{ConfigError, Settings};

declare! {
    BUFFER_LENGTH: usize = Setting::new(
        "requests.buffer_length",
        "600",
        "Seconds a finished request counts in the mean and deviation (gstats' --buffer-length)",
    )
    .aliases(&[Alias::new("buffer_length")])
    .value_name("SECONDS");
    MAX_PREFIXES: usize = Setting::new("requests.max_prefixes", "1000", "Prefixes tracked at most");
    RECENT_LIMIT: usize = Setting::new(
        "requests.recent_limit",
        "1000",
        "Recent durations kept per prefix",
    );
    STATUS_ALLOW: Vec<String> = Setting::new(
        "requests.status_allow",
        "127.0.0.1,::1",
        "Addresses and CIDR networks that may read /_status (GSTATS_ALLOWED_IPS, colon-separated, adds to them)",
    )
    .legacy(Legacy::Extend("GSTATS_ALLOWED_IPS", ':'))
    .aliases(&[Alias::new("status_allow")])
    .value_name("IP|CIDR");
    GSTATS_PULL: Option<String> = Setting::new(
        "requests.gstats_pull",
        "",
        "gstats' wire protocol: a ZeroMQ PULL endpoint for gstats' own hooks, e.g. tcp://127.0.0.2:2345",
    )
    .shown("off")
    .aliases(&[Alias::new("gstats_pull")])
    .value_name("ENDPOINT");
    GSTATS_REP: Option<String> = Setting::new(
        "requests.gstats_rep",
        "",
        "A ZeroMQ REP endpoint for gstatsctl, gstats' munin plug-ins and WSGI app, e.g. tcp://127.0.0.1:2345",
    )
    .shown("$GSTATS_COMMS_ADDR or $GSTATS_COMM_ADDR, else off")
    .legacy(Legacy::Default(&[("GSTATS_COMMS_ADDR", ""), ("GSTATS_COMM_ADDR", "")]))
    .aliases(&[Alias::new("gstats_rep")])
    .value_name("ENDPOINT");
}

/// The validated request view settings.
#[derive(Clone, Debug)]
pub struct RequestsConfig {
    pub view: statkit_requests::Settings,
    pub(crate) status_allow: AllowList,
    pub gstats_pull: Option<String>,
    pub gstats_rep: Option<String>,
}

/// A ZeroMQ TCP endpoint, `tcp://host:port`, as gstats took them.
fn endpoint(
    setting: &Setting<Option<String>>,
    s: &Settings,
) -> Result<Option<String>, ConfigError> {
    let Some(value) = s.get(setting) else {
        return Ok(None);
    };
    let valid = value
        .strip_prefix("tcp://")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid {
        return Err(ConfigError::invalid(
            setting.key(),
            format!("{value:?} is not a ZeroMQ TCP endpoint like tcp://127.0.0.1:2345"),
        ));
    }
    Ok(Some(value))
}

impl RequestsConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let buffer_length = s.get(&BUFFER_LENGTH) as u64;
        if !(1..=7 * 86_400).contains(&buffer_length) {
            return Err(ConfigError::invalid(
                BUFFER_LENGTH.key(),
                format!("{buffer_length} is not between 1 and 604800 seconds"),
            ));
        }
        let max_prefixes = crate::settings::check::positive(&MAX_PREFIXES, s)?;
        let allow = s.get(&STATUS_ALLOW);
        let status_allow = AllowList::parse(allow.iter().map(String::as_str)).map_err(|entry| {
            ConfigError::invalid(
                STATUS_ALLOW.key(),
                format!("{entry:?} is neither an IP address nor a CIDR network"),
            )
        })?;
        Ok(RequestsConfig {
            view: statkit_requests::Settings {
                buffer_length,
                max_prefixes,
                recent_limit: s.get(&RECENT_LIMIT),
            },
            status_allow,
            gstats_pull: endpoint(&GSTATS_PULL, s)?,
            gstats_rep: endpoint(&GSTATS_REP, s)?,
        })
    }
}
