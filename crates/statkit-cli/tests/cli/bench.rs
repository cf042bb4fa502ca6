//! `statkit bench` as users (and bench/compare.py) run it: the real binary
//! against its own `--null-server` mode, and `--check` against a small
//! statsd server written here that flushes etsy's legacy Graphite names.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

fn statkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_statkit"))
}

/// Parses `key value` lines; later keys win.
fn pairs(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn get<'a>(kv: &'a HashMap<String, String>, key: &str) -> &'a str {
    kv.get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no {key:?} in {kv:#?}"))
}

/// Runs `statkit bench ARGS` to completion (it bounds itself by its time limits).
fn bench(args: &[&str]) -> (Output, HashMap<String, String>) {
    let output = statkit().arg("bench").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some(),
        "killed by a signal: {stderr}"
    );
    let kv = pairs(&stdout);
    (output, kv)
}

/// A null server child, killed on drop if it has not exited.
struct NullServer {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl NullServer {
    fn start(extra: &[&str]) -> Self {
        let mut child = statkit()
            .args([
                "bench",
                "--null-server",
                "127.0.0.1:0",
                "--rcvbuf",
                "4194304",
            ])
            .args(["--null-time-limit", "60"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut header = String::new();
        for _ in 0..3 {
            stdout.read_line(&mut header).unwrap();
        }
        let lines: Vec<&str> = header.lines().collect();
        assert_eq!(lines.len(), 3, "{header:?}");
        let addr = lines[0]
            .strip_prefix("listening statsd-udp ")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(lines[1], format!("listening statsd-tcp {addr}"));
        assert_eq!(lines[2], "ready");
        Self {
            child,
            stdout,
            addr,
        }
    }

    /// Reads progress lines until one reports `lines` lines (the server
    /// prints one every half second while counts change).
    fn wait_progress(&mut self, lines: u64) {
        let want = format!("progress lines={lines} ");
        let mut line = String::new();
        while !line.starts_with(&want) {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "null server exited before reporting {lines} lines");
        }
    }

    /// Waits (at most 20 s) for the server to exit; returns its status and
    /// the rest of its output.
    fn finish(mut self) -> (ExitStatus, HashMap<String, String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "null server did not stop");
            thread::sleep(Duration::from_millis(20));
        };
        let mut rest = String::new();
        for line in (&mut self.stdout).lines() {
            rest.push_str(&line.unwrap());
            rest.push('\n');
        }
        (status, pairs(&rest))
    }
}

impl Drop for NullServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn batched_udp_lines_all_reach_the_null_server() {
    let null = NullServer::start(&["--null-max-lines", "20000"]);
    let target = null.addr.to_string();
    let (output, kv) = bench(&[
        "--target", &target, "-n", "20000", "--rate", "200000", "--names", "100", "--prefix", "mix",
    ]);
    assert!(output.status.success());
    assert_eq!(get(&kv, "lines_total"), "20000");
    let per_kind: Vec<&str> = ["lines_c", "lines_sc", "lines_ms", "lines_g", "lines_s"]
        .map(|k| get(&kv, k))
        .to_vec();
    assert_eq!(per_kind, ["10000", "2000", "4000", "2000", "2000"]);
    assert_eq!(get(&kv, "names_c"), "100");
    assert_eq!(get(&kv, "send_errors"), "0");
    assert_eq!(get(&kv, "expect_counter_sum"), "10000");
    assert_eq!(get(&kv, "expect_sampled_scaled"), "20000");
    let datagrams: u64 = get(&kv, "datagrams").parse().unwrap();
    let per: f64 = get(&kv, "lines_per_datagram").parse().unwrap();
    assert!((80.0..100.0).contains(&per), "{per}");
    assert_eq!(datagrams, (20000.0 / per).round() as u64);

    let (status, counts) = null.finish();
    assert!(status.success());
    assert_eq!(get(&counts, "stopped"), "max_lines");
    assert_eq!(get(&counts, "lines"), "20000");
    assert_eq!(get(&counts, "datagrams"), datagrams.to_string());
    assert_eq!(get(&counts, "bytes"), get(&kv, "bytes"));
}

#[test]
fn single_lines_over_tcp_are_counted_and_sigterm_prints_totals() {
    let null = NullServer::start(&[]);
    let target = null.addr.to_string();
    let (output, kv) = bench(&[
        "--target", &target, "-n", "3000", "--single", "--tcp", "--mix", "c=1,ms=1",
    ]);
    assert!(output.status.success());
    assert_eq!(get(&kv, "transport"), "tcp");
    assert_eq!(get(&kv, "batching"), "single");
    assert_eq!(get(&kv, "lines_total"), "3000");
    assert_eq!(
        (get(&kv, "lines_c"), get(&kv, "lines_ms")),
        ("1500", "1500")
    );
    assert_eq!(get(&kv, "datagrams"), "3000");

    // The bench exited, so its connection is closed; wait until the server
    // has counted the last bytes, then stop it as compare.py does.
    let mut null = null;
    null.wait_progress(3000);
    // SAFETY: plain FFI call with a pid we own and a valid signal number.
    assert_eq!(
        unsafe { libc::kill(null.child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let (status, counts) = null.finish();
    assert!(status.success(), "{status:?}");
    assert_eq!(get(&counts, "stopped"), "signal");
    assert_eq!(get(&counts, "lines"), "3000");
    assert_eq!(get(&counts, "datagrams"), "0");
    assert_eq!(get(&counts, "tcp_connections"), "1");
    assert_eq!(get(&counts, "bytes"), get(&kv, "bytes"));
}

#[test]
fn refuses_remote_targets_and_bad_mixes() {
    let (output, _) = bench(&["--target", "192.0.2.1:8125", "-n", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a loopback address"));
    let (output, _) = bench(&["--mix", "c=1,x=2", "-n", "1"]);
    assert_eq!(output.status.code(), Some(2));
}

/// A minimal statsd server: UDP in, etsy legacy Graphite names out every
/// `FLUSH`. With `drop_every` > 0 it ignores every n-th datagram, to show
/// that the checker notices.
struct FakeStatsd {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const FLUSH: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Aggregates {
    counters: HashMap<String, f64>,
    timers: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
    sets: HashMap<String, HashSet<String>>,
}

impl Aggregates {
    fn add(&mut self, line: &str) {
        let Some((name, rest)) = line.split_once(':') else {
            return;
        };
        let mut fields = rest.split('|');
        let (Some(value), Some(kind)) = (fields.next(), fields.next()) else {
            return;
        };
        let rate = fields
            .next()
            .and_then(|f| f.strip_prefix('@'))
            .and_then(|r| r.parse::<f64>().ok())
            .unwrap_or(1.0);
        let name = name.to_owned();
        match (kind, value.parse::<f64>()) {
            ("c", Ok(v)) => *self.counters.entry(name).or_default() += v * (1.0 / rate),
            ("ms", Ok(_)) => *self.timers.entry(name).or_default() += 1,
            ("g", Ok(v)) if value.starts_with(['+', '-']) => {
                *self.gauges.entry(name).or_default() += v
            }
            ("g", Ok(v)) => {
                self.gauges.insert(name, v);
            }
            ("s", _) => {
                self.sets.entry(name).or_default().insert(value.to_owned());
            }
            _ => {}
        }
    }

    /// Graphite text of one flush; counters, timers and sets start over.
    fn flush(&mut self, timestamp: u64) -> String {
        let mut out = format!("statsd.numStats {} {timestamp}\n", self.counters.len());
        for (name, v) in self.counters.drain() {
            out += &format!("stats_counts.{name} {v} {timestamp}\n");
        }
        for (name, n) in self.timers.drain() {
            out += &format!("stats.timers.{name}.count {n} {timestamp}\n");
        }
        for (name, v) in &self.gauges {
            out += &format!("stats.gauges.{name} {v} {timestamp}\n");
        }
        for (name, members) in self.sets.drain() {
            out += &format!("stats.sets.{name}.count {} {timestamp}\n", members.len());
        }
        out
    }
}

impl FakeStatsd {
    fn start(graphite: SocketAddr, drop_every: u64) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut aggregates = Aggregates::default();
            let mut buf = vec![0u8; 65536];
            let (mut datagrams, mut next_flush, mut timestamp) = (0u64, Instant::now() + FLUSH, 1);
            // Bounded by the stop flag and by one minute.
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                if let Ok(n) = socket.recv(&mut buf) {
                    datagrams += 1;
                    if drop_every == 0 || datagrams % drop_every != 0 {
                        for line in String::from_utf8_lossy(&buf[..n]).split('\n') {
                            aggregates.add(line);
                        }
                    }
                }
                if Instant::now() >= next_flush {
                    let text = aggregates.flush(timestamp);
                    timestamp += 1;
                    // Like etsy: one connection per flush, errors ignored.
                    if let Ok(mut stream) = TcpStream::connect(graphite) {
                        let _ = stream.write_all(text.as_bytes());
                    }
                    next_flush += FLUSH;
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeStatsd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A free loopback TCP port for the Graphite receiver.
fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn check_against_fake(drop_every: u64, strict: bool) -> (Output, HashMap<String, String>) {
    let graphite = free_port();
    let server = FakeStatsd::start(graphite, drop_every);
    let (target, listen) = (server.addr.to_string(), graphite.to_string());
    let mut args = vec![
        "--target",
        &target,
        "-n",
        "5000",
        "--rate",
        "20000",
        "--names",
        "50",
        "--gauge-delta-pct",
        "30",
        "--check",
        "--graphite-listen",
        &listen,
        "--warmup-timeout",
        "5",
        "--settle-timeout",
        "10",
    ];
    if strict {
        args.push("--strict");
    }
    bench(&args)
}

#[test]
fn check_passes_when_the_server_flushes_everything() {
    let (output, kv) = check_against_fake(0, true);
    assert!(output.status.success(), "{kv:#?}");
    assert_eq!(get(&kv, "warmup_flush"), "1");
    assert_eq!(get(&kv, "complete"), "1");
    assert_eq!(get(&kv, "loss_pct"), "0.0000");
    assert_eq!(get(&kv, "mismatches"), "0");
    assert_eq!(get(&kv, "check"), "ok");
    assert_eq!(get(&kv, "recv_c"), get(&kv, "expect_counter_sum"));
    assert_eq!(get(&kv, "recv_sc"), get(&kv, "expect_sampled_scaled"));
    assert_eq!(get(&kv, "recv_ms"), get(&kv, "expect_timer_count"));
    assert_eq!(get(&kv, "seen_names_g"), "50");
}

#[test]
fn check_reports_loss_when_the_server_drops_datagrams() {
    let (output, kv) = check_against_fake(10, true);
    assert_eq!(output.status.code(), Some(1), "{kv:#?}");
    assert_eq!(get(&kv, "complete"), "0");
    assert_eq!(get(&kv, "check"), "fail");
    // One datagram in ten, and every datagram carries about the same mix.
    let loss: f64 = get(&kv, "loss_pct").parse().unwrap();
    assert!((7.0..13.0).contains(&loss), "{loss}");
    assert_ne!(get(&kv, "mismatches"), "0");
}
