//! Configuration in two stages: [`RawConfig`] is what a TOML file, the
//! environment and flags say (every field optional, only syntax checked);
//! [`Config`] is the validated, resolved form the server runs with.
//!
//! Precedence is flags, then environment, then file, then defaults: the
//! command line builds one `RawConfig` from flags and environment and
//! [`RawConfig::overlay`]s it on the file's.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use statkit_agg::{Bin, Deletion, HistogramSetting, Percentile, SampleWeighting, TableOptions};
use statkit_encode::graphite::NamingOptions;

use crate::allow::AllowList;
use crate::requests::{RawRequests, RequestsConfig};

/// Default statsd address (UDP and TCP).
pub const DEFAULT_STATSD: &str = "127.0.0.1:8125";
/// Default admin (management) address, etsy's `mgmt_port`.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:8126";
/// Default HTTP address: the port after the admin port, on loopback, since
/// what it shows (series, traffic) is not for every network to read.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8127";
/// The value of `http` that turns the HTTP server off.
pub const HTTP_OFF: &str = "off";

/// Why a configuration cannot be used. Every message names the setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{setting}: cannot resolve address {value:?}: {reason}")]
    Address {
        setting: &'static str,
        value: String,
        reason: String,
    },
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

/// Settings as written, before validation. Field names are the TOML keys.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// UDP and TCP statsd listen address.
    pub statsd: Option<String>,
    /// Admin (etsy management) listen address.
    pub admin: Option<String>,
    /// HTTP listen address, or `"off"` for no HTTP server.
    pub http: Option<String>,
    /// A Unix datagram socket path to receive statsd on as well.
    pub unix_socket: Option<PathBuf>,
    /// Flush interval in seconds (fractions allowed).
    pub flush_interval: Option<f64>,
    pub percent_thresholds: Option<Vec<f64>>,
    /// Graphite plaintext destinations, `host:port`.
    pub graphite: Option<Vec<String>>,
    /// Print every flush on standard output (default: when no Graphite
    /// destination is configured).
    pub console: Option<bool>,
    /// UDP receiver threads, each with its own SO_REUSEPORT socket.
    pub receivers: Option<usize>,
    /// SO_RCVBUF requested for each UDP socket, in bytes.
    pub rcvbuf: Option<usize>,
    /// Largest datagram accepted whole, in bytes.
    pub max_datagram: Option<usize>,
    /// `etsy` (default) or `weighted`.
    pub sample_rates: Option<String>,
    pub timer_exact_limit: Option<usize>,
    pub max_series: Option<usize>,
    /// Longest key (name and tags) accepted, in bytes.
    pub max_key_bytes: Option<usize>,
    /// Distinct members a set takes per interval.
    pub max_set_members: Option<usize>,
    /// Flushes a sink may fall behind before the oldest is dropped.
    pub sink_queue: Option<usize>,
    pub tcp_max_connections: Option<usize>,
    /// The longest a receiver naps, in milliseconds, under steady traffic
    /// after it has read all that was waiting, so that it wakes once for
    /// many datagrams; faster traffic naps less, so as not to fill the
    /// socket's buffer.
    pub receive_coalesce_ms: Option<f64>,
    pub key_sanitize: Option<bool>,
    pub delete_idle_stats: Option<bool>,
    pub delete_counters: Option<bool>,
    pub delete_gauges: Option<bool>,
    pub delete_timers: Option<bool>,
    pub delete_sets: Option<bool>,
    pub gauges_max_ttl: Option<u32>,
    pub prefix_stats: Option<String>,
    pub graphite_names: Option<RawNames>,
    pub histogram: Option<Vec<RawHistogram>>,
    /// The request view (`[requests]`).
    pub requests: Option<RawRequests>,
    /// Bucket bounds (milliseconds) of the timers' Prometheus histograms.
    pub prometheus_buckets: Option<Vec<f64>>,
    /// Series the HTTP history store keeps.
    pub store_max_series: Option<usize>,
    /// Bytes of history each stored series may hold.
    pub history_bytes: Option<usize>,
    /// Address of gstatsd's load API (`/N`, `/N/full`), off when unset.
    pub load_listen: Option<String>,
    /// Shared-memory stats folder to scan, or `"off"` (default: the
    /// statkit library's folder, `$STATKIT_DIR` or `/dev/shm/statkit`).
    pub stats_dir: Option<String>,
    /// Seconds between scans of the stats folder and the pipe folder.
    pub stats_scan_interval: Option<f64>,
    /// Folder of statvent's named pipes (`<pid>.stats`).
    pub pipe_dir: Option<PathBuf>,
    /// Whether the scanner also reads the pipes into the aggregation
    /// (default true; `/stats` reads them either way).
    pub pipe_scan: Option<bool>,
    /// Pipes read per scan at most; more are counted as skipped.
    pub pipe_max_pipes: Option<usize>,
    /// Bytes of one pipe's snapshot at most; a longer one is discarded.
    pub pipe_max_bytes: Option<usize>,
    /// Address of statvent's drop-in web service, off when unset.
    pub statvent_listen: Option<String>,
    /// Client addresses (`10.0.0.0/8`, `::1`) the HTTP listeners answer;
    /// others get 403. None: every client.
    pub http_allow: Option<Vec<String>>,
    /// Where the history store is saved and loaded from (none: not kept).
    pub state_file: Option<PathBuf>,
    /// Seconds between saves of the state file.
    pub state_save_interval: Option<f64>,
}

/// etsy's `graphite` naming options.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNames {
    pub legacy_namespace: Option<bool>,
    pub global_prefix: Option<String>,
    pub prefix_counter: Option<String>,
    pub prefix_timer: Option<String>,
    pub prefix_gauge: Option<String>,
    pub prefix_set: Option<String>,
    pub global_suffix: Option<String>,
    pub flush_counts: Option<bool>,
}

/// One etsy `histogram` entry: bins for timers whose key contains `metric`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHistogram {
    pub metric: String,
    pub bins: Vec<RawBin>,
}

/// A bin bound: a number, or the string `"inf"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RawBin {
    Number(f64),
    Word(String),
}

impl RawConfig {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        // The full message names the line, shows it, and says what was
        // expected there.
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string().trim_end().to_owned(),
        })
    }

    /// `self` with every setting `top` has replaced by `top`'s.
    pub fn overlay(self, top: RawConfig) -> RawConfig {
        let graphite_names = match (self.graphite_names, top.graphite_names) {
            (Some(base), Some(top)) => Some(base.overlay(top)),
            (base, top) => top.or(base),
        };
        let requests = match (self.requests, top.requests) {
            (Some(base), Some(top)) => Some(base.overlay(top)),
            (base, top) => top.or(base),
        };
        macro_rules! pick {
            ($($field:ident),*) => { RawConfig { graphite_names, requests, $($field: top.$field.or(self.$field)),* } };
        }
        pick!(
            statsd,
            admin,
            http,
            unix_socket,
            flush_interval,
            percent_thresholds,
            graphite,
            console,
            receivers,
            rcvbuf,
            max_datagram,
            sample_rates,
            timer_exact_limit,
            max_series,
            max_key_bytes,
            max_set_members,
            sink_queue,
            tcp_max_connections,
            receive_coalesce_ms,
            key_sanitize,
            delete_idle_stats,
            delete_counters,
            delete_gauges,
            delete_timers,
            delete_sets,
            gauges_max_ttl,
            prefix_stats,
            histogram,
            prometheus_buckets,
            store_max_series,
            history_bytes,
            load_listen,
            stats_dir,
            stats_scan_interval,
            pipe_dir,
            pipe_scan,
            pipe_max_pipes,
            pipe_max_bytes,
            statvent_listen,
            http_allow,
            state_file,
            state_save_interval
        )
    }
}

impl RawNames {
    fn overlay(self, top: RawNames) -> RawNames {
        RawNames {
            legacy_namespace: top.legacy_namespace.or(self.legacy_namespace),
            global_prefix: top.global_prefix.or(self.global_prefix),
            prefix_counter: top.prefix_counter.or(self.prefix_counter),
            prefix_timer: top.prefix_timer.or(self.prefix_timer),
            prefix_gauge: top.prefix_gauge.or(self.prefix_gauge),
            prefix_set: top.prefix_set.or(self.prefix_set),
            global_suffix: top.global_suffix.or(self.global_suffix),
            flush_counts: top.flush_counts.or(self.flush_counts),
        }
    }
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub statsd: SocketAddr,
    pub admin: SocketAddr,
    /// The HTTP server's address; `None` when it is off.
    pub http: Option<SocketAddr>,
    pub unix_socket: Option<PathBuf>,
    pub graphite: Vec<String>,
    pub console: bool,
    pub receivers: usize,
    pub rcvbuf: usize,
    pub max_datagram: usize,
    pub sink_queue: usize,
    pub tcp_max_connections: usize,
    /// See [`RawConfig::receive_coalesce_ms`].
    pub receive_coalesce: Duration,
    pub aggregation: statkit_agg::Options,
    pub naming: NamingOptions,
    pub requests: RequestsConfig,
    /// The HTTP server's history store.
    pub store: statkit_store::Options,
    /// gstatsd's load API listener, if any.
    pub load_listen: Option<SocketAddr>,
    /// The shared-memory stats folder scanned; `None` when off.
    pub stats_dir: Option<PathBuf>,
    /// Seconds between scans of it.
    pub stats_scan_interval: f64,
    /// Where and how `/stats` reads statvent's named pipes.
    pub pipes: statkit_pipe::read::Options,
    /// Whether the scanner reads the pipes into the aggregation too.
    pub pipe_scan: bool,
    /// statvent's drop-in web service listener, if any.
    pub statvent_listen: Option<SocketAddr>,
    /// The history store's state file and how often it is saved.
    pub state: Option<StateFile>,
    /// Client ranges the HTTP listeners answer; empty for every client.
    pub(crate) http_allow: AllowList,
    /// The settings as given, for the admin port's `config` command.
    pub raw: Arc<RawConfig>,
}

/// Where and how often the history store is saved.
#[derive(Clone, Debug, PartialEq)]
pub struct StateFile {
    pub path: PathBuf,
    pub save_interval: std::time::Duration,
}

fn resolve(setting: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
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

fn invalid(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        message: message.into(),
    }
}

fn percentiles(list: &[f64]) -> Result<Arc<[Percentile]>, ConfigError> {
    if list.is_empty() {
        return Err(invalid(
            "percent_thresholds",
            "at least one threshold is needed",
        ));
    }
    list.iter()
        .map(|&p| Percentile::new(p).map_err(|e| invalid("percent_thresholds", e.to_string())))
        .collect()
}

fn histograms(raw: &[RawHistogram]) -> Result<Vec<HistogramSetting>, ConfigError> {
    raw.iter()
        .map(|h| {
            let bins = h
                .bins
                .iter()
                .map(|b| match b {
                    RawBin::Number(n) if n.is_finite() => Ok(Bin::Below(*n)),
                    RawBin::Word(w) if w == "inf" => Ok(Bin::Infinity),
                    other => Err(invalid(
                        "histogram",
                        format!("bin {other:?} is neither a number nor \"inf\""),
                    )),
                })
                .collect::<Result<_, _>>()?;
            Ok(HistogramSetting {
                metric: h.metric.clone(),
                bins,
            })
        })
        .collect()
}

/// Prometheus' default buckets, scaled to the milliseconds statsd timers
/// count in.
const DEFAULT_BUCKETS: [f64; 11] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

fn buckets(raw: Option<&[f64]>) -> Result<Arc<[f64]>, ConfigError> {
    let bounds = raw.unwrap_or(&DEFAULT_BUCKETS);
    if bounds.len() > 64 {
        return Err(invalid("prometheus_buckets", "at most 64 bounds"));
    }
    if !bounds.iter().all(|b| b.is_finite()) || !bounds.windows(2).all(|w| w[0] < w[1]) {
        return Err(invalid(
            "prometheus_buckets",
            "bounds must be finite and strictly ascending",
        ));
    }
    Ok(Arc::from(bounds))
}

/// The stats folder to scan: as given, none for `"off"`, else the
/// library's folder.
fn stats_dir(raw: Option<&str>) -> Option<PathBuf> {
    match raw {
        Some(HTTP_OFF) => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(statkit_scan::default_dir()),
    }
}

fn scan_interval(raw: Option<f64>) -> Result<f64, ConfigError> {
    match raw.unwrap_or(1.0) {
        s if s.is_finite() && (0.01..=86_400.0).contains(&s) => Ok(s),
        s => Err(invalid(
            "stats_scan_interval",
            format!("{s} is not between 0.01 and 86400 seconds"),
        )),
    }
}

/// At most 100 ms: a receiver that naps longer delays lines visibly.
fn coalesce(raw: Option<f64>) -> Result<Duration, ConfigError> {
    match raw.unwrap_or(DEFAULT_COALESCE_MS) {
        ms if ms.is_finite() && (0.0..=100.0).contains(&ms) => {
            Ok(Duration::from_secs_f64(ms / 1000.0))
        }
        ms => Err(invalid(
            "receive_coalesce_ms",
            format!("{ms} is not between 0 and 100 milliseconds"),
        )),
    }
}

fn naming(raw: Option<&RawNames>) -> NamingOptions {
    let d = NamingOptions::default();
    let Some(r) = raw else { return d };
    NamingOptions {
        legacy_namespace: r.legacy_namespace.unwrap_or(d.legacy_namespace),
        global_prefix: r.global_prefix.clone().unwrap_or(d.global_prefix),
        prefix_counter: r.prefix_counter.clone().unwrap_or(d.prefix_counter),
        prefix_timer: r.prefix_timer.clone().unwrap_or(d.prefix_timer),
        prefix_gauge: r.prefix_gauge.clone().unwrap_or(d.prefix_gauge),
        prefix_set: r.prefix_set.clone().unwrap_or(d.prefix_set),
        global_suffix: r.global_suffix.clone(),
        prefix_stats: d.prefix_stats,
        flush_counts: r.flush_counts.unwrap_or(d.flush_counts),
        sanitize_names: d.sanitize_names,
    }
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        let interval = raw.flush_interval.unwrap_or(10.0);
        if !(interval.is_finite() && (0.001..=86_400.0).contains(&interval)) {
            return Err(invalid(
                "flush_interval",
                format!("{interval} is not between 0.001 and 86400 seconds"),
            ));
        }
        let positive =
            |setting, value: Option<usize>, default: usize| match value.unwrap_or(default) {
                0 => Err(invalid(setting, "must be at least 1")),
                n => Ok(n),
            };
        let weighting = match raw.sample_rates.as_deref().unwrap_or("etsy") {
            "etsy" => SampleWeighting::Etsy,
            "weighted" => SampleWeighting::Weighted,
            other => {
                return Err(invalid(
                    "sample_rates",
                    format!("{other:?} is neither \"etsy\" nor \"weighted\""),
                ))
            }
        };
        let idle = raw.delete_idle_stats.unwrap_or(false);
        let deletion = Deletion {
            counters: raw.delete_counters.unwrap_or(idle),
            gauges: raw.delete_gauges.unwrap_or(idle),
            timers: raw.delete_timers.unwrap_or(idle),
            sets: raw.delete_sets.unwrap_or(idle),
        };
        let prefix_stats = raw.prefix_stats.clone().unwrap_or_else(|| "statsd".into());
        let max_datagram = positive("max_datagram", raw.max_datagram, 65_536)?;
        if max_datagram > 1 << 20 {
            return Err(invalid("max_datagram", "must be at most 1 MiB"));
        }
        for g in raw.graphite.iter().flatten() {
            resolve("graphite", g)?;
        }
        let bounds = buckets(raw.prometheus_buckets.as_deref())?;
        let http = match raw.http.as_deref().unwrap_or(DEFAULT_HTTP) {
            HTTP_OFF => None,
            address => Some(resolve("http", address)?),
        };
        let load_listen = raw
            .load_listen
            .as_deref()
            .map(|a| resolve("load_listen", a))
            .transpose()?;
        // Only the history store, which exists for the HTTP listeners, reads
        // the buckets: without it, flushes carry none.
        let timer_buckets = if http.is_some() || load_listen.is_some() {
            bounds.clone()
        } else {
            Arc::from([])
        };
        let save_interval = raw.state_save_interval.unwrap_or(60.0);
        if !(save_interval.is_finite() && (1.0..=86_400.0).contains(&save_interval)) {
            return Err(invalid(
                "state_save_interval",
                format!("{save_interval} is not between 1 and 86400 seconds"),
            ));
        }
        let state = raw.state_file.clone().map(|path| StateFile {
            path,
            save_interval: std::time::Duration::from_secs_f64(save_interval),
        });
        let store = statkit_store::Options {
            max_series: positive("store_max_series", raw.store_max_series, 100_000)?,
            bytes_per_series: raw.history_bytes.unwrap_or(16 * 1024),
            bounds,
            own_prefix: prefix_stats.clone(),
        };
        let aggregation = statkit_agg::Options {
            table: TableOptions {
                sanitize_keys: raw.key_sanitize.unwrap_or(true),
                weighting,
                timer_exact_limit: positive("timer_exact_limit", raw.timer_exact_limit, 65_536)?,
                max_series: positive("max_series", raw.max_series, 1_000_000)?,
                max_key_bytes: positive("max_key_bytes", raw.max_key_bytes, 4096)?,
                max_set_members: positive("max_set_members", raw.max_set_members, 1_000_000)?,
                early_drain_names: statkit_agg::EARLY_DRAIN_NAMES,
            },
            interval_ms: interval * 1000.0,
            percentiles: percentiles(raw.percent_thresholds.as_deref().unwrap_or(&[90.0]))?,
            histograms: histograms(raw.histogram.as_deref().unwrap_or_default())?,
            buckets: timer_buckets,
            deletion,
            // etsy forces any TTL below 2 to 1.
            gauges_max_ttl: raw.gauges_max_ttl.unwrap_or(1).max(1),
            prefix_stats: prefix_stats.clone(),
        };
        Ok(Config {
            statsd: resolve("statsd", raw.statsd.as_deref().unwrap_or(DEFAULT_STATSD))?,
            admin: resolve("admin", raw.admin.as_deref().unwrap_or(DEFAULT_ADMIN))?,
            http,
            load_listen,
            state,
            http_allow: AllowList::parse(raw.http_allow.iter().flatten().map(String::as_str))
                .map_err(|entry| {
                    invalid(
                        "http_allow",
                        format!("{entry:?} is neither an address nor a CIDR range like 10.0.0.0/8"),
                    )
                })?,
            statvent_listen: raw
                .statvent_listen
                .as_deref()
                .map(|a| resolve("statvent_listen", a))
                .transpose()?,
            pipes: pipes(&raw)?,
            pipe_scan: raw.pipe_scan.unwrap_or(true),
            unix_socket: raw.unix_socket.clone(),
            graphite: raw.graphite.clone().unwrap_or_default(),
            // With nowhere else to send flushes, show them.
            console: raw
                .console
                .unwrap_or(raw.graphite.as_ref().is_none_or(Vec::is_empty)),
            receivers: positive("receivers", raw.receivers, DEFAULT_RECEIVERS)?,
            rcvbuf: positive("rcvbuf", raw.rcvbuf, 8 << 20)?,
            max_datagram,
            sink_queue: positive("sink_queue", raw.sink_queue, 64)?,
            tcp_max_connections: positive("tcp_max_connections", raw.tcp_max_connections, 1024)?,
            receive_coalesce: coalesce(raw.receive_coalesce_ms)?,
            stats_dir: stats_dir(raw.stats_dir.as_deref()),
            stats_scan_interval: scan_interval(raw.stats_scan_interval)?,
            aggregation,
            requests: RequestsConfig::try_from(raw.requests.as_ref())?,
            naming: NamingOptions {
                prefix_stats,
                sanitize_names: !raw.key_sanitize.unwrap_or(true),
                ..naming(raw.graphite_names.as_ref())
            },
            store,
            raw: Arc::new(raw),
        })
    }
}

/// The pipe reader's settings; the timeouts are statvent's 0.1 s for a
/// writer to show up and a bound for it to finish.
fn pipes(raw: &RawConfig) -> Result<statkit_pipe::read::Options, ConfigError> {
    let d = statkit_pipe::read::Options::default();
    let positive = |setting, value: Option<usize>, default| match value.unwrap_or(default) {
        0 => Err(invalid(setting, "must be at least 1")),
        n => Ok(n),
    };
    Ok(statkit_pipe::read::Options {
        dir: raw.pipe_dir.clone().unwrap_or(d.dir),
        max_pipes: positive("pipe_max_pipes", raw.pipe_max_pipes, d.max_pipes)?,
        max_bytes: positive("pipe_max_bytes", raw.pipe_max_bytes, d.max_bytes)?,
        ..d
    })
}

/// One receiver by default: it keeps etsy's arrival order across client
/// sockets (gauge updates and floating-point sums depend on it), and one
/// thread already parses millions of lines a second. More receivers spread
/// many clients over cores, each adding up its own clients' traffic.
const DEFAULT_RECEIVERS: usize = 1;

/// The longest nap: slow steady traffic is read in 20 wake-ups a second,
/// and no line waits long against any flush interval. Faster traffic naps
/// less, as the socket's buffer allows (see `source::datagram`).
const DEFAULT_COALESCE_MS: f64 = 50.0;

#[cfg(test)]
mod tests {
    use super::{Config, RawConfig};

    fn parse(toml_text: &str) -> Result<Config, String> {
        let raw: RawConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        Config::try_from(raw).map_err(|e| e.to_string())
    }

    #[test]
    fn receive_coalesce_is_bounded() {
        let c = parse("").unwrap();
        assert_eq!(c.receive_coalesce.as_millis(), 50);
        let c = parse("receive_coalesce_ms = 0").unwrap();
        assert!(c.receive_coalesce.is_zero());
        for bad in ["-1", "100.5", "nan"] {
            let error = parse(&format!("receive_coalesce_ms = {bad}")).unwrap_err();
            assert!(error.starts_with("receive_coalesce_ms"), "{error}");
        }
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let c = parse("").unwrap();
        assert_eq!(c.statsd.to_string(), "127.0.0.1:8125");
        assert_eq!(c.admin.to_string(), "127.0.0.1:8126");
        assert_eq!(
            c.http.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:8127")
        );
        assert_eq!(c.aggregation.interval_ms, 10_000.0);
        assert!(c.naming.legacy_namespace);
        assert!(c.console, "with no sink configured, flushes are printed");
        assert!(!parse("graphite = [\"127.0.0.1:2003\"]").unwrap().console);
    }

    #[test]
    fn http_takes_an_address_or_off() {
        let c = parse("http = \"127.0.0.1:0\"").unwrap();
        assert_eq!(
            c.http.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:0")
        );
        assert_eq!(parse("http = \"off\"").unwrap().http, None);
        // Only the one spelling turns it off; anything else must resolve.
        assert!(parse("http = \"OFF\"").unwrap_err().starts_with("http"));
        assert!(parse("http = \"\"").unwrap_err().starts_with("http"));
    }

    #[test]
    fn delete_idle_stats_sets_every_kind_unless_overridden() {
        let c = parse("delete_idle_stats = true\ndelete_gauges = false").unwrap();
        let d = c.aggregation.deletion;
        assert_eq!(
            (d.counters, d.gauges, d.timers, d.sets),
            (true, false, true, true)
        );
    }

    #[test]
    fn rejects_bad_values_naming_the_setting() {
        assert!(parse("flush_interval = 0")
            .unwrap_err()
            .starts_with("flush_interval"));
        assert!(parse("percent_thresholds = [0]")
            .unwrap_err()
            .starts_with("percent_thresholds"));
        assert!(parse("sample_rates = \"fast\"")
            .unwrap_err()
            .starts_with("sample_rates"));
        assert!(parse("statsd = \"nowhere\"")
            .unwrap_err()
            .starts_with("statsd"));
        assert!(parse("[[histogram]]\nmetric = \"a\"\nbins = [\"x\"]")
            .unwrap_err()
            .starts_with("histogram"));
        assert!(parse("unknown_key = 1")
            .unwrap_err()
            .contains("unknown field"));
    }

    #[test]
    fn overlay_prefers_the_top_layer() {
        let file: RawConfig = toml::from_str(
            "flush_interval = 5.0\nconsole = true\n[graphite_names]\nglobal_prefix = \"a\"",
        )
        .unwrap();
        let flags: RawConfig =
            toml::from_str("flush_interval = 0.5\n[graphite_names]\nlegacy_namespace = false")
                .unwrap();
        let c = Config::try_from(file.overlay(flags)).unwrap();
        assert_eq!(c.aggregation.interval_ms, 500.0);
        assert!(c.console);
        assert_eq!(
            (c.naming.global_prefix.as_str(), c.naming.legacy_namespace),
            ("a", false)
        );
    }

    #[test]
    fn histogram_bins_accept_numbers_and_inf() {
        let c = parse("[[histogram]]\nmetric = \"api\"\nbins = [10, 0.5, \"inf\"]").unwrap();
        assert_eq!(c.aggregation.histograms[0].bins.len(), 3);
    }

    #[test]
    fn prometheus_buckets_must_ascend() {
        let c = parse("prometheus_buckets = [1.0, 2.5]").unwrap();
        assert_eq!(&c.store.bounds[..], &[1.0, 2.5]);
        assert_eq!(&c.aggregation.buckets[..], &[1.0, 2.5]);
        assert_eq!(parse("").unwrap().store.bounds.len(), 11);
        assert!(parse("prometheus_buckets = [2.0, 1.0]")
            .unwrap_err()
            .starts_with("prometheus_buckets"));
        assert!(parse("store_max_series = 0")
            .unwrap_err()
            .starts_with("store_max_series"));
        let c = parse("state_file = \"/x/s\"\nstate_save_interval = 5").unwrap();
        let state = c.state.unwrap();
        assert_eq!(state.save_interval.as_secs(), 5);
        assert!(parse("state_save_interval = 0")
            .unwrap_err()
            .starts_with("state_save_interval"));
        let c = parse("http_allow = [\"10.0.0.0/8\", \"::1\"]").unwrap();
        assert_eq!(c.http_allow.len(), 2);
        assert!(parse("http_allow = [\"10.0.0.0/33\"]")
            .unwrap_err()
            .starts_with("http_allow"));
        let c = parse("load_listen = \"127.0.0.1:0\"").unwrap();
        assert!(c.load_listen.is_some());
        assert!(parse("").unwrap().load_listen.is_none());
    }

    #[test]
    fn pipes_default_to_statvents_folder() {
        let c = parse("").unwrap();
        assert_eq!(c.pipes.dir, std::path::Path::new("/tmp/stats-pipe"));
        assert!(c.statvent_listen.is_none());
        let c =
            parse("pipe_dir = \"/run/p\"\npipe_max_pipes = 3\nstatvent_listen = \"127.0.0.1:0\"")
                .unwrap();
        assert_eq!(
            (c.pipes.dir.to_str(), c.pipes.max_pipes),
            (Some("/run/p"), 3)
        );
        assert!(c.statvent_listen.is_some());
        assert!(parse("pipe_max_bytes = 0")
            .unwrap_err()
            .starts_with("pipe_max_bytes"));
    }
}
