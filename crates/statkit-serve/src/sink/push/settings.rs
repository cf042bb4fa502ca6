//! The pushing sinks' settings: where to push (remote-write, OTLP,
//! InfluxDB, each a list of endpoints) and the labels every pushed series
//! and `/metrics` carry.
//!
//! An endpoint is a URL on the command line (`--remote-write URL`) and,
//! in the configuration file, either a URL or a table with everything an
//! endpoint can say:
//!
//! ```toml
//! [[remote_write]]
//! url = "http://vm:8428/api/v1/write"
//! headers = { "X-Scope-OrgID" = "team1" }
//! basic_auth = { username = "statkit", password_file = "/etc/statkit/vm.pass" }
//! # or: bearer_token_file = "/etc/statkit/vm.token"
//! timeout = "10s"
//! labels = { dc = "eu1" }
//! ```
//!
//! Secrets are read from files at each push (so a rotated token is used
//! at once) and never appear in `--print-config`.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Uri;
use statkit_encode::labels::HostLabels;
use toml::Value;

use crate::settings::{declare, Setting, SettingType};
use crate::{ConfigError, Settings};

declare! {
    REMOTE_WRITE: Vec<Endpoint> = Setting::new(
        "remote_write",
        "",
        "Push every flush to this Prometheus remote-write 1.0 URL (VictoriaMetrics, Mimir, \
         Thanos, Cortex, Prometheus' receiver); in the file also a table with url, headers, \
         basic_auth, bearer_token_file, timeout, labels",
    )
    .value_name("URL");
    OTLP: Vec<Endpoint> = Setting::new(
        "otlp",
        "",
        "Push every flush as OTLP/HTTP protobuf metrics to this URL (an OpenTelemetry \
         Collector's http://host:4318/v1/metrics); in the file also a table as for remote_write",
    )
    .value_name("URL");
    INFLUX: Vec<Endpoint> = Setting::new(
        "influx",
        "",
        "Push every flush as InfluxDB line protocol to this URL: v1 http://host:8086/write?db=DB \
         or v2 http://host:8086/api/v2/write?org=O&bucket=B (token from bearer_token_file); in \
         the file also a table as for remote_write",
    )
    .value_name("URL");
    LABEL: Vec<String> = Setting::new(
        "label",
        "",
        "A label added to every pushed series and to /metrics, e.g. host=web1 (a key's own tag \
         of that name wins, as with Prometheus' external labels)",
    )
    .value_name("KEY=VALUE");
}

/// How long a push may take when the endpoint does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Basic authentication, the password read from a file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasicAuth {
    pub username: String,
    pub password_file: PathBuf,
}

/// One endpoint a pushing sink delivers to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Endpoint {
    /// An `http://` URL with a host.
    pub url: String,
    /// Extra request headers, in the order given.
    pub headers: Vec<(String, String)>,
    pub basic_auth: Option<BasicAuth>,
    /// A file holding the token sent as `Authorization: Bearer` (InfluxDB
    /// v2: `Token`).
    pub bearer_token_file: Option<PathBuf>,
    /// For the whole request, connecting included.
    pub timeout: Duration,
    /// Labels of this endpoint's series, over the host's.
    pub labels: HostLabels,
}

/// The fields an endpoint table may have.
const FIELDS: [&str; 6] = [
    "url",
    "headers",
    "basic_auth",
    "bearer_token_file",
    "timeout",
    "labels",
];

impl SettingType for Endpoint {
    const VALUE_NAME: &'static str = "URL";

    fn from_text(text: &str) -> Result<Self, String> {
        Ok(Endpoint {
            url: checked_url(text)?,
            timeout: DEFAULT_TIMEOUT,
            ..Endpoint::default()
        })
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        let table = match value {
            Value::String(url) => return Self::from_text(url),
            Value::Table(table) => table,
            other => {
                return Err(format!(
                    "expected a URL or a table, found {}",
                    other.type_str()
                ))
            }
        };
        if let Some(other) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(format!(
                "unknown field `{other}`, expected one of {FIELDS:?}"
            ));
        }
        let url = table
            .get("url")
            .and_then(Value::as_str)
            .ok_or("url: expected a string")?;
        let timeout = match table.get("timeout") {
            Some(value) => Duration::from_toml(value).map_err(|e| format!("timeout: {e}"))?,
            None => DEFAULT_TIMEOUT,
        };
        if timeout.is_zero() {
            return Err("timeout: must be more than 0".into());
        }
        let labels = string_pairs(table.get("labels"), "labels")?;
        Ok(Endpoint {
            url: checked_url(url)?,
            headers: headers(table.get("headers"))?,
            basic_auth: basic_auth(table.get("basic_auth"))?,
            bearer_token_file: path(table.get("bearer_token_file"), "bearer_token_file")?,
            timeout,
            labels: HostLabels::new(labels).map_err(|e| format!("labels: {e}"))?,
        })
        .and_then(|endpoint| {
            if endpoint.basic_auth.is_some() && endpoint.bearer_token_file.is_some() {
                Err("basic_auth and bearer_token_file: give one or the other".into())
            } else {
                Ok(endpoint)
            }
        })
    }

    fn to_toml(&self) -> Value {
        let mut table = toml::Table::new();
        table.insert("url".into(), Value::String(self.url.clone()));
        if !self.headers.is_empty() {
            table.insert("headers".into(), pairs_table(&self.headers));
        }
        if let Some(auth) = &self.basic_auth {
            let mut t = toml::Table::new();
            t.insert("username".into(), Value::String(auth.username.clone()));
            t.insert("password_file".into(), auth.password_file.to_toml());
            table.insert("basic_auth".into(), Value::Table(t));
        }
        if let Some(file) = &self.bearer_token_file {
            table.insert("bearer_token_file".into(), file.to_toml());
        }
        table.insert("timeout".into(), self.timeout.to_toml());
        if !self.labels.is_empty() {
            table.insert("labels".into(), pairs_table(self.labels.pairs()));
        }
        Value::Table(table)
    }
}

fn pairs_table(pairs: &[(String, String)]) -> Value {
    let table = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Table(table)
}

/// An `http://host[:port]/path` URL. `https` is refused: statkit carries
/// no TLS stack; put a local proxy or collector in between.
fn checked_url(text: &str) -> Result<String, String> {
    let uri: Uri = text
        .trim()
        .parse()
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(_)) => Ok(text.trim().to_owned()),
        (Some("https"), _) => Err(format!(
            "{text:?}: https is not supported (no TLS in statkit); push through a local proxy"
        )),
        _ => Err(format!("{text:?} is not an http:// URL with a host")),
    }
}

/// A table of strings as ordered pairs.
fn string_pairs(value: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let table = value
        .as_table()
        .ok_or_else(|| format!("{what}: expected a table of strings"))?;
    table
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(v) => Ok((k.clone(), v.to_owned())),
            None => Err(format!("{what}.{k}: expected a string")),
        })
        .collect()
}

/// Header names and values as HTTP allows them.
fn headers(value: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let pairs = string_pairs(value, "headers")?;
    for (name, value) in &pairs {
        hyper::header::HeaderName::try_from(name.as_str())
            .map_err(|_| format!("headers: {name:?} is not a header name"))?;
        hyper::header::HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("headers.{name}: not a valid header value"))?;
    }
    Ok(pairs)
}

fn path(value: Option<&Value>, what: &str) -> Result<Option<PathBuf>, String> {
    value
        .map(|v| PathBuf::from_toml(v).map_err(|e| format!("{what}: {e}")))
        .transpose()
}

fn basic_auth(value: Option<&Value>) -> Result<Option<BasicAuth>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let pairs = string_pairs(Some(value), "basic_auth")?;
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Some((other, _)) = pairs
        .iter()
        .find(|(k, _)| k != "username" && k != "password_file")
    {
        return Err(format!(
            "basic_auth: unknown field `{other}`, expected username and password_file"
        ));
    }
    match (get("username"), get("password_file")) {
        (Some(username), Some(file)) if !file.is_empty() => Ok(Some(BasicAuth {
            username,
            password_file: PathBuf::from(file),
        })),
        _ => Err("basic_auth: needs username and password_file".into()),
    }
}

/// Where flushes are pushed, and the labels of the whole host.
#[derive(Clone, Debug, Default)]
pub struct PushConfig {
    /// Added to every pushed series and to `/metrics`.
    pub labels: HostLabels,
    pub remote_write: Vec<Endpoint>,
    pub otlp: Vec<Endpoint>,
    pub influx: Vec<Endpoint>,
}

impl PushConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let labels = HostLabels::parse(&s.get(&LABEL))
            .map_err(|e| ConfigError::invalid(LABEL.key(), e.to_string()))?;
        let config = PushConfig {
            labels,
            remote_write: s.get(&REMOTE_WRITE),
            otlp: s.get(&OTLP),
            influx: s.get(&INFLUX),
        };
        // Flushes are stamped in whole seconds: two in one second would
        // give a series two values at one time, which Prometheus refuses.
        let interval = crate::pipeline::settings::FLUSH_INTERVAL;
        if config.pushes() && s.get(&interval) < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                interval.key(),
                "must be at least 1 second when flushes are pushed (remote_write, otlp, influx)",
            ));
        }
        Ok(config)
    }

    /// Whether any sink pushes (and so needs the timers' buckets).
    pub fn pushes(&self) -> bool {
        !(self.remote_write.is_empty() && self.otlp.is_empty() && self.influx.is_empty())
    }
}

#[cfg(test)]
mod tests;
