//! `statkit serve`: flags and environment become a [`RawConfig`] laid over
//! the config file's; then bind, print the addresses, and run until SIGTERM
//! or SIGINT.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use statkit_serve::requests::{GstatsSockets, RawRequests};
use statkit_serve::{Config, Listeners, RawConfig};

use super::UsageError;

/// Settings that only the TOML file takes (docs/serve.md has them all).
const FILE_ONLY: &str = "\
Also in the --config file (defaults in brackets):
  max_datagram [65536]       largest datagram or TCP line accepted whole
  max_key_bytes [4096]       longest key (name and tags); longer ones are refused
  max_set_members [1000000]  distinct members a set takes per interval
  sink_queue [64]            flushes a sink may fall behind before the oldest is dropped
  tcp_max_connections [1024] statsd TCP clients at once
  receive_coalesce_ms [5]    a receiver's nap under steady traffic (0: read at once)
  key_sanitize [true]        etsy's keyNameSanitize
  delete_counters, delete_gauges, delete_timers, delete_sets [from --delete-idle-stats]
  gauges_max_ttl [1]         etsy's gaugesMaxTTL
  prefix_stats [statsd]      etsy's prefixStats
  history_bytes [16384]      bytes of history the HTTP store keeps per series
  pipe_max_pipes [1024]      named pipes read per /stats request; more are skipped and counted
  pipe_max_bytes [1048576]   bytes of one pipe's snapshot; a longer one is discarded
  [graphite_names]           legacy_namespace, global_prefix, prefix_counter, prefix_timer,
                             prefix_gauge, prefix_set, global_suffix, flush_counts
  [[histogram]]              metric (a substring of the key) and bins (numbers or \"inf\")
  [requests]                 buffer_length [600], max_prefixes [1000], recent_limit [1000],
                             status_allow [[\"127.0.0.1\", \"::1\"]] (docs/requests.md)";

/// Run the statsd server. Every flag can also come from the environment
/// (`STATKIT_<FLAG>`) or the TOML file given to --config (same names, with
/// `_` for `-`); flags win over the environment, which wins over the file.
#[derive(Debug, clap::Args)]
#[command(after_help = FILE_ONLY)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "STATKIT_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address for statsd over UDP and TCP [default: 127.0.0.1:8125].
    #[arg(long, env = "STATKIT_STATSD", value_name = "ADDR")]
    statsd: Option<String>,
    /// Address of the etsy-compatible admin port [default: 127.0.0.1:8126].
    #[arg(long, env = "STATKIT_ADMIN", value_name = "ADDR")]
    admin: Option<String>,
    /// Address of the HTTP server, or `off` for none [default: 127.0.0.1:8127].
    #[arg(long, env = "STATKIT_HTTP", value_name = "ADDR|off")]
    http: Option<String>,
    /// Answer HTTP only to clients in this CIDR range or address (repeatable);
    /// others get 403 [default: every client].
    #[arg(
        long = "http-allow",
        env = "STATKIT_HTTP_ALLOW",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    http_allow: Vec<String>,
    /// Also serve gstatsd's load API (`/N`, `/N/full`) on this address [default: off].
    #[arg(long, env = "STATKIT_LOAD_LISTEN", value_name = "ADDR")]
    load_listen: Option<String>,
    /// Folder of statvent's named pipes (`<pid>.stats`), read by `/stats` [default: /tmp/stats-pipe].
    #[arg(long, env = "STATKIT_PIPE_DIR", value_name = "DIR")]
    pipe_dir: Option<PathBuf>,
    /// Read the pipes into the aggregation every stats scan interval; `--pipe-scan=false` leaves them to `/stats` [default: on].
    #[arg(long, env = "STATKIT_PIPE_SCAN", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pipe_scan: Option<bool>,
    /// Also serve statvent's web service (`/stats`, 400 elsewhere) on this address [default: off].
    #[arg(long, env = "STATKIT_STATVENT_LISTEN", value_name = "ADDR")]
    statvent_listen: Option<String>,
    /// Bucket bounds in ms of the timers' Prometheus histograms (repeatable) [default: 5,10,25,...,10000].
    #[arg(
        long = "prometheus-bucket",
        env = "STATKIT_PROMETHEUS_BUCKETS",
        value_name = "MS",
        value_delimiter = ','
    )]
    prometheus_bucket: Vec<f64>,
    /// Save the HTTP server's history (and gauges) here on shutdown and every
    /// --state-save-interval, and load it at start [default: not kept].
    #[arg(long, env = "STATKIT_STATE_FILE", value_name = "PATH")]
    state_file: Option<PathBuf>,
    /// Seconds between saves of the --state-file [default: 60].
    #[arg(long, env = "STATKIT_STATE_SAVE_INTERVAL", value_name = "SECONDS")]
    state_save_interval: Option<f64>,
    /// Series the HTTP server's history store keeps [default: 100000].
    #[arg(long, env = "STATKIT_STORE_MAX_SERIES", value_name = "N")]
    store_max_series: Option<usize>,
    /// Also receive statsd datagrams on this Unix socket.
    #[arg(long, env = "STATKIT_UNIX_SOCKET", value_name = "PATH")]
    unix_socket: Option<PathBuf>,
    /// Send every flush to this Graphite plaintext receiver (repeatable).
    #[arg(
        long = "graphite",
        env = "STATKIT_GRAPHITE",
        value_name = "HOST:PORT",
        value_delimiter = ','
    )]
    graphite: Vec<String>,
    /// Seconds between flushes; fractions allowed [default: 10].
    #[arg(long, env = "STATKIT_FLUSH_INTERVAL", value_name = "SECONDS")]
    flush_interval: Option<f64>,
    /// Timer percentile to report; negative means the top N% (repeatable) [default: 90].
    #[arg(
        long = "percent-threshold",
        value_name = "N",
        allow_negative_numbers = true,
        value_delimiter = ','
    )]
    percent_threshold: Vec<f64>,
    /// Print every flush on standard output; `--console=false` turns it off
    /// [default: on when no --graphite is given].
    #[arg(long, env = "STATKIT_CONSOLE", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    console: Option<bool>,
    /// UDP receiver threads, each with its own SO_REUSEPORT socket [default: cores, at most 4].
    #[arg(long, env = "STATKIT_RECEIVERS", value_name = "N")]
    receivers: Option<usize>,
    /// Receive buffer (SO_RCVBUF) per UDP socket in bytes [default: 8 MiB; capped by net.core.rmem_max].
    #[arg(long, env = "STATKIT_RCVBUF", value_name = "BYTES")]
    rcvbuf: Option<usize>,
    /// How sample rates weigh timers: `etsy` (only the count) or `weighted` (every statistic) [default: etsy].
    #[arg(long, env = "STATKIT_SAMPLE_RATES", value_name = "MODE")]
    sample_rates: Option<String>,
    /// Exact timer values kept per series per interval before a sketch takes over [default: 65536].
    #[arg(long, env = "STATKIT_TIMER_EXACT_LIMIT", value_name = "N")]
    timer_exact_limit: Option<usize>,
    /// Series per kind accepted before new names are refused and counted [default: 1000000].
    #[arg(long, env = "STATKIT_MAX_SERIES", value_name = "N")]
    max_series: Option<usize>,
    /// Delete idle counters, gauges, timers and sets instead of reporting zeros (etsy's deleteIdleStats).
    #[arg(long, env = "STATKIT_DELETE_IDLE_STATS")]
    delete_idle_stats: bool,
    /// Request view: seconds a finished request counts in the mean and
    /// deviation (gstats' --buffer-length) [default: 600].
    #[arg(long, env = "STATKIT_BUFFER_LENGTH", value_name = "SECONDS")]
    buffer_length: Option<u64>,
    /// Address or CIDR network allowed to read /_status (repeatable; adds to
    /// GSTATS_ALLOWED_IPS, colon-separated addresses) [default: 127.0.0.1, ::1].
    #[arg(long = "status-allow", value_name = "IP|CIDR", value_delimiter = ',')]
    status_allow: Vec<String>,
    /// gstats' wire protocol, off unless set: a ZeroMQ PULL endpoint for
    /// gstats' own hooks, e.g. tcp://127.0.0.2:2345.
    #[arg(long, env = "STATKIT_GSTATS_PULL", value_name = "ENDPOINT")]
    gstats_pull: Option<String>,
    /// A ZeroMQ REP endpoint for gstatsctl, gstats' munin plug-ins and WSGI
    /// app, e.g. tcp://127.0.0.1:2345 [default: $GSTATS_COMMS_ADDR or
    /// $GSTATS_COMM_ADDR when set, else off].
    #[arg(long, env = "STATKIT_GSTATS_REP", value_name = "ENDPOINT")]
    gstats_rep: Option<String>,
    /// Shared-memory stats folder to scan, or `off` [default: $STATKIT_DIR, else /dev/shm/statkit].
    #[arg(long, env = "STATKIT_STATS_DIR", value_name = "DIR|off")]
    stats_dir: Option<String>,
    /// Seconds between scans of the stats folder and the pipe folder [default: 1].
    #[arg(long, env = "STATKIT_STATS_SCAN_INTERVAL", value_name = "SECONDS")]
    stats_scan_interval: Option<f64>,
    /// Log filter, e.g. `info`, `debug`, `statkit_serve=debug`.
    #[arg(
        long,
        env = "STATKIT_LOG",
        value_name = "FILTER",
        default_value = "info"
    )]
    log: String,
}

impl ServeArgs {
    /// The settings given by flags or environment, for laying over the file.
    fn overlay(&self) -> RawConfig {
        RawConfig {
            statsd: self.statsd.clone(),
            admin: self.admin.clone(),
            http: self.http.clone(),
            load_listen: self.load_listen.clone(),
            pipe_dir: self.pipe_dir.clone(),
            pipe_scan: self.pipe_scan,
            statvent_listen: self.statvent_listen.clone(),
            http_allow: (!self.http_allow.is_empty()).then(|| self.http_allow.clone()),
            prometheus_buckets: (!self.prometheus_bucket.is_empty())
                .then(|| self.prometheus_bucket.clone()),
            store_max_series: self.store_max_series,
            state_file: self.state_file.clone(),
            state_save_interval: self.state_save_interval,
            unix_socket: self.unix_socket.clone(),
            graphite: (!self.graphite.is_empty()).then(|| self.graphite.clone()),
            flush_interval: self.flush_interval,
            percent_thresholds: (!self.percent_threshold.is_empty())
                .then(|| self.percent_threshold.clone()),
            console: self.console,
            receivers: self.receivers,
            rcvbuf: self.rcvbuf,
            sample_rates: self.sample_rates.clone(),
            timer_exact_limit: self.timer_exact_limit,
            max_series: self.max_series,
            delete_idle_stats: self.delete_idle_stats.then_some(true),
            requests: Some(self.requests()),
            stats_dir: self.stats_dir.clone(),
            stats_scan_interval: self.stats_scan_interval,
            ..RawConfig::default()
        }
    }

    /// The request view's flags, with gstats' `GSTATS_ALLOWED_IPS`.
    fn requests(&self) -> RawRequests {
        let from_env = std::env::var("GSTATS_ALLOWED_IPS").unwrap_or_default();
        let allow: Vec<String> = from_env
            .split(':')
            .filter(|ip| !ip.trim().is_empty())
            .map(str::to_owned)
            .chain(self.status_allow.iter().cloned())
            .collect();
        // gstats' WSGI app read GSTATS_COMMS_ADDR; its README said
        // GSTATS_COMM_ADDR. Either names the REP endpoint.
        let gstats_env = || {
            ["GSTATS_COMMS_ADDR", "GSTATS_COMM_ADDR"]
                .iter()
                .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        };
        RawRequests {
            buffer_length: self.buffer_length,
            status_allow: (!allow.is_empty()).then_some(allow),
            gstats_pull: self.gstats_pull.clone(),
            gstats_rep: self.gstats_rep.clone().or_else(gstats_env),
            ..RawRequests::default()
        }
    }

    fn load(&self) -> Result<Config, UsageError> {
        let file = match &self.config {
            Some(path) => RawConfig::from_file(path).map_err(|e| UsageError(e.to_string()))?,
            None => RawConfig::default(),
        };
        Config::try_from(file.overlay(self.overlay())).map_err(|e| UsageError(e.to_string()))
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    limit_malloc_arenas();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .map_err(|e| UsageError(format!("--log: {e}")))?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    let config = args.load()?;
    let listeners = Listeners::bind(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("statkit-async")
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async {
        // Signal handlers first: a SIGTERM right after `ready` must get the
        // final flush, not the default action.
        let shutdown = shutdown_signal()?;
        let mut listeners = listeners;
        listeners.gstats = GstatsSockets::bind(&config.requests).await?;
        announce(&listeners, &config)?;
        statkit_serve::run(config, listeners, shutdown)
            .await
            .context("running the server")
    });
    // The server has delivered what it could; a blocking write stuck on a
    // stalled stdout must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(ExitCode::SUCCESS)
}

/// glibc gives every thread that allocates a malloc arena of its own, each
/// with partly used pages resident. The server allocates off its hot paths
/// (receivers reuse their buffers), so sharing a few arenas costs no speed
/// and keeps about a megabyte less resident. A `MALLOC_ARENA_MAX` set in
/// the environment wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter, and this runs
        // before the server starts any thread.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}

/// Arenas for the whole process: receivers and the flusher allocate rarely.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const ARENAS: libc::c_int = 2;

/// Prints where the server listens, one `listening KIND ADDR` line each,
/// then `ready`: scripts and tests read these (ask for port 0 and learn it).
fn announce(listeners: &Listeners, config: &Config) -> anyhow::Result<()> {
    let statsd = listeners.statsd_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening statsd-udp {statsd}")?;
    writeln!(out, "listening statsd-tcp {statsd}")?;
    writeln!(out, "listening admin {}", listeners.admin_addr()?)?;
    if let Some(http) = listeners.http_addr()? {
        writeln!(out, "listening http {http}")?;
    }
    if let Some(load) = listeners.load_addr()? {
        writeln!(out, "listening load {load}")?;
    }
    if let Some(endpoint) = listeners.gstats.pull_endpoint() {
        writeln!(out, "listening gstats-pull {endpoint}")?;
    }
    if let Some(endpoint) = listeners.gstats.rep_endpoint() {
        writeln!(out, "listening gstats-rep {endpoint}")?;
    }
    if let Some(statvent) = listeners.statvent_addr()? {
        writeln!(out, "listening statvent {statvent}")?;
    }
    if let Some(path) = &config.unix_socket {
        writeln!(out, "listening statsd-unix {}", path.display())?;
    }
    for graphite in &config.graphite {
        writeln!(out, "sending graphite {graphite}")?;
    }
    writeln!(out, "ready")?;
    out.flush()?;
    Ok(())
}

/// Completes on SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
