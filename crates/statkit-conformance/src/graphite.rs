//! Plays cases against any statsd server that flushes Graphite plaintext.
//!
//! The runner listens for the server's Graphite connection, sends each
//! case's datagrams over UDP between two sentinel counters, and reads back
//! the flush that holds both sentinels: one flush, one case. A flush that
//! splits the sentinels was cut by the server's flush timer in the middle
//! of the case; the case is then played again (a bounded number of times)
//! once the server has flushed the partial state away.
//!
//! The server must delete idle series (etsy's `deleteIdleStats: true`,
//! statkit's `--delete-idle-stats`), so that one case's series do not
//! linger into the next case's flush. Cases that need settings other than
//! the ones the target is said to run are skipped. Every wait is bounded.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::case::{Case, Kind, Settings};
use crate::outcome::Observed;

/// Why the runner could not do its work (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
pub enum GraphiteError {
    #[error("cannot listen for Graphite on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open a UDP socket to send statsd: {0}")]
    Socket(std::io::Error),
    #[error("sending a datagram to {target}: {source}")]
    Send {
        target: SocketAddr,
        source: std::io::Error,
    },
    #[error("no flush holding the case's datagrams arrived within {0:?}: is the server running, flushing Graphite to this listener?")]
    NoFlush(Duration),
    #[error("every attempt ({0}) was cut in two by the server's flush")]
    Straddled(usize),
}

/// etsy's two layouts of Graphite names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    /// `legacyNamespace: true` (etsy's default): `stats_counts.<key>`,
    /// `stats.<key>`, `stats.timers.<key>.<stat>`, `stats.gauges.<key>`,
    /// `stats.sets.<key>.count`.
    Legacy,
    /// `legacyNamespace: false` with the default prefixes:
    /// `stats.counters.<key>.{count,rate}`, `stats.timers.`, `stats.gauges.`,
    /// `stats.sets.`.
    New,
}

/// Why `case` cannot be played against a target running `target`
/// settings, if it cannot. Judged for `dialect`, statkit's own settings
/// (limits, sample-rate mode) are left out of the match: a server of
/// another dialect has none, and the dialect's documented answer is what
/// it gives without them. A case comparing a rate is never played: rates
/// depend on the target's flush interval, which a case does not set, and
/// the interval matters to nothing else.
pub fn unplayable(case: &Case, target: &Settings, dialect: Option<&str>) -> Option<String> {
    let answers = std::iter::once(&case.expect)
        .chain(case.dialects.values().filter_map(|d| d.expect.as_ref()));
    let rates = answers
        .flat_map(|e| &e.series)
        .any(|s| s.rate.is_some() || s.count_ps.is_some());
    if rates {
        return Some("compares a rate, which depends on the target's flush interval".to_owned());
    }
    if dialect.is_none()
        && (case.settings.max_series.is_some() || case.settings.max_key_bytes.is_some())
    {
        return Some(
            "limits series or keys, which the runner's own sentinel counters would be subject to"
                .to_owned(),
        );
    }
    let comparable = |s: &Settings| {
        let s = if dialect.is_some() {
            s.dialect_visible()
        } else {
            s.clone()
        };
        Settings {
            flush_interval: None,
            ..s
        }
    };
    let (needed, runs) = (comparable(&case.settings), comparable(target));
    (needed != runs).then(|| {
        let needed = match needed.describe() {
            d if d.is_empty() => "the defaults".to_owned(),
            d => d,
        };
        format!("needs settings the target does not run ({needed})")
    })
}

/// Where and how to play the suite.
#[derive(Clone, Debug)]
pub struct Target {
    /// The server's statsd UDP address.
    pub statsd: SocketAddr,
    /// Where the server sends Graphite.
    pub graphite_listen: SocketAddr,
    pub namespace: Namespace,
    /// The longest wait for one flush.
    pub flush_wait: Duration,
}

/// How often a case is played again when a flush cuts it in two.
const ATTEMPTS: usize = 3;

/// The series every server writes last in a flush (its Graphite backend's
/// own `flush_length`); on a connection kept open between flushes it is
/// where one flush ends.
const LAST_SERIES: &str = "graphiteStats.flush_length";

/// The sentinel counters around each case. Their value is the case's
/// sequence number, so a flush from an earlier attempt cannot pass for
/// this one's.
const BEGIN: &str = "conformance.sentinel.begin";
const END: &str = "conformance.sentinel.end";

#[derive(Debug, Default)]
struct Flushes {
    list: Mutex<VecDeque<Vec<String>>>,
    arrived: Condvar,
    stop: AtomicBool,
}

/// A Graphite listener and a statsd sender, stopped when dropped.
#[derive(Debug)]
pub struct Runner {
    target: Target,
    socket: UdpSocket,
    flushes: Arc<Flushes>,
    acceptor: Option<JoinHandle<()>>,
    sequence: u64,
}

impl Runner {
    /// Starts listening for Graphite; the server may connect any time after.
    pub fn start(mut target: Target) -> Result<Runner, GraphiteError> {
        let addr = target.graphite_listen;
        let listen = |source| GraphiteError::Listen { addr, source };
        let listener = TcpListener::bind(target.graphite_listen).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        target.graphite_listen = listener.local_addr().map_err(listen)?;
        // The sending socket binds where the target is reached: loopback
        // for a server on this machine, so it takes datagrams from no
        // other interface.
        let bind = match (target.statsd.is_ipv4(), target.statsd.ip().is_loopback()) {
            (true, true) => "127.0.0.1:0",
            (true, false) => "0.0.0.0:0",
            (false, true) => "[::1]:0",
            (false, false) => "[::]:0",
        };
        let socket = UdpSocket::bind(bind).map_err(GraphiteError::Socket)?;
        let flushes = Arc::new(Flushes::default());
        let shared = Arc::clone(&flushes);
        let acceptor = thread::spawn(move || accept(listener, &shared));
        Ok(Runner {
            target,
            socket,
            flushes,
            acceptor: Some(acceptor),
            sequence: 0,
        })
    }

    /// Waits for the target's first flush, which shows that it runs,
    /// receives statsd (its socket is bound before its first flush) and
    /// reaches this listener; datagrams sent earlier could be lost.
    pub fn wait_ready(&self) -> Result<(), GraphiteError> {
        self.wait_for(|_| true).map(drop)
    }

    /// Plays `case` and returns the flush that holds it.
    pub fn run(&mut self, case: &Case) -> Result<Observed, GraphiteError> {
        for _ in 0..ATTEMPTS {
            self.sequence += 1;
            let n = self.sequence;
            self.drain();
            self.send(format!("{BEGIN}:{n}|c").as_bytes())?;
            for datagram in &case.datagrams {
                self.send(datagram)?;
            }
            self.send(format!("{END}:{n}|c").as_bytes())?;
            let mut flush = self.wait_for(|o| sentinel(o, BEGIN) == Some(n))?;
            if sentinel(&flush, END) == Some(n) {
                flush
                    .series
                    .retain(|s| !s.name.starts_with("conformance.sentinel."));
                return Ok(flush);
            }
            // The case is split over two flushes: let the second one and
            // an idle one go by, so that nothing of it is left.
            self.wait_for(|o| sentinel(o, END) == Some(n))?;
            self.wait_for(|_| true)?;
        }
        Err(GraphiteError::Straddled(ATTEMPTS))
    }

    fn send(&self, datagram: &[u8]) -> Result<(), GraphiteError> {
        self.socket
            .send_to(datagram, self.target.statsd)
            .map(drop)
            .map_err(|source| GraphiteError::Send {
                target: self.target.statsd,
                source,
            })
    }

    /// Forgets the flushes that arrived so far.
    fn drain(&self) {
        lock(&self.flushes.list).clear();
    }

    /// Takes flushes as they arrive until one satisfies `wanted`.
    fn wait_for(&self, wanted: impl Fn(&Observed) -> bool) -> Result<Observed, GraphiteError> {
        let wait = self.target.flush_wait;
        let deadline = Instant::now() + wait;
        let mut list = lock(&self.flushes.list);
        loop {
            while let Some(lines) = list.pop_front() {
                let observed = parse_flush(&lines, self.target.namespace);
                if wanted(&observed) {
                    return Ok(observed);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(GraphiteError::NoFlush(wait));
            }
            list = match self.flushes.arrived.wait_timeout(list, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.flushes.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A lock that survives a reader thread's panic: the lines are plain data.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn sentinel(observed: &Observed, name: &str) -> Option<u64> {
    observed
        .series
        .iter()
        .find(|s| s.kind == Kind::Counter && s.name == name && s.tags.is_empty())
        .and_then(|s| s.stats.get("count"))
        .map(|count| *count as u64)
}

/// Accepts Graphite connections until told to stop: etsy opens one per
/// flush, statkit keeps one open.
fn accept(listener: TcpListener, flushes: &Arc<Flushes>) {
    let mut readers = Vec::new();
    while !flushes.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(flushes);
                readers.push(thread::spawn(move || read(stream, &shared)));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Nothing to accept (or a transient error): look again soon.
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
}

/// Reads one connection; a flush ends at its last series or when the
/// connection closes.
fn read(stream: TcpStream, flushes: &Flushes) {
    if stream.set_nonblocking(false).is_err()
        || stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .is_err()
    {
        return;
    }
    let publish = |lines: &mut Vec<String>| {
        if !lines.is_empty() {
            lock(&flushes.list).push_back(std::mem::take(lines));
            flushes.arrived.notify_all();
        }
    };
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    let mut line = Vec::new();
    while !flushes.stop.load(Ordering::Relaxed) {
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) if line.ends_with(b"\n") => {
                let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                line.clear();
                let last = text.contains(LAST_SERIES);
                lines.push(text);
                if last {
                    publish(&mut lines);
                }
            }
            // A partial line stays in `line` until the rest arrives.
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
    publish(&mut lines);
}

/// The server's own series: not part of any case's result, except the
/// counts the neutral form carries.
#[derive(Debug)]
struct Layout {
    counters: &'static str,
    counter_counts: &'static str,
    timers: &'static str,
    gauges: &'static str,
    sets: &'static str,
}

const LEGACY: Layout = Layout {
    counters: "stats.",
    counter_counts: "stats_counts.",
    timers: "stats.timers.",
    gauges: "stats.gauges.",
    sets: "stats.sets.",
};

const NEW: Layout = Layout {
    counters: "stats.counters.",
    counter_counts: "stats.counters.",
    timers: "stats.timers.",
    gauges: "stats.gauges.",
    sets: "stats.sets.",
};

/// Maps one flush's `name value timestamp` lines back to the neutral form.
pub fn parse_flush(lines: &[String], namespace: Namespace) -> Observed {
    let mut observed = Observed::default();
    for line in lines {
        let mut fields = line.rsplitn(3, ' ');
        let (Some(_timestamp), Some(value), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        take(&mut observed, name, value, namespace);
    }
    observed
}

/// Files one Graphite series into `observed`.
fn take(observed: &mut Observed, name: &str, value: f64, namespace: Namespace) {
    // Tags follow the whole path (`stats.timers.req.mean;env=prod`).
    let (path, tags) = match name.find(';') {
        Some(i) => name.split_at(i),
        None => (name, ""),
    };
    let key = |series: &str| format!("{series}{tags}");
    if let Some(own) = path.strip_prefix("stats.statsd.") {
        match own {
            "samples_refused" | "series_refused" => observed.refused += value as u64,
            "events_received" => observed.events = value as u64,
            "service_checks_received" => observed.service_checks = value as u64,
            _ => {}
        }
        return;
    }
    let layout = match namespace {
        Namespace::Legacy => &LEGACY,
        Namespace::New => &NEW,
    };
    let own_count = match namespace {
        Namespace::Legacy => "stats_counts.statsd.bad_lines_seen",
        Namespace::New => "stats.counters.statsd.bad_lines_seen.count",
    };
    if path == own_count {
        observed.bad_lines = value as u64;
        return;
    }
    let is_own = |rest: &str| rest.starts_with("statsd.") || rest == "statsd";
    if path.starts_with("statsd.") {
        // `statsd.numStats` (legacy).
        return;
    }
    if let Some(rest) = path.strip_prefix(layout.timers) {
        if let Some((series, stat)) = timer_stat(rest) {
            if !is_own(series) {
                let s = observed.series_mut(Kind::Timer, &key(series));
                s.stats.insert(stat.to_owned(), value);
            }
        }
    } else if let Some(rest) = path.strip_prefix(layout.gauges) {
        if !is_own(rest) {
            let s = observed.series_mut(Kind::Gauge, &key(rest));
            s.stats.insert("value".into(), value);
        }
    } else if let Some(rest) = path.strip_prefix(layout.sets) {
        if let Some(series) = rest.strip_suffix(".count").filter(|s| !is_own(s)) {
            let s = observed.series_mut(Kind::Set, &key(series));
            s.stats.insert("cardinality".into(), value);
        }
    } else if namespace == Namespace::Legacy {
        if let Some(series) = path.strip_prefix(layout.counter_counts) {
            if !is_own(series) {
                let s = observed.series_mut(Kind::Counter, &key(series));
                s.stats.insert("count".into(), value);
            }
        } else if let Some(series) = path.strip_prefix(layout.counters) {
            if !is_own(series) {
                let s = observed.series_mut(Kind::Counter, &key(series));
                s.stats.insert("rate".into(), value);
            }
        }
    } else if let Some(rest) = path.strip_prefix(layout.counters) {
        let stat = rest
            .strip_suffix(".count")
            .map(|s| (s, "count"))
            .or_else(|| rest.strip_suffix(".rate").map(|s| (s, "rate")));
        if let Some((series, stat)) = stat.filter(|(s, _)| !is_own(s)) {
            let s = observed.series_mut(Kind::Counter, &key(series));
            s.stats.insert(stat.into(), value);
        }
    }
}

/// Splits `req.upper_90` into the series and its statistic; a histogram
/// bin is two parts (`req.histogram.bin_10`).
fn timer_stat(rest: &str) -> Option<(&str, &str)> {
    let (series, stat) = rest.rsplit_once('.')?;
    if stat.starts_with("bin_") {
        if let Some(series) = series.strip_suffix(".histogram") {
            return Some((series, stat));
        }
    }
    Some((series, stat))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(|l| format!("{l} 1700000000")).collect()
    }

    #[test]
    fn legacy_names_map_back_to_series() {
        let o = parse_flush(
            &lines(
                "stats.k 0.3\nstats_counts.k 3\nstats.timers.t.upper_90 7\n\
                 stats.timers.t.histogram.bin_1 2\nstats.gauges.g;env=prod 4\nstats.sets.s.count 2\n\
                 stats_counts.statsd.bad_lines_seen 1\nstats.statsd.samples_refused 2\n\
                 statsd.numStats 4\nstats.gauges.statsd.timestamp_lag 0\nstats.statsd.bad_lines_seen 0.1",
            ),
            Namespace::Legacy,
        );
        let find = |kind, name: &str| {
            o.series
                .iter()
                .find(|s| s.kind == kind && s.name == name)
                .map(|s| s.stats.clone())
        };
        assert_eq!(
            find(Kind::Counter, "k").map(|s| (s["count"], s["rate"])),
            Some((3.0, 0.3))
        );
        let timer = find(Kind::Timer, "t").expect("timer");
        assert_eq!((timer["upper_90"], timer["bin_1"]), (7.0, 2.0));
        let gauge = o
            .series
            .iter()
            .find(|s| s.kind == Kind::Gauge)
            .expect("gauge");
        assert_eq!(gauge.tags, vec!["env=prod".to_owned()]);
        assert_eq!(find(Kind::Set, "s").map(|s| s["cardinality"]), Some(2.0));
        assert_eq!((o.bad_lines, o.refused, o.series.len()), (1, 2, 4));
    }

    #[test]
    fn new_names_map_back_to_series() {
        let o = parse_flush(
            &lines(
                "stats.counters.k.rate 0.3\nstats.counters.k.count 3\nstats.counters.statsd.bad_lines_seen.count 2\n\
                 stats.statsd.numStats 1\nstats.timers.t.count;a=b 1",
            ),
            Namespace::New,
        );
        assert_eq!(o.bad_lines, 2);
        assert_eq!(o.series.len(), 2);
        assert_eq!(o.series[0].stats["count"], 3.0);
        assert_eq!(o.series[1].tags, vec!["a=b".to_owned()]);
    }
}
