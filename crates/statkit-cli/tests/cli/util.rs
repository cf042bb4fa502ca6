//! The harness shared by the integration tests of `statkit`.
//!
//! Each test runs the real binary the way a user does: `statkit serve` on
//! port 0 (the chosen ports are read back from its startup lines), traffic
//! over loopback sockets, and assertions on what a loopback Graphite receiver
//! was sent. Everything here is bounded: every wait has a deadline, every
//! process and thread a test starts is stopped when its owner is dropped.
//!
//! Tests that need third-party programs (etsy statsd, the Python clients)
//! find them through the `STATKIT_TEST_*` variables `scripts/test.sh`
//! exports, and fail, never skip, with a message saying how to install them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The longest any single wait in a test may take. Generous, because CI
/// machines are small and shared; a test that passes never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long a process gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// etsy's Graphite backend ends every flush with this series (its own
/// `flush_length`), and so does statkit. On a connection that stays open
/// between flushes, it is what separates one flush from the next.
const LAST_SERIES_OF_A_FLUSH: &str = "graphiteStats.flush_length";

/// For a sink on a long-lived connection that never sends
/// [`LAST_SERIES_OF_A_FLUSH`], a pause this long ends a flush instead.
const FLUSH_GAP: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------
// Test dependencies

/// Repository root: two levels above this crate's manifest.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A dependency installed by `scripts/test.sh`: the path in `var`, or else
/// where the script puts it, which must exist.
fn test_dep(var: &str, default: &str, what: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(value) if !value.is_empty() => PathBuf::from(value),
        _ => repo_root().join(default),
    };
    assert!(
        path.exists(),
        "{what} not found at {} (from ${var} or its default): run scripts/test.sh to install {what}",
        path.display()
    );
    path
}

/// The node binary that runs etsy statsd (`$STATKIT_TEST_NODE`, else `node`).
pub fn node() -> PathBuf {
    system_program("STATKIT_TEST_NODE", "node")
}

/// etsy statsd 0.9.0's package folder (the one holding `stats.js`).
pub fn etsy_dir() -> PathBuf {
    let dir = test_dep(
        "STATKIT_TEST_ETSY_DIR",
        "target/test-deps/etsy/node_modules/statsd",
        "etsy statsd 0.9.0",
    );
    assert!(
        dir.join("stats.js").is_file(),
        "{} holds no stats.js: run scripts/test.sh to install etsy statsd 0.9.0",
        dir.display()
    );
    dir
}

/// Debian's `munin-run`, from the munin-node package.
pub fn munin_run() -> PathBuf {
    test_dep(
        "STATKIT_TEST_MUNIN_RUN",
        "/usr/sbin/munin-run",
        "munin-run (Debian's munin-node)",
    )
}

/// A program Debian installs (by `scripts/test.sh`): `$var`, else `name`
/// on the PATH, which must run with `--version`.
fn system_program(var: &str, name: &str) -> PathBuf {
    let program = std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(name), PathBuf::from);
    let works = Command::new(&program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        works,
        "cannot run {} --version: run scripts/test.sh to install Debian's {name}",
        program.display()
    );
    program
}

/// Debian's Prometheus server (`$STATKIT_TEST_PROMETHEUS`, else `prometheus`).
pub fn prometheus() -> PathBuf {
    system_program("STATKIT_TEST_PROMETHEUS", "prometheus")
}

/// Debian's promtool, from the prometheus package (`$STATKIT_TEST_PROMTOOL`,
/// else `promtool`).
pub fn promtool() -> PathBuf {
    system_program("STATKIT_TEST_PROMTOOL", "promtool")
}

/// Debian's Chromium (`$STATKIT_TEST_CHROMIUM`, else `chromium`).
pub fn chromium() -> PathBuf {
    system_program("STATKIT_TEST_CHROMIUM", "chromium")
}

/// The venv's python, with the PyPI clients (statsd, datadog, gunicorn, pyzmq).
pub fn python() -> PathBuf {
    test_dep(
        "STATKIT_TEST_PYTHON",
        "target/test-deps/venv/bin/python",
        "the Python test venv (statsd, datadog, gunicorn)",
    )
}

// ---------------------------------------------------------------------------
// Scratch directories

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
}

impl Dir {
    pub fn new(name: &str) -> Dir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("statkit-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create test directory");
        Dir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` in this directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path.join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// Child processes

/// A child process that is stopped when dropped, with its output kept so a
/// failing test can show it.
#[derive(Debug)]
pub struct Process {
    child: Option<Child>,
    /// Every stdout line, as it arrives (for startup handshakes).
    stdout_lines: mpsc::Receiver<String>,
    /// Everything the process printed, stdout and stderr, in arrival order.
    log: Arc<Mutex<String>>,
}

impl Process {
    /// Spawns `command` with piped stdout/stderr and no stdin.
    pub fn spawn(name: &str, mut command: Command) -> Process {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (lines_tx, stdout_lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        Self::drain(stdout, Arc::clone(&log), Some(lines_tx));
        Self::drain(stderr, Arc::clone(&log), None);
        Process {
            child: Some(child),
            stdout_lines,
            log,
        }
    }

    /// Copies `pipe` into `log` line by line, on a thread of its own that
    /// ends when the process (and any child it passed the pipe to) exits.
    fn drain(
        pipe: impl Read + Send + 'static,
        log: Arc<Mutex<String>>,
        lines: Option<mpsc::Sender<String>>,
    ) {
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
                drop(log);
                if let Some(tx) = &lines {
                    let _ = tx.send(line);
                }
            }
        });
    }

    pub fn id(&self) -> u32 {
        self.child.as_ref().expect("process already stopped").id()
    }

    /// Everything printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The next stdout line, or `None` if the process closed stdout or
    /// printed nothing before `deadline`.
    pub fn next_stdout_line(&self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.stdout_lines.recv_timeout(left).ok()
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Sends SIGTERM (a process's normal way to be told to stop).
    pub fn terminate(&self) {
        // Cannot fail: the child is not reaped until `stop` waits on it.
        let _ = self.signal(libc::SIGTERM);
    }

    /// Sends `signal` (`libc::SIGTERM`, `libc::SIGINT`, ...).
    pub fn signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        let pid = libc::pid_t::try_from(self.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) takes plain integers; the pid is our own child
        // that has not been waited on yet, so it cannot have been reused.
        match unsafe { libc::kill(pid, signal) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, a bounded wait, then SIGKILL if it is still running. Returns
    /// the exit status and whether the process had to be killed.
    pub fn stop(&mut self) -> (ExitStatus, bool) {
        if let Some(status) = self.try_wait() {
            return (status, false);
        }
        self.terminate();
        if let Some(status) = self.wait_timeout(STOP_GRACE) {
            return (status, false);
        }
        let child = self.child.as_mut().expect("process already stopped");
        let _ = child.kill();
        (child.wait().expect("wait after kill"), true)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.stop();
        }
    }
}

/// Runs a command that is expected to exit by itself, killing it if it is
/// still running after `timeout`.
pub fn run_bounded(mut command: Command, timeout: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn command");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} still running after {timeout:?}; killed it");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// gunicorn's address from its `Listening at: http://...` log line.
pub fn gunicorn_url(gunicorn: &Process) -> String {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let log = gunicorn.log();
        if let Some(rest) = log.split("Listening at: ").nth(1) {
            let url = rest.split_whitespace().next().unwrap_or_default();
            return format!("{}/", url.trim_end_matches('/'));
        }
        assert!(
            Instant::now() < deadline,
            "gunicorn did not start listening:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// statkit serve

/// The `statkit` binary cargo built for these tests.
pub fn statkit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_statkit")
}

/// A command running the `statkit` binary, without any `STATKIT_*`
/// variables from the environment: `serve` reads its settings from them,
/// and a test must see only the flags it passes. `STATKIT_DIR` points at an
/// empty folder, and `STATKIT_PIPE_DIR` another, so `serve` never scans
/// stats files or pipes of other programs on the machine (tests of the
/// scanning pass `--stats-dir` or `--pipe-dir`).
pub fn statkit_command() -> Command {
    let mut command = Command::new(statkit_bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("STATKIT_") {
            command.env_remove(name);
        }
    }
    command.env(
        "STATKIT_DIR",
        std::env::temp_dir().join("statkit-tests-no-stats-files"),
    );
    command.env(
        "STATKIT_PIPE_DIR",
        std::env::temp_dir().join("statkit-tests-no-pipes"),
    );
    // Servers run side by side: none keeps state unless a test asks.
    command.env("STATKIT_STATE_DIR", "off");
    command
}

/// Runs `statkit serve --statsd 127.0.0.1:0 --admin 127.0.0.1:0` plus
/// `args`, expecting it to refuse to start and exit (bounded in time).
pub fn serve_refused(args: &[&str]) -> Output {
    let mut command = statkit_command();
    command
        .arg("serve")
        .args(["--statsd", "127.0.0.1:0", "--admin", "127.0.0.1:0"])
        .args(args);
    run_bounded(command, TIMEOUT)
}

/// A running `statkit serve`, stopped when dropped.
#[derive(Debug)]
pub struct Statkit {
    pub process: Process,
    /// Where it receives statsd over UDP.
    pub udp: SocketAddr,
    /// Where it receives statsd over TCP.
    pub tcp: SocketAddr,
    /// Its admin port.
    pub admin: SocketAddr,
    /// Its HTTP server, unless started with `--http off`.
    pub http: Option<SocketAddr>,
    /// Its gstatsd load listener, when started with `--load-listen`.
    pub load: Option<SocketAddr>,
    /// Its statvent web service, when started with `--statvent-listen`.
    pub statvent: Option<SocketAddr>,
}

impl Statkit {
    /// Starts `statkit serve --statsd 127.0.0.1:0 --admin 127.0.0.1:0` plus
    /// `args`, and waits until it prints `ready`. Unless `args` choose an
    /// `--http` of their own, `--http 127.0.0.1:0` is added too: the default
    /// port would collide between tests running at once.
    pub fn start(args: &[&str]) -> Statkit {
        Statkit::start_command(statkit_command(), args)
    }

    /// [`Statkit::start`] with a command of the caller's (from
    /// [`statkit_command`], with environment of its own).
    pub fn start_command(mut command: Command, args: &[&str]) -> Statkit {
        command.args(["serve", "--statsd", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
        if !args
            .iter()
            .any(|a| *a == "--http" || a.starts_with("--http="))
        {
            command.args(["--http", "127.0.0.1:0"]);
        }
        command.args(args);
        let mut process = Process::spawn("statkit serve", command);
        let deadline = Instant::now() + TIMEOUT;
        let (mut udp, mut tcp, mut admin, mut http, mut load, mut statvent) =
            (None, None, None, None, None, None);
        loop {
            let Some(line) = process.next_stdout_line(deadline) else {
                let status = process.wait_timeout(Duration::from_secs(1));
                panic!(
                    "statkit serve {args:?} did not print `ready` (exit status {status:?}); output:\n{}",
                    process.log()
                );
            };
            if line == "ready" {
                break;
            }
            let mut words = line.split_whitespace();
            if words.next() != Some("listening") {
                continue;
            }
            let (Some(kind), Some(addr)) = (words.next(), words.next()) else {
                continue;
            };
            // Other kinds (a Unix socket's path, say) are not socket addresses.
            let slot = match kind {
                "statsd-udp" => &mut udp,
                "statsd-tcp" => &mut tcp,
                "admin" => &mut admin,
                "http" => &mut http,
                "load" => &mut load,
                "statvent" => &mut statvent,
                _ => continue,
            };
            let addr: SocketAddr = addr
                .parse()
                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
            *slot = Some(addr);
        }
        match (udp, tcp, admin) {
            (Some(udp), Some(tcp), Some(admin)) => Statkit {
                process,
                udp,
                tcp,
                admin,
                http,
                load,
                statvent,
            },
            _ => panic!(
                "statkit serve printed `ready` without all of `listening statsd-udp|statsd-tcp|admin ADDR`:\n{}",
                process.log()
            ),
        }
    }
}

// ---------------------------------------------------------------------------
// Sending statsd

/// `GET path` over a fresh connection to an HTTP server on `to`, with
/// extra request `headers` (`"Name: value\r\n"` each), read whole.
pub fn http_get(to: SocketAddr, path: &str, headers: &str) -> statkit_testkit::http::Answer {
    let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect to the HTTP port");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: statkit-test\r\n{headers}Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .expect("write the request");
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("reading the answer to GET {path}: {e}"));
    statkit_testkit::http::Answer::parse(&raw)
}

/// Polls `probe` every 100 ms until it gives a value or `timeout` passes.
pub fn poll_until<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Sends each of `datagrams` as one UDP datagram to `to`.
pub fn send_udp(to: SocketAddr, datagrams: &[&str]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind UDP socket");
    for datagram in datagrams {
        socket
            .send_to(datagram.as_bytes(), to)
            .expect("send UDP datagram");
    }
}

/// Sends `text` over one TCP connection to `to` and closes it.
pub fn send_tcp(to: SocketAddr, text: &str) {
    let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect statsd TCP");
    stream.write_all(text.as_bytes()).expect("write statsd TCP");
    let _ = stream.shutdown(Shutdown::Write);
}

/// Sends one admin command and returns the reply: everything up to an
/// `END` line, or up to the server closing the connection, or whatever had
/// arrived once the reply paused for a moment (one-line replies like
/// `health: up` have no terminator).
pub fn admin(to: SocketAddr, command: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect admin port");
    stream
        .write_all(format!("{command}\n").as_bytes())
        .expect("write admin command");
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut reply = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&buf[..n]);
                if reply.ends_with(b"END\n\n") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if reply.ends_with(b"\n") {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading admin reply to {command:?}: {e}"),
        }
    }
    String::from_utf8(reply).expect("admin reply is UTF-8")
}

/// A port that was free a moment ago, for programs that cannot be told to
/// pick their own (etsy statsd). A UDP and a TCP variant, because the two
/// port spaces are separate.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------
// Graphite receiver

/// The lines of one flush as one sink delivered it: a whole connection
/// (etsy connects once per flush) or, on a connection that stays open,
/// everything up to the flush's last series (see [`LAST_SERIES_OF_A_FLUSH`]).
#[derive(Clone, Debug)]
pub struct Flush {
    /// Which connection it came on, numbered from 0 in accept order.
    pub connection: usize,
    pub lines: Vec<String>,
}

impl Flush {
    /// The flush as `name -> value`, timestamps dropped. Fails on a line
    /// that is not `name value timestamp` and on a name sent twice.
    pub fn values(&self) -> Result<BTreeMap<String, String>, String> {
        let mut values = BTreeMap::new();
        for line in &self.lines {
            let (name, value) = split_line(line)?;
            if values.insert(name.to_string(), value.to_string()).is_some() {
                return Err(format!("{name} sent twice in one flush"));
            }
        }
        Ok(values)
    }

    /// The value sent for `name`, parsed.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.lines.iter().find_map(|line| {
            let (n, value) = split_line(line).ok()?;
            (n == name).then(|| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("non-numeric value in {line:?}"))
            })
        })
    }
}

/// Splits a plaintext line into name and value. The two last fields are the
/// value and the timestamp; the name is the rest, because etsy with
/// `keyNameSanitize: false` leaves spaces in tags.
fn split_line(line: &str) -> Result<(&str, &str), String> {
    let malformed = || format!("not `name value timestamp`: {line:?}");
    let mut fields = line.rsplitn(3, ' ');
    let (Some(timestamp), Some(value), Some(name)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(malformed());
    };
    if name.is_empty() || value.is_empty() || timestamp.parse::<u64>().is_err() {
        return Err(malformed());
    }
    Ok((name, value))
}

#[derive(Debug, Default)]
struct Received {
    flushes: Mutex<Vec<Flush>>,
    arrived: Condvar,
    stop: AtomicBool,
}

/// A Graphite plaintext receiver on a loopback port, keeping every line it
/// is sent, grouped by flush.
#[derive(Debug)]
pub struct GraphiteReceiver {
    addr: SocketAddr,
    received: Arc<Received>,
    acceptor: Option<JoinHandle<()>>,
}

impl GraphiteReceiver {
    /// A receiver on a port of its own.
    pub fn start() -> GraphiteReceiver {
        Self::listen(TcpListener::bind("127.0.0.1:0").expect("bind Graphite receiver"))
    }

    /// A receiver on a given port, for tests that point a server at a
    /// port before anything listens there.
    pub fn start_on(port: u16) -> GraphiteReceiver {
        Self::listen(TcpListener::bind(("127.0.0.1", port)).expect("bind Graphite receiver"))
    }

    fn listen(listener: TcpListener) -> GraphiteReceiver {
        let addr = listener.local_addr().unwrap();
        // Non-blocking so the accept loop can notice `stop`.
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Received::default());
        let shared = Arc::clone(&received);
        let acceptor = thread::spawn(move || Self::accept(listener, shared));
        GraphiteReceiver {
            addr,
            received,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:PORT`, for `--graphite`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn accept(listener: TcpListener, received: Arc<Received>) {
        let mut readers = Vec::new();
        let mut next_id = 0;
        while !received.stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let (id, shared) = (next_id, Arc::clone(&received));
                    next_id += 1;
                    readers.push(thread::spawn(move || Self::read(stream, id, &shared)));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(10))
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("Graphite receiver accept: {e}"),
            }
        }
        for reader in readers {
            let _ = reader.join();
        }
    }

    /// Reads one connection until it closes or the receiver stops.
    fn read(mut stream: TcpStream, connection: usize, received: &Received) {
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let publish = |lines: &mut Vec<String>| {
            if !lines.is_empty() {
                let flush = Flush {
                    connection,
                    lines: std::mem::take(lines),
                };
                received.flushes.lock().unwrap().push(flush);
                received.arrived.notify_all();
            }
        };
        let mut partial = Vec::new();
        let mut lines = Vec::new();
        let mut last_data = Instant::now();
        let mut ends_are_marked = false;
        let mut buf = [0u8; 65536];
        while !received.stop.load(Ordering::Relaxed) {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    last_data = Instant::now();
                    partial.extend_from_slice(&buf[..n]);
                    while let Some(end) = partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line[..end]).into_owned();
                        let last = split_line(&line)
                            .is_ok_and(|(name, _)| name.contains(LAST_SERIES_OF_A_FLUSH));
                        lines.push(line);
                        if last {
                            ends_are_marked = true;
                            publish(&mut lines);
                        }
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if !ends_are_marked && partial.is_empty() && last_data.elapsed() >= FLUSH_GAP {
                        publish(&mut lines);
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        if !partial.is_empty() {
            // Kept, but marked so that it cannot pass for a well-formed line.
            let text = String::from_utf8_lossy(&partial);
            lines.push(format!("{text} <no newline at the end of the flush>"));
        }
        publish(&mut lines);
    }

    /// How many flushes have arrived so far.
    pub fn flush_count(&self) -> usize {
        self.received.flushes.lock().unwrap().len()
    }

    /// Every flush so far, in arrival order.
    pub fn flushes(&self) -> Vec<Flush> {
        self.received.flushes.lock().unwrap().clone()
    }

    /// Waits until `check` finds what it looks for in the flushes received
    /// so far (it is called again after each new flush). Panics after
    /// `timeout`, showing `what` was awaited and every line received.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        check: impl FnMut(&[Flush]) -> Option<T>,
    ) -> T {
        self.poll(timeout, check).unwrap_or_else(|dump| {
            panic!("waited {timeout:?} for {what}; the Graphite receiver got:\n{dump}")
        })
    }

    /// Like [`Self::wait_until`], but returns, after `timeout`, every line
    /// received as the error instead of panicking.
    pub fn poll<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[Flush]) -> Option<T>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + timeout;
        let mut flushes = self.received.flushes.lock().unwrap();
        loop {
            if let Some(found) = check(&flushes) {
                return Ok(found);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(dump_flushes(&flushes));
            }
            flushes = self.received.arrived.wait_timeout(flushes, left).unwrap().0;
        }
    }

    /// Flush number `index` (from 0, in arrival order), waiting for it.
    pub fn wait_for_flush(&self, index: usize, timeout: Duration) -> Flush {
        self.wait_until(&format!("flush #{index}"), timeout, |f| {
            f.get(index).cloned()
        })
    }

    /// The first line, in any flush, that `pred` accepts, waiting for it.
    pub fn wait_for_line(&self, pred: impl Fn(&str) -> bool, timeout: Duration) -> String {
        self.wait_until("a matching line", timeout, |flushes| {
            flushes
                .iter()
                .flat_map(|f| &f.lines)
                .find(|line| pred(line))
                .cloned()
        })
    }
}

impl Drop for GraphiteReceiver {
    fn drop(&mut self) {
        self.received.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn dump_flushes(flushes: &[Flush]) -> String {
    let mut out = String::new();
    for (i, flush) in flushes.iter().enumerate() {
        let _ = writeln!(out, "--- flush #{i} (connection {})", flush.connection);
        for line in &flush.lines {
            let _ = writeln!(out, "{line}");
        }
    }
    if out.is_empty() {
        out.push_str("(nothing)\n");
    }
    out
}

// ---------------------------------------------------------------------------
// Readable assertions

/// A line diff of `expected` against `got`: unchanged lines with two spaces,
/// missing ones with `-`, unexpected ones with `+`.
pub fn diff_lines(expected: &[String], got: &[String]) -> String {
    // Longest common subsequence, by dynamic programming from the end: the
    // inputs are a few hundred lines at most.
    let (n, m) = (expected.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == got[j] {
            let _ = writeln!(out, "  {}", expected[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", got[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", expected[i]);
            i += 1;
        }
    }
    out
}

/// Asserts that two texts have the same lines, showing a line diff if not.
#[track_caller]
pub fn assert_lines_eq(what: &str, expected: &str, got: &str) {
    let expected: Vec<String> = expected.lines().map(str::to_string).collect();
    let got: Vec<String> = got.lines().map(str::to_string).collect();
    if expected != got {
        panic!(
            "{what}: output differs (- expected, + got):\n{}",
            diff_lines(&expected, &got)
        );
    }
}

/// `name value` lines of a map, sorted by name, for [`assert_lines_eq`].
pub fn render(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(name, value)| format!("{name} {value}\n"))
        .collect()
}

/// `text` with its lines sorted, for comparing sets of lines.
pub fn sort_lines(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    lines.iter().map(|line| format!("{line}\n")).collect()
}
