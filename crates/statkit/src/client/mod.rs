//! A statsd client that never blocks and never fails its caller.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let client = statkit::Client::builder("127.0.0.1:8125")
//!     .prefix("app")
//!     .max_datagram(1432)
//!     .flush_interval(Duration::from_secs(1))
//!     .build()?;
//!
//! client.incr("requests");                                  // app.requests:1|c
//! client.gauge("queue.depth", 17.0);                        // app.queue.depth:17|g
//! client.timing("db.query", Duration::from_micros(1250));   // app.db.query:1.25|ms
//! client.tagged(&[("route", "/home")]).sampled(0.1).incr("hits"); // app.hits:1|c|@0.1|#route:/home
//! {
//!     let _timer = client.time("render");                   // app.render:<elapsed>|ms on drop
//! }
//! client.flush();
//! println!("{:?}", client.stats());
//! # Ok::<(), statkit::BuildError>(())
//! ```
//!
//! # How lines travel
//!
//! Each metric call formats its line straight into a buffer the client
//! keeps, and lines are packed `\n`-separated into one payload of at most
//! [`max_datagram`](ClientBuilder::max_datagram) bytes. A payload is handed
//! to the [`Sink`] when the next line would not fit, on [`Client::flush`],
//! at the first call after the [flush interval](ClientBuilder::flush_interval)
//! (if one is set), from the optional
//! [background thread](ClientBuilder::background_flush), and when the last
//! clone of the client is dropped.
//!
//! Sockets are non-blocking. A payload the operating system will not take at
//! once (no server listening, a full buffer, a TCP connection being
//! re-established) is dropped and counted in [`Client::stats`]; a metric
//! call has no error to return and never waits, except for one bounded TCP
//! connection attempt (see [`sink::Tcp`]).
//!
//! # Names and tags
//!
//! A line is `name:value|type[|@rate][|#tags]`. Names, tags and set members
//! come from the caller and could otherwise end a line early, add fields or
//! split one value into two, so the bytes that would do that are replaced
//! with `_` (a metric call cannot report an error, and a slightly renamed
//! metric is more useful than a lost one):
//!
//! - names, the prefix and set members: every ASCII control byte (`\n`,
//!   `\r` and `\t` among them), `:`, `|` and `#`; and a name that would
//!   start with `_e{` gets `_e_`, so it is never read as a DogStatsD event;
//! - tag keys: the same bytes, plus `,`, which separates tags;
//! - tag values: control bytes, `|`, `#` and `,`. A `:` is kept, because the
//!   first `:` of a tag already ended its key (`url:http://x` is one tag).
//!
//! Nothing else is changed: spaces, `/` and non-ASCII text reach the server,
//! which sanitizes keys its own way. Values the protocol cannot carry are
//! not sent and are counted in [`Stats::invalid`]: NaN and infinite numbers,
//! negative timings, an empty name or set member. A negative absolute gauge
//! is sent as `name:0|g` followed by `name:-5|g` in the same datagram,
//! because a signed gauge value means "add" in statsd.
//!
//! # Threads
//!
//! [`Client`] is `Send + Sync` and cloning it clones an [`Arc`]. The buffer
//! sits behind one [`Mutex`]: an uncontended lock costs two atomic
//! operations, and a contended one makes threads take turns formatting a line
//! (a few hundred nanoseconds) and, once per payload, sending it (one
//! non-blocking system call). Sampling is decided before the lock is taken,
//! so a sampled-out call touches no shared state at all. Applications that
//! record from many threads at very high rates should sample, or use the
//! shared-memory publisher planned for this crate.

mod builder;
mod error;
mod format;
mod recorder;
mod rng;
mod scoped;
pub mod sink;

use std::fmt;
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use statkit_wire::statsd::{self, ParseError, Sample};

pub use builder::{ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_DATAGRAM};
pub use error::{BuildError, LineError};
pub use format::Millis;
pub use recorder::{HistogramType, StatsdRecorder};
pub use scoped::{Scoped, TimerGuard};
pub use sink::Sink;

use format::{Frame, Tags, Value};
use sink::Framing;

/// A handle to a statsd client; clones share one buffer and one socket.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// What a client has done with its payloads since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Payloads (datagrams, or writes to the TCP stream) the sink accepted.
    pub sent: u64,
    /// Payloads lost because the sink could not take them, for any reason.
    pub dropped: u64,
    /// Of the drops, those with an unexpected cause, such as a datagram too
    /// large for the network or a permission error: a sign of
    /// misconfiguration rather than of a server that is not listening.
    pub errors: u64,
    /// Metric calls refused because the value could not be written (see
    /// [Names and tags](self#names-and-tags)).
    pub invalid: u64,
    /// The kind of the most recent send failure, if any.
    pub last_error: Option<std::io::ErrorKind>,
}

/// State shared by every clone of a [`Client`].
struct Inner {
    state: Mutex<State>,
    /// `udp://host:port` and the like, for `Debug`.
    target: String,
    /// Cleaned, with its trailing `.`; empty for no prefix.
    prefix: Vec<u8>,
    /// Cleaned and comma-joined; empty for none.
    default_tags: Vec<u8>,
    max_datagram: usize,
    flush_interval: Option<Duration>,
    /// The background flusher waits on the other end; dropping this (with
    /// the last clone) wakes it up to exit.
    _stop_flusher: Option<mpsc::Sender<()>>,
}

/// Everything a metric call changes, behind the client's one lock.
struct State {
    /// Complete lines, each ending in `\n`, waiting to be sent.
    buf: Vec<u8>,
    /// The length of `buf` that holds complete lines. Anything past it was
    /// left by a call that panicked while formatting (a set member's
    /// `Display`) and is cut off by the next call.
    committed: usize,
    sink: Box<dyn Sink>,
    framing: Framing,
    last_send: Instant,
    stats: Stats,
}

impl Client {
    /// A builder for a client that sends UDP datagrams to `address`
    /// (`host:port`); see [`ClientBuilder::tcp`] for TCP.
    pub fn builder(address: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(address.into())
    }

    /// A builder for a client that sends through `sink`: a
    /// [`sink::Unix`] socket, a [`sink::Spy`] in tests, or your own.
    pub fn builder_with_sink(sink: impl Sink) -> ClientBuilder {
        ClientBuilder::with_sink(Box::new(sink))
    }

    /// Adds `tags` to the metrics sent through the returned handle.
    pub fn tagged<'a>(&'a self, tags: &'a [(&'a str, &'a str)]) -> Scoped<'a> {
        self.scoped().tagged(tags)
    }

    /// Samples the metrics sent through the returned handle at `rate`.
    pub fn sampled(&self, rate: f64) -> Scoped<'_> {
        self.scoped().sampled(rate)
    }

    fn scoped(&self) -> Scoped<'_> {
        Scoped::new(self)
    }

    /// Adds 1 to a counter.
    pub fn incr(&self, name: &str) {
        self.scoped().incr(name);
    }

    /// Subtracts 1 from a counter.
    pub fn decr(&self, name: &str) {
        self.scoped().decr(name);
    }

    /// Adds `n` (which may be negative) to a counter.
    pub fn count(&self, name: &str, n: i64) {
        self.scoped().count(name, n);
    }

    /// Sets a gauge to `value`.
    pub fn gauge(&self, name: &str, value: f64) {
        self.scoped().gauge(name, value);
    }

    /// Adds `delta` to a gauge's current value on the server.
    pub fn gauge_delta(&self, name: &str, delta: f64) {
        self.scoped().gauge_delta(name, delta);
    }

    /// Records a duration: a [`Duration`], or a number of milliseconds.
    pub fn timing(&self, name: &str, value: impl Into<Millis>) {
        self.scoped().timing(name, value);
    }

    /// Records a histogram sample (`|h`).
    pub fn histogram(&self, name: &str, value: f64) {
        self.scoped().histogram(name, value);
    }

    /// Records a DogStatsD distribution sample (`|d`).
    pub fn distribution(&self, name: &str, value: f64) {
        self.scoped().distribution(name, value);
    }

    /// Adds `member` (anything printable, such as a user id) to a set whose
    /// distinct members the server counts.
    pub fn set(&self, name: &str, member: impl fmt::Display) {
        self.scoped().set(name, member);
    }

    /// Starts a timer that records its elapsed time under `name` when it is
    /// dropped (or [stopped](TimerGuard::stop)).
    pub fn time<'a>(&'a self, name: &'a str) -> TimerGuard<'a> {
        self.scoped().time(name)
    }

    /// Sends a pre-formatted statsd line as it is: no prefix, no default
    /// tags, no cleaning. That is why it can fail where the other calls
    /// cannot: the line must be one line that statkit's own parser accepts
    /// in full, or it is refused and nothing is buffered.
    pub fn send_line(&self, line: &str) -> Result<(), LineError> {
        check_line(line)?;
        let mut state = self.inner.lock();
        state.discard_partial();
        let start = state.buf.len();
        state.buf.extend_from_slice(line.as_bytes());
        state.buf.push(b'\n');
        state.commit(start, self.inner.max_datagram, self.inner.flush_interval);
        Ok(())
    }

    /// Sends whatever is buffered now.
    pub fn flush(&self) {
        let mut state = self.inner.lock();
        state.discard_partial();
        state.send_buffered();
    }

    /// Counters of sent and dropped payloads and refused calls.
    pub fn stats(&self) -> Stats {
        self.inner.lock().stats
    }

    fn emit(&self, name: &str, value: Value<'_>, rate: f64, tags: Tags<'_>) {
        if !rng::keep(rate) {
            return;
        }
        let inner = &*self.inner;
        let frame = Frame {
            prefix: &inner.prefix,
            default_tags: &inner.default_tags,
        };
        let mut state = inner.lock();
        state.discard_partial();
        let start = state.buf.len();
        match format::write_metric(&mut state.buf, frame, name, value, rate, tags) {
            Ok(()) => state.commit(start, inner.max_datagram, inner.flush_interval),
            Err(_) => state.stats.invalid += 1,
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.inner.target)
            .field("prefix", &String::from_utf8_lossy(&self.inner.prefix))
            .field("max_datagram", &self.inner.max_datagram)
            .finish_non_exhaustive()
    }
}

/// Checks that `line` is one line statkit's parser accepts in full.
pub fn check_line(line: &str) -> Result<(), LineError> {
    if line.is_empty() {
        return Err(LineError::Empty);
    }
    if line.bytes().any(|b| b == b'\n' || b == b'\r') {
        return Err(LineError::LineBreak);
    }
    struct FirstError(Option<ParseError>);
    impl statsd::Visitor<'_> for FirstError {
        fn sample(&mut self, _: Sample<'_>) {}
        fn invalid(&mut self, _: &[u8], error: ParseError) {
            self.0.get_or_insert(error);
        }
    }
    let mut visitor = FirstError(None);
    statsd::parse_line(line.as_bytes(), &mut visitor);
    match visitor.0 {
        Some(error) => Err(LineError::Parse(error)),
        None => Ok(()),
    }
}

impl Inner {
    fn new(
        sink: Box<dyn Sink>,
        target: String,
        prefix: Vec<u8>,
        default_tags: Vec<u8>,
        max_datagram: usize,
        flush_interval: Option<Duration>,
        stop_flusher: Option<mpsc::Sender<()>>,
    ) -> Self {
        let framing = sink.framing();
        let state = State {
            // Room for a full payload plus one line that did not fit, so a
            // steady stream of metrics needs no further growth.
            buf: Vec::with_capacity(max_datagram.saturating_mul(2).clamp(256, 64 * 1024)),
            committed: 0,
            sink,
            framing,
            last_send: Instant::now(),
            stats: Stats::default(),
        };
        Self {
            state: Mutex::new(state),
            target,
            prefix,
            default_tags,
            max_datagram,
            flush_interval,
            _stop_flusher: stop_flusher,
        }
    }

    /// A poisoned lock only means a `Display` impl panicked mid-line;
    /// [`State::discard_partial`] repairs that, so carry on.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts the `statkit-flush` thread. It waits on `stop` with a timeout
    /// of `interval`: a timeout means "flush", anything else (the sender in
    /// [`Inner`] dropped) means "exit". Between wake-ups it holds only a
    /// weak reference, so it never keeps the client alive.
    fn spawn_flusher(
        inner: &Arc<Inner>,
        interval: Duration,
        stop: mpsc::Receiver<()>,
    ) -> std::io::Result<()> {
        let weak: Weak<Inner> = Arc::downgrade(inner);
        std::thread::Builder::new()
            .name("statkit-flush".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
                    let Some(inner) = weak.upgrade() else { return };
                    let mut state = inner.lock();
                    state.discard_partial();
                    state.send_buffered();
                }
            })?;
        Ok(())
    }
}

impl Drop for Inner {
    /// Lines still buffered when the last clone goes are sent, so a
    /// short-lived program need not remember to flush.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        state.discard_partial();
        state.send_buffered();
    }
}

impl State {
    fn discard_partial(&mut self) {
        self.buf.truncate(self.committed);
    }

    /// Bytes of a payload that are not sent: the `\n` after the last line
    /// of a datagram.
    fn unsent_tail(&self) -> usize {
        match self.framing {
            Framing::Datagram => 1,
            Framing::Stream => 0,
        }
    }

    /// Takes in the complete line(s) written at `buf[start..]` and sends
    /// what has to go now.
    fn commit(&mut self, start: usize, max_datagram: usize, flush_interval: Option<Duration>) {
        let tail = self.unsent_tail();
        if start > 0 && self.buf.len() - tail > max_datagram {
            // The new line does not fit after the ones before it: those go
            // alone, and the new line moves to the front.
            self.send_prefix(start);
            self.buf.copy_within(start.., 0);
            self.buf.truncate(self.buf.len() - start);
        }
        self.committed = self.buf.len();
        let full = self.buf.len() - tail >= max_datagram;
        let due = flush_interval.is_some_and(|interval| self.last_send.elapsed() >= interval);
        if full || due {
            self.send_buffered();
        }
    }

    fn send_buffered(&mut self) {
        if self.committed > 0 {
            self.send_prefix(self.committed);
            self.buf.clear();
            self.committed = 0;
        }
    }

    /// Sends the complete lines in `buf[..end]` as one payload.
    fn send_prefix(&mut self, end: usize) {
        let payload = &self.buf[..end - self.unsent_tail()];
        match self.sink.send(payload) {
            Ok(()) => self.stats.sent += 1,
            Err(error) => {
                self.stats.dropped += 1;
                if !sink::is_expected(&error) {
                    self.stats.errors += 1;
                }
                self.stats.last_error = Some(error.kind());
            }
        }
        self.last_send = Instant::now();
    }
}

#[cfg(test)]
mod tests;
