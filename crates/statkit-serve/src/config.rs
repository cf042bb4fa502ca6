//! The configuration the server runs with, validated from the
//! [`Settings`]: one section per feature, each built by the feature's own
//! `settings` module, which also declares the feature's settings.
//!
//! [`registry`] lists every declared setting; it is what the command line,
//! the configuration file, the environment, `--print-config` and the docs
//! are made from.

use std::path::Path;
use std::sync::Arc;

use crate::settings::{declare, Declared, Layers, Setting, Settings};
use crate::{admin, checkpoint, http, pipeline, prometheus, requests, sink, source, store};

pub use crate::settings::ConfigError;
pub use admin::settings::{AdminConfig, Changes};
pub use http::settings::{HttpConfig, LISTEN as HTTP_LISTEN};
pub use prometheus::PrometheusConfig;
pub use requests::settings::RequestsConfig;
pub use sink::settings::{ConsoleMode, SinksConfig};
pub use source::settings::{ScanConfig, StatsdConfig};
pub use store::settings::StateFile;

declare! {
    LOG: String = Setting::new(
        "log",
        "info",
        "Log filter, e.g. `info`, `debug`, `statkit_serve=debug`",
    )
    .value_name("FILTER");
    LOG_FORMAT: String = Setting::new(
        "log_format",
        "text",
        "Log format on stderr: `text` for people, `json` (one object a line, the event's fields in `fields`) for log collectors",
    )
    .value_name("text|json");
}

/// How log events are written to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// A line of text each, for people.
    Text,
    /// A JSON object each, for log collectors.
    Json,
}

impl LogFormat {
    fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        match s.get(&LOG_FORMAT).as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(ConfigError::invalid(
                LOG_FORMAT.key(),
                format!("{other:?} is neither text nor json"),
            )),
        }
    }
}

/// Every setting, in the order help, `--print-config` and the docs show
/// them.
pub fn registry() -> Vec<&'static dyn Declared> {
    [
        source::settings::SETTINGS,
        admin::settings::SETTINGS,
        pipeline::settings::SETTINGS,
        sink::settings::SETTINGS,
        http::settings::SETTINGS,
        store::settings::SETTINGS,
        checkpoint::settings::SETTINGS,
        requests::settings::SETTINGS,
        prometheus::settings::SETTINGS,
        SETTINGS,
    ]
    .concat()
}

/// Layers to read a configuration into, knowing every setting.
pub fn layers() -> Layers {
    Layers::new(registry())
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub statsd: StatsdConfig,
    pub admin: AdminConfig,
    pub aggregation: statkit_agg::Options,
    pub sinks: SinksConfig,
    pub http: HttpConfig,
    /// The HTTP server's history store.
    pub store: statkit_store::Options,
    /// The state folder, when one is kept.
    pub state_dir: Option<std::path::PathBuf>,
    /// The history store's state file and how often it is saved.
    pub state: Option<StateFile>,
    /// Time between checkpoints of the open interval (with a state folder).
    pub checkpoint_interval: std::time::Duration,
    pub scan: ScanConfig,
    pub requests: RequestsConfig,
    /// The Prometheus face: the mapping file, read; the idle series' TTL.
    pub prometheus: PrometheusConfig,
    /// The log filter.
    pub log: String,
    pub log_format: LogFormat,
    /// The settings it was made from, for the admin port's `config`.
    pub settings: Arc<Settings>,
}

impl Config {
    /// Reads the TOML file at `path` over the defaults, as the server
    /// would with `--config` and nothing else.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let mut layers = layers();
        layers.file(path)?;
        Config::try_from(layers.resolve()?)
    }
}

impl TryFrom<Settings> for Config {
    type Error = ConfigError;

    fn try_from(s: Settings) -> Result<Self, ConfigError> {
        let http = HttpConfig::from_settings(&s)?;
        let state_dir = store::settings::state_dir(&s)?;
        let face = PrometheusConfig::from_settings(&s)?;
        let bounds = prometheus::settings::bounds(
            pipeline::settings::buckets(&s)?,
            face.mapping.as_deref(),
        )?;
        // Only the history store, which exists for the HTTP listeners,
        // reads the buckets: without it, flushes carry none.
        let timer_buckets = if http.shows_store() {
            bounds.clone()
        } else {
            Arc::from([])
        };
        Ok(Config {
            statsd: StatsdConfig::from_settings(&s)?,
            admin: AdminConfig::from_settings(&s)?,
            aggregation: pipeline::settings::options(&s, timer_buckets)?,
            sinks: SinksConfig::from_settings(&s)?,
            store: store::settings::options(&s, bounds)?,
            state: store::settings::state_file(&s, state_dir.as_deref(), http.shows_store())?,
            state_dir,
            checkpoint_interval: checkpoint::settings::interval(&s)?,
            scan: ScanConfig::from_settings(&s)?,
            requests: RequestsConfig::from_settings(&s)?,
            prometheus: face,
            http,
            log: s.get(&LOG),
            log_format: LogFormat::from_settings(&s)?,
            settings: Arc::new(s),
        })
    }
}

#[cfg(test)]
mod tests;
