//! The null server: receives statsd traffic and only counts it.
//!
//! Its CPU time per line is the floor any statsd server pays on this machine
//! for the kernel's work and the receive system calls alone; a server's
//! figure minus this floor is what its parsing and aggregation cost. It
//! reads UDP with `recvmmsg` batches (like statkit's receivers) and also
//! accepts TCP, counts datagrams, bytes and lines, and aggregates nothing.
//!
//! The receiving thread does only that: receive, count, check the stop
//! flag. Reading the clock, reporting progress and the time limit are a
//! reporter thread's, twice a second, and the TCP acceptor blocks in
//! `accept` (woken by a connection of its own at the end) rather than
//! polling: measured side by side with a minimal C receiver
//! (`bench/floor.py`), clock reads on every batch and an acceptor waking
//! 50 times a second had made this floor cost 1.4 times that one.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::sys::RecvBatch;
use crate::Error;

/// How often loops look at the stop flag and the clock.
const POLL: Duration = Duration::from_millis(100);

/// Settings of the null server.
#[derive(Clone, Debug)]
pub struct NullConfig {
    /// UDP address, and TCP address on the same port (loopback only; port
    /// 0 picks one for both).
    pub addr: SocketAddr,
    /// Datagrams per `recvmmsg` call; 1 reads one per call.
    pub batch: usize,
    /// SO_RCVBUF to ask for; `None` keeps the kernel's default, like most
    /// statsd servers do.
    pub rcvbuf: Option<usize>,
    /// Stop after this long in any case.
    pub time_limit: Duration,
    /// Stop once this many lines have been received.
    pub max_lines: Option<u64>,
    /// How often [`NullServer::run`] reports progress.
    pub report_every: Duration,
}

impl NullConfig {
    /// Defaults for `addr`: batches of 64, default buffer, one hour at most.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            batch: 64,
            rcvbuf: None,
            time_limit: Duration::from_secs(3600),
            max_lines: None,
            report_every: Duration::from_millis(500),
        }
    }
}

/// What the null server has received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NullCounts {
    /// UDP datagrams.
    pub datagrams: u64,
    /// Lines, UDP and TCP: newline-separated pieces, empty ones excluded.
    pub lines: u64,
    /// Payload bytes, UDP and TCP.
    pub bytes: u64,
    /// TCP connections accepted.
    pub tcp_connections: u64,
}

/// Why the null server stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The stop flag was raised (SIGTERM/SIGINT).
    Signal,
    /// The time limit passed.
    TimeLimit,
    /// `max_lines` lines arrived.
    MaxLines,
}

impl StopReason {
    /// A one-word name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Signal => "signal",
            StopReason::TimeLimit => "time_limit",
            StopReason::MaxLines => "max_lines",
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    datagrams: AtomicU64,
    lines: AtomicU64,
    bytes: AtomicU64,
    tcp_connections: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> NullCounts {
        NullCounts {
            datagrams: self.datagrams.load(Ordering::Relaxed),
            lines: self.lines.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            tcp_connections: self.tcp_connections.load(Ordering::Relaxed),
        }
    }
}

/// Bound sockets, ready to run.
#[derive(Debug)]
pub struct NullServer {
    config: NullConfig,
    udp: UdpSocket,
    tcp: TcpListener,
}

impl NullServer {
    /// Binds UDP and TCP on `config.addr`.
    pub fn bind(config: NullConfig) -> Result<Self, Error> {
        let addr = crate::require_loopback(config.addr)?;
        let udp = UdpSocket::bind(addr)
            .map_err(|e| Error::io(format!("binding null server UDP on {addr}"), e))?;
        let udp_addr = udp
            .local_addr()
            .map_err(|e| Error::io("null server UDP address", e))?;
        let tcp = TcpListener::bind(udp_addr)
            .map_err(|e| Error::io(format!("binding null server TCP on {udp_addr}"), e))?;
        if let Some(size) = config.rcvbuf {
            set_rcvbuf(&udp, size)
                .map_err(|e| Error::io(format!("setting SO_RCVBUF to {size}"), e))?;
        }
        udp.set_read_timeout(Some(POLL))
            .map_err(|e| Error::io("setting UDP read timeout", e))?;
        Ok(Self { config, udp, tcp })
    }

    /// The UDP address.
    pub fn udp_addr(&self) -> Result<SocketAddr, Error> {
        self.udp
            .local_addr()
            .map_err(|e| Error::io("null server UDP address", e))
    }

    /// The TCP address.
    pub fn tcp_addr(&self) -> Result<SocketAddr, Error> {
        self.tcp
            .local_addr()
            .map_err(|e| Error::io("null server TCP address", e))
    }

    /// Receives until `stop` is raised, the time limit passes or
    /// `max_lines` arrived. Calls `progress` (on a thread of its own) every
    /// `report_every` when the counts changed.
    pub fn run(
        self,
        stop: &AtomicBool,
        progress: impl FnMut(&NullCounts) + Send,
    ) -> Result<(NullCounts, StopReason), Error> {
        let counters = Arc::new(Counters::default());
        let tcp_addr = self.tcp_addr()?;
        let tcp_stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (counters, tcp_stop) = (Arc::clone(&counters), Arc::clone(&tcp_stop));
            let listener = self.tcp;
            thread::Builder::new()
                .name("null-tcp".into())
                .spawn(move || accept_loop(&listener, &counters, &tcp_stop))
                .map_err(|e| Error::io("starting null server TCP thread", e))?
        };
        let timed_out = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let reason = thread::scope(|scope| {
            let reporter = Reporter {
                counters: &counters,
                config: &self.config,
                timed_out: &timed_out,
                done: &done,
            };
            let reports = thread::Builder::new()
                .name("null-report".into())
                .spawn_scoped(scope, move || reporter.run(progress))
                .map_err(|e| Error::io("starting null server report thread", e))?;
            let received = receive(&self.udp, &self.config, &counters, stop, &timed_out);
            done.store(true, Ordering::SeqCst);
            reports.thread().unpark();
            let _ = reports.join();
            received
        });
        tcp_stop.store(true, Ordering::SeqCst);
        // The acceptor waits in `accept`: a connection wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&tcp_addr, POLL);
        let _ = acceptor.join();
        Ok((counters.snapshot(), reason?))
    }
}

/// Reports progress and ends the run at the time limit, off the receiving
/// thread.
struct Reporter<'a> {
    counters: &'a Counters,
    config: &'a NullConfig,
    /// Raised here when the time limit passes.
    timed_out: &'a AtomicBool,
    /// Raised by the receiving thread when it stopped (which then unparks
    /// the reporter).
    done: &'a AtomicBool,
}

impl Reporter<'_> {
    fn run(&self, mut progress: impl FnMut(&NullCounts)) {
        let start = Instant::now();
        let mut reported = NullCounts::default();
        while !self.done.load(Ordering::SeqCst) {
            let elapsed = start.elapsed();
            if elapsed >= self.config.time_limit {
                self.timed_out.store(true, Ordering::SeqCst);
                return;
            }
            // Woken early when the receiving thread stops.
            thread::park_timeout(
                self.config
                    .report_every
                    .min(self.config.time_limit - elapsed),
            );
            let counts = self.counters.snapshot();
            if counts != reported {
                progress(&counts);
                reported = counts;
            }
        }
    }
}

/// The receiving loop: receive a batch, count it, check the flags.
fn receive(
    udp: &UdpSocket,
    config: &NullConfig,
    counters: &Counters,
    stop: &AtomicBool,
    timed_out: &AtomicBool,
) -> Result<StopReason, Error> {
    let mut batch = RecvBatch::new(config.batch, 65_536);
    let max_lines = config.max_lines.unwrap_or(u64::MAX);
    let mut lines_total = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(StopReason::Signal);
        }
        if timed_out.load(Ordering::Relaxed) {
            return Ok(StopReason::TimeLimit);
        }
        if lines_total >= max_lines {
            return Ok(StopReason::MaxLines);
        }
        match batch.recv(udp) {
            Ok(n) => {
                let (mut lines, mut bytes) = (0u64, 0u64);
                for i in 0..n {
                    let datagram = batch.datagram(i);
                    bytes += datagram.len() as u64;
                    lines += count_lines(datagram);
                }
                counters.datagrams.fetch_add(n as u64, Ordering::Relaxed);
                lines_total = counters.lines.fetch_add(lines, Ordering::Relaxed) + lines;
                counters.bytes.fetch_add(bytes, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                // TCP lines count towards `max_lines` too.
                lines_total = counters.lines.load(Ordering::Relaxed);
            }
            Err(e) => return Err(Error::io("receiving UDP", e)),
        }
    }
}

/// Lines in a statsd payload: non-empty pieces between newlines. A trailing
/// newline does not start a line.
pub fn count_lines(payload: &[u8]) -> u64 {
    let (mut lines, mut start) = (0u64, 0usize);
    for newline in memchr::memchr_iter(b'\n', payload) {
        lines += u64::from(newline > start);
        start = newline + 1;
    }
    lines + u64::from(start < payload.len())
}

fn set_rcvbuf(socket: &UdpSocket, size: usize) -> std::io::Result<()> {
    socket2::SockRef::from(socket).set_recv_buffer_size(size)
}

/// Accepts TCP connections (blocking: [`NullServer::run`] connects once
/// after raising `stop` to wake it) and reads each on a thread of its own.
fn accept_loop(listener: &TcpListener, counters: &Arc<Counters>, stop: &Arc<AtomicBool>) {
    let mut readers: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok(_) if stop.load(Ordering::SeqCst) => break,
            Ok((stream, _)) => {
                counters.tcp_connections.fetch_add(1, Ordering::Relaxed);
                readers.retain(|r| !r.is_finished());
                let (counters, stop) = (Arc::clone(counters), Arc::clone(stop));
                if let Ok(handle) = thread::Builder::new()
                    .name("null-tcp-conn".into())
                    .spawn(move || read_connection(stream, &counters, &stop))
                {
                    readers.push(handle);
                }
            }
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
}

fn read_connection(mut stream: TcpStream, counters: &Counters, stop: &AtomicBool) {
    if stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        .is_err()
    {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    // Whether the byte before this read was a newline (or the stream start),
    // so lines split across reads are counted once.
    let mut at_line_start = true;
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let data = &buf[..n];
                let mut lines = 0u64;
                for &b in data {
                    if b == b'\n' {
                        at_line_start = true;
                    } else if at_line_start {
                        at_line_start = false;
                        lines += 1;
                    }
                }
                counters.lines.fetch_add(lines, Ordering::Relaxed);
                counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn counts_lines_like_a_statsd_server_splits_them() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a:1|c"), 1);
        assert_eq!(count_lines(b"a:1|c\n"), 1);
        assert_eq!(count_lines(b"a:1|c\nb:2|c"), 2);
        assert_eq!(count_lines(b"a:1|c\n\nb:2|c\n"), 2);
        assert_eq!(count_lines(b"\na:1|c"), 1);
        assert_eq!(count_lines(b"\n\n\n"), 0);
    }

    #[test]
    fn receives_udp_and_tcp_until_max_lines() {
        let mut config = NullConfig::new("127.0.0.1:0".parse().unwrap());
        config.max_lines = Some(5);
        config.time_limit = Duration::from_secs(10);
        config.rcvbuf = Some(1 << 20);
        let server = NullServer::bind(config).unwrap();
        let addr = server.udp_addr().unwrap();
        assert_eq!(server.tcp_addr().unwrap(), addr);
        let sender = thread::spawn(move || {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            udp.send_to(b"a:1|c\nb:1|c", addr).unwrap();
            udp.send_to(b"c:1|c", addr).unwrap();
            let mut tcp = TcpStream::connect(addr).unwrap();
            tcp.write_all(b"d:1|c\ne:1").unwrap();
            tcp.write_all(b"|c\n").unwrap();
        });
        let stop = AtomicBool::new(false);
        let (counts, reason) = server.run(&stop, |_| {}).unwrap();
        sender.join().unwrap();
        assert_eq!(reason, StopReason::MaxLines);
        assert_eq!(counts.lines, 5);
        assert_eq!(counts.datagrams, 2);
        assert_eq!(counts.tcp_connections, 1);
        assert_eq!(counts.bytes, 11 + 5 + 12);
    }

    #[test]
    fn progress_is_reported_off_the_receiving_thread() {
        let mut config = NullConfig::new("127.0.0.1:0".parse().unwrap());
        config.max_lines = Some(3);
        config.time_limit = Duration::from_secs(10);
        config.report_every = Duration::from_millis(20);
        let server = NullServer::bind(config).unwrap();
        let addr = server.udp_addr().unwrap();
        let sender = thread::spawn(move || {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            udp.send_to(b"a:1|c", addr).unwrap();
            // Long enough for a report of the first line alone.
            thread::sleep(Duration::from_millis(300));
            udp.send_to(b"b:1|c\nc:1|c", addr).unwrap();
        });
        let (stop, mut seen) = (AtomicBool::new(false), Vec::new());
        let reporter = std::sync::Mutex::new(None);
        let (counts, reason) = server
            .run(&stop, |c| {
                *reporter.lock().unwrap() = Some(thread::current().id());
                seen.push(c.lines);
            })
            .unwrap();
        sender.join().unwrap();
        assert_eq!((reason, counts.lines), (StopReason::MaxLines, 3));
        assert!(seen.contains(&1), "{seen:?}");
        assert_ne!(*reporter.lock().unwrap(), Some(thread::current().id()));
    }

    #[test]
    fn stops_on_flag_and_on_time() {
        let server = NullServer::bind(NullConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
        let stop = AtomicBool::new(true);
        assert_eq!(server.run(&stop, |_| {}).unwrap().1, StopReason::Signal);

        let mut config = NullConfig::new("127.0.0.1:0".parse().unwrap());
        config.time_limit = Duration::from_millis(50);
        let server = NullServer::bind(config).unwrap();
        let stop = AtomicBool::new(false);
        assert_eq!(server.run(&stop, |_| {}).unwrap().1, StopReason::TimeLimit);
    }
}
