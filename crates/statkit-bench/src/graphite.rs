//! A loopback Graphite plaintext receiver that feeds a [`Flushed`].
//!
//! The server under test is pointed at this receiver's address. Every TCP
//! connection is read on its own thread and its complete lines are handed
//! to the checker as they arrive, so memory stays bounded by the number of
//! series, not by the number of flushes. Besides totals the receiver notes
//! *when* data came: a flush arrives as one burst of lines, and bursts
//! separated by [`BURST_GAP`] of silence are counted as separate flushes.
//! That is how a run knows that the flush after its last line has arrived
//! without being told the server's flush interval.

use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{check, CheckReport, Error, Flushed, Truth};

/// Silence that separates one flush from the next. Servers write a flush in
/// one go, and flush intervals are a second or more.
pub const BURST_GAP: Duration = Duration::from_millis(200);

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// Connections served at once; more are closed at once. etsy opens one per
/// flush, statkit keeps one per sink.
const MAX_CONNECTIONS: usize = 64;

/// A running receiver. Dropping it stops its threads.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    dump_path: Option<PathBuf>,
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    flushed: Flushed,
    /// Start of every burst of data, in arrival order.
    bursts: Vec<Instant>,
    last_data: Option<Instant>,
    connections: u64,
    dump: Option<BufWriter<File>>,
    /// The first error writing the dump; the dump stops there.
    dump_error: Option<io::Error>,
}

/// When to stop waiting for flushes after the load.
#[derive(Clone, Copy, Debug)]
pub struct Settle {
    /// Give up on completeness after this many flushes that began after
    /// the load ended (2: the first may have been cut while the server was
    /// still reading its socket buffer).
    pub flushes: usize,
    /// Give up after this long in any case.
    pub timeout: Duration,
}

/// How the wait for flushes ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settled {
    /// Every counter, sampled counter and timer total arrived in full.
    pub complete: bool,
    /// Flushes that began after the load ended.
    pub flushes: usize,
    /// Time spent waiting.
    pub waited: Duration,
}

impl Receiver {
    /// Listens on `addr` (loopback only; port 0 picks one) and collects into
    /// `flushed`. With `dump`, every received line is also appended there.
    pub fn bind(addr: SocketAddr, flushed: Flushed, dump: Option<&Path>) -> Result<Self, Error> {
        crate::require_loopback(addr)?;
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::io(format!("binding graphite receiver on {addr}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("graphite receiver address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("making graphite listener non-blocking", e))?;
        let dump_file = match dump {
            Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
                Error::io(format!("creating graphite dump {}", path.display()), e)
            })?)),
            None => None,
        };
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                flushed,
                bursts: Vec::new(),
                last_data: None,
                connections: 0,
                dump: dump_file,
                dump_error: None,
            }),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("graphite-accept".into())
                .spawn(move || accept_loop(listener, &shared))
                .map_err(|e| Error::io("starting graphite receiver thread", e))?
        };
        Ok(Self {
            addr,
            shared,
            accept: Some(accept),
            dump_path: dump.map(Path::to_path_buf),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Compares everything received so far with `truth`.
    pub fn check(&self, truth: &Truth) -> CheckReport {
        check(truth, &self.shared.lock().flushed)
    }

    /// Graphite lines received so far.
    pub fn lines(&self) -> u64 {
        self.shared.lock().flushed.lines()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.lock().connections
    }

    /// Waits until one flush has arrived and ended, or `timeout`. Sending
    /// only after that proves the server's sink reaches us (a server that
    /// lost its connection to an earlier receiver may drop one flush while
    /// it reconnects). Returns whether a flush was seen.
    pub fn wait_first_flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            thread::sleep(POLL);
            let state = self.shared.lock();
            if !state.bursts.is_empty() && quiet(state.last_data, Instant::now()) {
                return true;
            }
        }
        false
    }

    /// After a load that ended at `load_end`, waits until its totals have
    /// all arrived (and that flush has ended), or `settle.flushes` flushes
    /// began after `load_end`, or the timeout.
    pub fn wait_settled(&self, truth: &Truth, load_end: Instant, settle: Settle) -> Settled {
        let start = Instant::now();
        let deadline = start + settle.timeout;
        let mut checked_at_lines = None;
        let (complete, flushes) = loop {
            let now = Instant::now();
            let state = self.shared.lock();
            let flushes = state.bursts.iter().filter(|&&t| t >= load_end).count();
            if quiet(state.last_data, now) {
                let lines = state.flushed.lines();
                if checked_at_lines != Some(lines) {
                    checked_at_lines = Some(lines);
                    if check(truth, &state.flushed).is_complete() {
                        break (true, flushes);
                    }
                }
                if flushes >= settle.flushes {
                    break (false, flushes);
                }
            }
            drop(state);
            if now >= deadline {
                break (false, flushes);
            }
            thread::sleep(POLL);
        };
        Settled {
            complete,
            flushes,
            waited: start.elapsed(),
        }
    }

    /// Stops the threads and flushes the dump file; fails if the dump
    /// could not be written in full.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown();
        let error = self.shared.lock().dump_error.take();
        match (error, &self.dump_path) {
            (Some(e), Some(path)) => Err(Error::io(
                format!("writing graphite dump {}", path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let mut state = self.shared.lock();
        if let Some(mut dump) = state.dump.take() {
            if let Err(e) = dump.flush() {
                state.dump_error.get_or_insert(e);
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    /// A poisoned lock only means a reader thread panicked mid-update of
    /// plain counters; the totals are still the best we have.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether nothing has arrived for [`BURST_GAP`] (or nothing ever).
fn quiet(last_data: Option<Instant>, now: Instant) -> bool {
    match last_data {
        Some(t) => now.saturating_duration_since(t) >= BURST_GAP,
        None => true,
    }
}

fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                readers.retain(|r| !r.is_finished());
                if readers.len() >= MAX_CONNECTIONS {
                    continue;
                }
                shared.lock().connections += 1;
                let shared = Arc::clone(shared);
                let spawned = thread::Builder::new()
                    .name("graphite-conn".into())
                    .spawn(move || read_connection(stream, &shared));
                if let Ok(handle) = spawned {
                    readers.push(handle);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                thread::sleep(POLL);
            }
            Err(_) => thread::sleep(POLL),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
}

/// Reads one connection until EOF or stop, handing complete lines over.
fn read_connection(mut stream: TcpStream, shared: &Shared) {
    if stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .is_err()
    {
        return;
    }
    let mut pending: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&chunk[..n]);
                if let Some(end) = pending.iter().rposition(|&b| b == b'\n') {
                    take_lines(shared, &pending[..=end]);
                    pending.drain(..=end);
                } else {
                    note_data(&mut shared.lock());
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    if !pending.is_empty() {
        take_lines(shared, &pending);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn note_data(state: &mut State) {
    let now = Instant::now();
    if quiet(state.last_data, now) {
        state.bursts.push(now);
    }
    state.last_data = Some(now);
}

fn take_lines(shared: &Shared, lines: &[u8]) {
    let mut state = shared.lock();
    note_data(&mut state);
    state.flushed.ingest_all(lines);
    let written = match state.dump.as_mut() {
        Some(dump) => {
            let tail: &[u8] = if lines.ends_with(b"\n") { b"" } else { b"\n" };
            dump.write_all(lines).and_then(|()| dump.write_all(tail))
        }
        None => Ok(()),
    };
    if let Err(e) = written {
        state.dump_error.get_or_insert(e);
        state.dump = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Kind};

    fn truth() -> Truth {
        let mut truth = Truth::new(1, 1.0);
        truth.record(&Event {
            kind: Kind::Counter,
            name: 0,
            value: 3,
            delta: false,
        });
        truth
    }

    fn send(addr: SocketAddr, text: &str) {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn collects_lines_across_connections_and_settles_when_complete() {
        let receiver =
            Receiver::bind("127.0.0.1:0".parse().unwrap(), Flushed::new("t", 1), None).unwrap();
        let addr = receiver.local_addr();
        let load_end = Instant::now();
        // Two flushes, the second with a line split across writes.
        send(addr, "stats_counts.t.c.0 1 100\nstatsd.numStats 1 100\n");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(b"stats_counts.t.c").unwrap();
        thread::sleep(Duration::from_millis(30));
        stream.write_all(b".0 2 102\n").unwrap();
        drop(stream);
        let settle = Settle {
            flushes: 5,
            timeout: Duration::from_secs(10),
        };
        let settled = receiver.wait_settled(&truth(), load_end, settle);
        assert!(settled.complete, "{settled:?}");
        assert!(settled.waited < Duration::from_secs(5));
        let report = receiver.check(&truth());
        assert_eq!(report.mismatches(), 0);
        assert_eq!(receiver.lines(), 3);
        assert_eq!(receiver.connections(), 2);
    }

    #[test]
    fn counts_flushes_by_bursts_when_data_is_missing() {
        let receiver =
            Receiver::bind("127.0.0.1:0".parse().unwrap(), Flushed::new("t", 1), None).unwrap();
        let addr = receiver.local_addr();
        let load_end = Instant::now();
        for _ in 0..2 {
            send(addr, "stats_counts.t.c.0 1 100\n");
            thread::sleep(BURST_GAP + Duration::from_millis(100));
        }
        let settle = Settle {
            flushes: 2,
            timeout: Duration::from_secs(10),
        };
        let settled = receiver.wait_settled(&truth(), load_end, settle);
        assert_eq!((settled.complete, settled.flushes), (false, 2));
        assert_eq!(receiver.check(&truth()).kind(Kind::Counter).missing, 1.0);
    }

    #[test]
    fn first_flush_wait_times_out_without_data() {
        let receiver =
            Receiver::bind("127.0.0.1:0".parse().unwrap(), Flushed::new("t", 1), None).unwrap();
        assert!(!receiver.wait_first_flush(Duration::from_millis(100)));
        send(receiver.local_addr(), "statsd.numStats 0 1\n");
        assert!(receiver.wait_first_flush(Duration::from_secs(5)));
    }

    #[test]
    fn dumps_what_it_receives() {
        let dir = std::env::temp_dir().join(format!("statkit-bench-dump-{}", std::process::id()));
        let receiver = Receiver::bind(
            "127.0.0.1:0".parse().unwrap(),
            Flushed::new("t", 1),
            Some(&dir),
        )
        .unwrap();
        send(receiver.local_addr(), "a 1 1\nb 2 2");
        assert!(receiver.wait_first_flush(Duration::from_secs(5)));
        receiver.stop().unwrap();
        let text = std::fs::read_to_string(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(text, "a 1 1\nb 2 2\n");
    }

    #[test]
    fn refuses_non_loopback_addresses() {
        let addr = "0.0.0.0:0".parse().unwrap();
        assert!(matches!(
            Receiver::bind(addr, Flushed::new("t", 1), None),
            Err(Error::NotLoopback(_))
        ));
    }
}
