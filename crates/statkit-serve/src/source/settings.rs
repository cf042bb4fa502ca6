//! The statsd listeners' and receivers' settings, and the scanner's
//! (`[stats]`, `[pipe]`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::settings::check::{positive, resolve, within, OFF};
use crate::settings::{declare, Alias, Legacy, Setting};
use crate::{ConfigError, Settings};

declare! {
    STATSD: String = Setting::new(
        "statsd",
        "127.0.0.1:8125",
        "Address for statsd over UDP and TCP (IPv6 as [::1]:8125)",
    )
    .value_name("ADDR");
    UNIX_SOCKET: Option<PathBuf> = Setting::new(
        "unix_socket",
        "",
        "Also receive statsd datagrams on this Unix socket",
    );
    RECEIVERS: usize = Setting::new(
        "receivers",
        "1",
        "UDP receiver threads, each with its own SO_REUSEPORT socket (one keeps etsy's arrival order across clients)",
    );
    RCVBUF: usize = Setting::new(
        "rcvbuf",
        "8388608",
        "Receive buffer (SO_RCVBUF) per UDP socket in bytes, capped by net.core.rmem_max",
    )
    .value_name("BYTES");
    MAX_DATAGRAM: usize = Setting::new(
        "max_datagram",
        "65536",
        "Largest datagram (and TCP line) accepted whole, in bytes (at most 1 MiB)",
    )
    .value_name("BYTES");
    TCP_MAX_CONNECTIONS: usize = Setting::new(
        "tcp_max_connections",
        "1024",
        "statsd TCP clients at once; more are closed and counted",
    );
    TCP_IDLE_TIMEOUT: Duration = Setting::new(
        "tcp_idle_timeout",
        "60",
        "A statsd TCP connection that sends nothing for this long is closed, so idle clients cannot hold every slot",
    );
    RECEIVE_COALESCE: Duration = Setting::new(
        "receive_coalesce",
        "50ms",
        "Under steady traffic, the longest a receiver naps after reading all that was waiting, so one wake-up reads many datagrams (0 to 100ms; 0 reads each at once)",
    )
    .aliases(&[Alias::millis("receive_coalesce_ms")]);
    STATS_DIR: String = Setting::new(
        "stats.dir",
        "/dev/shm/statkit",
        "Shared-memory stats folder to scan into the aggregation, or `off`",
    )
    .shown("$STATKIT_DIR, else /dev/shm/statkit")
    .legacy(Legacy::Default(&[("STATKIT_DIR", "")]))
    .aliases(&[Alias::new("stats_dir")])
    .value_name("DIR|off");
    STATS_SCAN_INTERVAL: Duration = Setting::new(
        "stats.scan_interval",
        "1",
        "Time between scans of the stats folder and the pipe folder",
    )
    .aliases(&[Alias::new("stats_scan_interval")]);
    STATS_MAX_FILES: usize = Setting::new(
        "stats.max_files",
        "10000",
        "Stats files read per scan at most; more are skipped and counted",
    );
    STATS_MAX_BYTES: usize = Setting::new(
        "stats.max_bytes",
        "67108864",
        "Bytes read from one stats file and its continuations at most (what is in use, as files are sparse); a larger one is skipped, counted and logged once",
    )
    .value_name("BYTES");
    STATS_MAX_MMSTATS_BYTES: usize = Setting::new(
        "stats.max_mmstats_bytes",
        "16777216",
        "Bytes of one mmstats file at most (read whole); a larger one is skipped, counted and logged once",
    )
    .value_name("BYTES");
    PIPE_DIR: PathBuf = Setting::new(
        "pipe.dir",
        "/tmp/stats-pipe",
        "Folder of statvent's named pipes (`<pid>.stats`), read by the scan and `/stats`",
    )
    .aliases(&[Alias::new("pipe_dir")]);
    PIPE_SCAN: bool = Setting::new(
        "pipe.scan",
        "true",
        "Read the pipes into the aggregation every scan; false leaves them to `/stats`",
    )
    .aliases(&[Alias::new("pipe_scan")]);
    PIPE_MAX_PIPES: usize = Setting::new(
        "pipe.max_pipes",
        "1024",
        "Named pipes read per scan at most; more are skipped and counted",
    )
    .aliases(&[Alias::new("pipe_max_pipes")]);
    PIPE_MAX_BYTES: usize = Setting::new(
        "pipe.max_bytes",
        "1048576",
        "Bytes of one pipe's snapshot at most; a longer one is discarded",
    )
    .aliases(&[Alias::new("pipe_max_bytes")])
    .value_name("BYTES");
}

/// Where and how statsd is received.
#[derive(Clone, Debug)]
pub struct StatsdConfig {
    pub listen: SocketAddr,
    pub unix_socket: Option<PathBuf>,
    pub receivers: usize,
    pub rcvbuf: usize,
    pub max_datagram: usize,
    pub tcp_max_connections: usize,
    pub tcp_idle_timeout: Duration,
    /// The longest nap of a receiver under steady traffic (`receive_coalesce`).
    pub receive_coalesce: Duration,
}

impl StatsdConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let max_datagram = positive(&MAX_DATAGRAM, s)?;
        if max_datagram > 1 << 20 {
            return Err(ConfigError::invalid(
                "max_datagram",
                "must be at most 1 MiB",
            ));
        }
        // Longer naps delay lines visibly.
        let receive_coalesce = s.get(&RECEIVE_COALESCE);
        if receive_coalesce > Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "receive_coalesce",
                format!("{receive_coalesce:?} is more than 100ms"),
            ));
        }
        Ok(StatsdConfig {
            listen: resolve("statsd", &s.get(&STATSD))?,
            unix_socket: s.get(&UNIX_SOCKET),
            receivers: positive(&RECEIVERS, s)?,
            rcvbuf: positive(&RCVBUF, s)?,
            max_datagram,
            tcp_max_connections: positive(&TCP_MAX_CONNECTIONS, s)?,
            tcp_idle_timeout: within(
                &TCP_IDLE_TIMEOUT,
                s,
                Duration::from_secs(1)..=Duration::from_secs(86_400),
            )?,
            receive_coalesce,
        })
    }
}

/// What the scanner reads, and `/stats` too.
#[derive(Clone, Debug)]
pub struct ScanConfig {
    /// The shared-memory stats folder; `None` when off.
    pub stats_dir: Option<PathBuf>,
    pub interval: Duration,
    pub pipes: statkit_pipe::read::Options,
    /// Whether the scan reads the pipes into the aggregation too.
    pub pipe_scan: bool,
    /// What one stats file may cost to read.
    pub limits: statkit_scan::Limits,
    /// Stats files read per scan at most.
    pub max_files: usize,
}

impl ScanConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let dir = s.get(&STATS_DIR);
        let defaults = statkit_pipe::read::Options::default();
        Ok(ScanConfig {
            stats_dir: (dir != OFF).then(|| PathBuf::from(dir)),
            interval: within(
                &STATS_SCAN_INTERVAL,
                s,
                Duration::from_millis(10)..=Duration::from_secs(86_400),
            )?,
            pipes: statkit_pipe::read::Options {
                dir: s.get(&PIPE_DIR),
                max_pipes: positive(&PIPE_MAX_PIPES, s)?,
                max_bytes: positive(&PIPE_MAX_BYTES, s)?,
                ..defaults
            },
            pipe_scan: s.get(&PIPE_SCAN),
            limits: statkit_scan::Limits {
                max_used_bytes: positive(&STATS_MAX_BYTES, s)? as u64,
                max_mmstats_bytes: positive(&STATS_MAX_MMSTATS_BYTES, s)? as u64,
                ..statkit_scan::Limits::default()
            },
            max_files: positive(&STATS_MAX_FILES, s)?,
        })
    }
}
