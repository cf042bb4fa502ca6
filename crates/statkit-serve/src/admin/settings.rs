//! The admin port's settings (`[admin]`): where it listens, who may change
//! the server through it, and how long and how many sessions it keeps.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::settings::check::{positive, resolve, within};
use crate::settings::{declare, Alias, Setting};
use crate::{ConfigError, Settings};

declare! {
    LISTEN: String = Setting::new(
        "admin.listen",
        "127.0.0.1:8126",
        "Address of the etsy-compatible admin port",
    )
    .aliases(&[Alias::new("admin")])
    .value_name("ADDR");
    SOCKET: Option<PathBuf> = Setting::new(
        "admin.socket",
        "",
        "Also answer admin commands on this Unix socket (mode 0600): every command, whatever admin.changes says",
    );
    CHANGES: String = Setting::new(
        "admin.changes",
        "loopback",
        "Who may change the server on the TCP port (delete, health up|down, requests reset|quit): `loopback` clients, only the admin `socket`, or `none`",
    )
    .value_name("loopback|socket|none");
    IDLE_TIMEOUT: Duration = Setting::new(
        "admin.idle_timeout",
        "60",
        "An admin session that sends nothing for this long is closed",
    );
    MAX_SESSIONS: usize = Setting::new(
        "admin.max_sessions",
        "16",
        "Admin sessions open at once; more are closed on arrival and counted",
    );
}

/// Who may change the server over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Clients on a loopback address (etsy's rule is: anyone).
    Loopback,
    /// Only the admin Unix socket.
    Socket,
    /// Nobody, on any channel.
    Nobody,
}

/// The admin port's validated settings.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    pub listen: SocketAddr,
    pub socket: Option<PathBuf>,
    pub changes: Changes,
    pub idle_timeout: Duration,
    pub max_sessions: usize,
}

impl AdminConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let changes = match s.get(&CHANGES).as_str() {
            "loopback" => Changes::Loopback,
            "socket" => Changes::Socket,
            "none" => Changes::Nobody,
            other => {
                return Err(ConfigError::invalid(
                    CHANGES.key(),
                    format!("{other:?} is none of loopback, socket, none"),
                ))
            }
        };
        Ok(AdminConfig {
            listen: resolve(LISTEN.key(), &s.get(&LISTEN))?,
            socket: s.get(&SOCKET),
            changes,
            idle_timeout: within(
                &IDLE_TIMEOUT,
                s,
                Duration::from_secs(1)..=Duration::from_secs(86_400),
            )?,
            max_sessions: positive(&MAX_SESSIONS, s)?,
        })
    }
}
