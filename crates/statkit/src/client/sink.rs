//! Where the client's packed lines go.
//!
//! A [`Sink`] takes one payload at a time (one or more whole lines) and hands
//! it to the operating system without waiting: the client calls it while
//! holding its buffer lock, from inside a metric call, so a sink that blocked
//! would stall every thread that records a metric. A payload the sink cannot
//! take right now is lost, and saying so through an `Err` is all it has to
//! do; the client counts it.
//!
//! - [`Udp`]: one datagram per payload, on a connected non-blocking socket.
//! - [`Unix`]: one datagram per payload to a Unix socket path (Unix only).
//! - [`Tcp`]: a byte stream, connected lazily and reconnected after failures.
//! - [`Nop`] and [`Spy`]: for tests, and for programs where metrics are off.

use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A destination for packed statsd lines.
///
/// Implementations must not block: return an error (usually
/// [`io::ErrorKind::WouldBlock`]) for a payload that cannot be sent at once.
pub trait Sink: Send + 'static {
    /// Sends `payload`, which holds whole lines separated by `\n`, and ends
    /// with a `\n` when [`Sink::framing`] is [`Framing::Stream`].
    fn send(&mut self, payload: &[u8]) -> io::Result<()>;

    /// How the receiver finds line boundaries, which decides whether the
    /// last line of a payload carries a `\n`.
    fn framing(&self) -> Framing {
        Framing::Datagram
    }
}

/// How payloads are delimited on the way to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Each payload arrives whole (UDP, Unix datagrams): lines are separated
    /// by `\n` and the last one has none, as statsd clients traditionally
    /// send them.
    Datagram,
    /// Payloads run together in a byte stream (TCP): every line ends in
    /// `\n`, or the server could not tell where one payload's last line
    /// stops and the next one's first line starts.
    Stream,
}

/// Whether a failed send is the normal price of fire-and-forget (no server
/// listening, no room in a buffer, a connection being re-established) rather
/// than a sign of misconfiguration. Both lose the payload; only the second
/// is counted in [`Stats::errors`](super::Stats::errors).
pub(crate) fn is_expected(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | BrokenPipe
            | WouldBlock
            | Interrupted
            | TimedOut
            | NotFound
    ) {
        return true;
    }
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ENOBUFS) {
        return true;
    }
    false
}

/// UDP datagrams to one address.
///
/// The socket is connected to the server so that the kernel reports an ICMP
/// "port unreachable" as `ECONNREFUSED` on a later send, which the client
/// counts as a drop; it is non-blocking so that a full send buffer
/// (`EAGAIN`, `ENOBUFS`) drops a datagram instead of waiting.
#[derive(Debug)]
pub struct Udp {
    socket: UdpSocket,
}

impl Udp {
    /// Opens a socket on an ephemeral port of the matching address family
    /// and connects it to `server`. No packet is sent.
    pub fn new(server: SocketAddr) -> io::Result<Self> {
        // A server on loopback is reached from loopback: no need to open a
        // port on every interface.
        let local: SocketAddr = match server {
            _ if server.ip().is_loopback() => (server.ip(), 0).into(),
            SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        Ok(Self { socket })
    }
}

impl Sink for Udp {
    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.socket.send(payload).map(drop)
    }
}

/// Datagrams to a Unix socket path, such as a local agent's `statsd.sock`.
///
/// The path is resolved by the kernel on every send, so a server that starts
/// (or restarts) after the client was built is reached without any
/// reconnection logic; until then sends fail with `ENOENT` or
/// `ECONNREFUSED` and are counted as drops.
#[cfg(unix)]
#[derive(Debug)]
pub struct Unix {
    socket: std::os::unix::net::UnixDatagram,
    path: std::path::PathBuf,
}

#[cfg(unix)]
impl Unix {
    /// Opens an unbound, non-blocking datagram socket for `path`. The path
    /// need not exist yet.
    pub fn new(path: impl Into<std::path::PathBuf>) -> io::Result<Self> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Self {
            socket,
            path: path.into(),
        })
    }
}

#[cfg(unix)]
impl Sink for Unix {
    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.socket.send_to(payload, &self.path).map(drop)
    }
}

/// The first wait after a failed connection attempt; it doubles with each
/// further failure up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(50);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// A TCP connection to a statsd server that accepts newline-terminated lines.
///
/// Nothing is connected until the first send. How it keeps the caller from
/// blocking:
///
/// - Connecting is the one blocking step, bounded by the connect timeout
///   (100 ms from the client builder by default), and happens at most once
///   per send. It happens under the client's lock, so other threads
///   recording metrics at that moment wait for it too. After a failure the next attempt waits 50 ms, then 100 ms,
///   doubling up to 5 s; payloads sent meanwhile are dropped without any
///   system call. Retries never stop, so a server that comes back after a
///   restart is found again within 5 s of traffic.
/// - Once connected the socket is non-blocking. Before each write the
///   socket is peeked: a server that closed its end (a restart) is noticed
///   there, so the next payload goes to a new connection instead of into a
///   socket that can only answer with a reset.
/// - A payload the kernel takes only in part keeps its tail (at most one
///   payload) to be written before the next one, so lines are never cut in
///   half on a live connection; while that tail cannot be written, new
///   payloads are dropped. If the connection dies with a tail pending, the
///   tail is discarded and the server sees one truncated line.
#[derive(Debug)]
pub struct Tcp {
    server: SocketAddr,
    connect_timeout: Duration,
    stream: Option<TcpStream>,
    /// The unwritten tail of the last payload, owed to the current stream.
    pending: Vec<u8>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl Tcp {
    /// A sink for `server`. No connection is made here.
    pub fn new(server: SocketAddr, connect_timeout: Duration) -> Self {
        Self {
            server,
            connect_timeout,
            stream: None,
            pending: Vec::new(),
            failures: 0,
            retry_at: None,
        }
    }

    fn connect_if_needed(&mut self) -> io::Result<()> {
        if self.stream.as_ref().is_some_and(|stream| !is_open(stream)) {
            self.disconnect();
        }
        if self.stream.is_some() {
            return Ok(());
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            // A kind-only error: building one does not allocate.
            return Err(io::ErrorKind::NotConnected.into());
        }
        match open(self.server, self.connect_timeout) {
            Ok(stream) => {
                self.stream = Some(stream);
                self.failures = 0;
                self.retry_at = None;
                Ok(())
            }
            Err(error) => {
                let delay = FIRST_RETRY_DELAY.saturating_mul(1 << self.failures.min(16));
                self.failures = self.failures.saturating_add(1);
                self.retry_at = Some(Instant::now() + delay.min(MAX_RETRY_DELAY));
                Err(error)
            }
        }
    }

    fn disconnect(&mut self) {
        self.stream = None;
        self.pending.clear();
    }
}

impl Sink for Tcp {
    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.connect_if_needed()?;
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let result = write_payload(stream, &mut self.pending, payload);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock)
        {
            self.disconnect();
        }
        result
    }

    fn framing(&self) -> Framing {
        Framing::Stream
    }
}

fn open(server: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&server, timeout)?;
    stream.set_nonblocking(true)?;
    // Payloads are already batched; Nagle would only delay them.
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A statsd server never writes to its clients, so a readable end of stream
/// (or an error) on a non-blocking peek means the server has gone away.
fn is_open(stream: &TcpStream) -> bool {
    match stream.peek(&mut [0; 1]) {
        Ok(n) => n > 0,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

fn write_payload(stream: &mut TcpStream, pending: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    if !pending.is_empty() {
        let written = write_some(stream, pending)?;
        pending.drain(..written);
        if !pending.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
    }
    let written = write_some(stream, payload)?;
    pending.extend_from_slice(&payload[written..]);
    Ok(())
}

/// One non-blocking write; "no room" is zero bytes written, not an error.
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    match stream.write(bytes) {
        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(0)
        }
        Err(e) => Err(e),
    }
}

/// Accepts and discards everything: metrics turned off, or benchmarks of the
/// formatting alone.
#[derive(Clone, Copy, Debug, Default)]
pub struct Nop;

impl Sink for Nop {
    fn send(&mut self, _payload: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// Keeps every payload for a test to inspect. Clones share the same record,
/// so a test keeps one clone and gives the other to the client.
#[derive(Clone, Debug)]
pub struct Spy {
    shared: Arc<Mutex<SpyState>>,
    framing: Framing,
}

#[derive(Debug, Default)]
struct SpyState {
    payloads: Vec<Vec<u8>>,
    failure: Option<io::ErrorKind>,
}

impl Default for Spy {
    fn default() -> Self {
        Self::new()
    }
}

impl Spy {
    /// A spy that asks for datagram framing, like [`Udp`].
    pub fn new() -> Self {
        Self {
            shared: Arc::default(),
            framing: Framing::Datagram,
        }
    }

    /// A spy that asks for stream framing, like [`Tcp`].
    pub fn stream() -> Self {
        Self {
            shared: Arc::default(),
            framing: Framing::Stream,
        }
    }

    /// Removes and returns the payloads received so far, oldest first.
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.lock().payloads)
    }

    /// Makes every following send fail with `kind` (and record nothing), or
    /// succeed again with `None`.
    pub fn fail_with(&self, kind: Option<io::ErrorKind>) {
        self.lock().failure = kind;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpyState> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink for Spy {
    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut state = self.lock();
        match state.failure {
            Some(kind) => Err(kind.into()),
            None => {
                state.payloads.push(payload.to_vec());
                Ok(())
            }
        }
    }

    fn framing(&self) -> Framing {
        self.framing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_full_buffers_are_expected() {
        assert!(is_expected(&io::ErrorKind::ConnectionRefused.into()));
        assert!(is_expected(&io::ErrorKind::WouldBlock.into()));
        #[cfg(unix)]
        assert!(is_expected(&io::Error::from_raw_os_error(libc::ENOBUFS)));
    }

    #[test]
    fn other_failures_are_errors() {
        assert!(!is_expected(&io::ErrorKind::PermissionDenied.into()));
        #[cfg(unix)]
        assert!(!is_expected(&io::Error::from_raw_os_error(libc::EMSGSIZE)));
    }

    #[test]
    fn spy_clones_share_one_record() {
        let spy = Spy::new();
        let mut sending = spy.clone();
        sending.send(b"a:1|c").unwrap();
        sending.send(b"b:1|c").unwrap();
        assert_eq!(spy.take(), vec![b"a:1|c".to_vec(), b"b:1|c".to_vec()]);
        assert!(spy.take().is_empty());
    }

    #[test]
    fn failing_spy_records_nothing() {
        let spy = Spy::new();
        let mut sending = spy.clone();
        spy.fail_with(Some(io::ErrorKind::ConnectionRefused));
        let error = sending.send(b"a:1|c").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        spy.fail_with(None);
        sending.send(b"b:1|c").unwrap();
        assert_eq!(spy.take(), vec![b"b:1|c".to_vec()]);
    }
}
