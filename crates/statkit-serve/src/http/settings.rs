//! The HTTP listeners' settings: the main server (`[http]`), gstatsd's load
//! API (`[load]`) and statvent's drop-in service (`[statvent]`).

use std::net::SocketAddr;

use crate::allow::AllowList;
use crate::settings::check::{resolve, OFF};
use crate::settings::{declare, Alias, Setting};
use crate::{ConfigError, Settings};

declare! {
    LISTEN: String = Setting::new(
        "http.listen",
        "127.0.0.1:8127",
        "Address of the HTTP server (dashboard, /metrics, the JSON API), or `off`",
    )
    .aliases(&[Alias::new("http")])
    .value_name("ADDR|off");
    ALLOW: Vec<String> = Setting::new(
        "http.allow",
        "",
        "Answer HTTP only to clients in these CIDR ranges or addresses; others get 403",
    )
    .shown("every client")
    .aliases(&[Alias::new("http_allow")])
    .value_name("CIDR");
    LOAD_LISTEN: Option<String> = Setting::new(
        "load.listen",
        "",
        "Also serve gstatsd's load API (/N, /N/full) on this address",
    )
    .aliases(&[Alias::new("load_listen")])
    .value_name("ADDR");
    STATVENT_LISTEN: Option<String> = Setting::new(
        "statvent.listen",
        "",
        "Also serve statvent's web service (/stats, 400 elsewhere) on this address",
    )
    .aliases(&[Alias::new("statvent_listen")])
    .value_name("ADDR");
}

/// The HTTP listeners and who they answer.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The main HTTP server; `None` when off.
    pub listen: Option<SocketAddr>,
    /// gstatsd's load API listener, if any.
    pub load: Option<SocketAddr>,
    /// statvent's web service listener, if any.
    pub statvent: Option<SocketAddr>,
    /// Client ranges the listeners answer; empty for every client.
    pub(crate) allow: AllowList,
}

impl HttpConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let optional = |setting: &Setting<Option<String>>| {
            s.get(setting)
                .map(|a| resolve(setting.key(), &a))
                .transpose()
        };
        let listen = match s.get(&LISTEN).as_str() {
            OFF => None,
            address => Some(resolve(LISTEN.key(), address)?),
        };
        let allow = s.get(&ALLOW);
        Ok(HttpConfig {
            listen,
            load: optional(&LOAD_LISTEN)?,
            statvent: optional(&STATVENT_LISTEN)?,
            allow: AllowList::parse(allow.iter().map(String::as_str)).map_err(|entry| {
                ConfigError::invalid(
                    ALLOW.key(),
                    format!("{entry:?} is neither an address nor a CIDR range like 10.0.0.0/8"),
                )
            })?,
        })
    }

    /// Whether any listener shows the history store.
    pub(crate) fn shows_store(&self) -> bool {
        self.listen.is_some() || self.load.is_some()
    }
}
