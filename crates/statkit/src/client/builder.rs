//! Configuration of a [`Client`], checked and turned into sockets once.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use super::sink::{self, Sink};
use super::{format, BuildError, Client, Inner};

/// Fits one datagram in a 1500-byte Ethernet frame after the IPv6 (40) and
/// UDP (8) headers, with room for tunnels and options; DogStatsD's
/// recommendation for UDP.
pub const DEFAULT_MAX_DATAGRAM: usize = 1432;

/// Short enough that an application thread stalled on a dead TCP server
/// barely notices, long enough for a server on the same network.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(100);

/// Builds a [`Client`]. Start from [`Client::builder`] (UDP, or TCP with
/// [`tcp`](Self::tcp)) or [`Client::builder_with_sink`].
///
/// Defaults: no prefix, no tags, datagrams of at most
/// [`DEFAULT_MAX_DATAGRAM`] bytes, no flush interval (lines wait for a full
/// datagram, [`Client::flush`] or the last clone being dropped), TCP connect
/// timeout [`DEFAULT_CONNECT_TIMEOUT`].
pub struct ClientBuilder {
    target: Target,
    prefix: Vec<u8>,
    default_tags: Vec<u8>,
    max_datagram: usize,
    flush_interval: Option<Duration>,
    background_flush: bool,
    connect_timeout: Duration,
}

enum Target {
    Udp(String),
    Tcp(String),
    Sink(Box<dyn Sink>),
}

impl ClientBuilder {
    pub(super) fn new(address: String) -> Self {
        Self::with_target(Target::Udp(address))
    }

    pub(super) fn with_sink(sink: Box<dyn Sink>) -> Self {
        Self::with_target(Target::Sink(sink))
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            prefix: Vec::new(),
            default_tags: Vec::new(),
            max_datagram: DEFAULT_MAX_DATAGRAM,
            flush_interval: None,
            background_flush: false,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sends over TCP instead of UDP, one newline-terminated line after
    /// another on a connection opened at the first send and reopened after
    /// failures (see [`sink::Tcp`] for how that stays non-blocking). Has no
    /// effect on a builder made with [`Client::builder_with_sink`].
    pub fn tcp(mut self) -> Self {
        if let Target::Udp(address) = self.target {
            self.target = Target::Tcp(address);
        }
        self
    }

    /// Prepends `prefix` and a `.` to every metric name (`app` turns `hits`
    /// into `app.hits`; a prefix that already ends in `.` gets no second
    /// one). Cleaned like a name, see [the protocol notes](super#names-and-tags).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix.clear();
        format::push_name(&mut self.prefix, prefix);
        if !self.prefix.is_empty() && !self.prefix.ends_with(b".") {
            self.prefix.push(b'.');
        }
        self
    }

    /// Adds a DogStatsD tag to every metric, before the tags of the call; an
    /// empty `value` makes a bare tag. Cleaned like any tag.
    pub fn tag(mut self, key: &str, value: &str) -> Self {
        if key.is_empty() && value.is_empty() {
            return self;
        }
        if !self.default_tags.is_empty() {
            self.default_tags.push(b',');
        }
        format::push_tag(&mut self.default_tags, key, value);
        self
    }

    /// The largest payload to send, in bytes: lines are packed into one
    /// datagram (or one TCP write) until the next would not fit. A single
    /// line longer than this is sent alone rather than lost; 0 sends every
    /// line on its own.
    pub fn max_datagram(mut self, bytes: usize) -> Self {
        self.max_datagram = bytes;
        self
    }

    /// Sends what is buffered at the first metric call made at least
    /// `interval` after the previous send, so that a quiet metric does not
    /// wait for a full datagram. No thread is involved: if no call comes, the
    /// lines wait (see [`background_flush`](Self::background_flush)).
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = Some(interval);
        self
    }

    /// Like [`flush_interval`](Self::flush_interval), plus a thread named
    /// `statkit-flush` that sends whatever is buffered every `interval` even
    /// when no metric call comes. It holds only a weak reference to the
    /// client and exits as soon as the last clone is dropped.
    pub fn background_flush(mut self, interval: Duration) -> Self {
        self.flush_interval = Some(interval);
        self.background_flush = true;
        self
    }

    /// How long a TCP connection attempt may block the metric call that
    /// makes it. Ignored for other transports.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Resolves the server address and opens the socket. Nothing is sent,
    /// and no server needs to be listening.
    pub fn build(self) -> Result<Client, BuildError> {
        let (sink, target): (Box<dyn Sink>, String) = match self.target {
            Target::Udp(address) => {
                let server = resolve(&address)?;
                let udp = sink::Udp::new(server).map_err(|source| BuildError::Socket {
                    address: address.clone(),
                    source,
                })?;
                (Box::new(udp), format!("udp://{server}"))
            }
            Target::Tcp(address) => {
                let server = resolve(&address)?;
                (
                    Box::new(sink::Tcp::new(server, self.connect_timeout)),
                    format!("tcp://{server}"),
                )
            }
            Target::Sink(sink) => (sink, "custom sink".to_owned()),
        };
        let (stop, stopped) = mpsc::channel();
        let inner = Arc::new(Inner::new(
            sink,
            target,
            self.prefix,
            self.default_tags,
            self.max_datagram,
            self.flush_interval,
            self.background_flush.then_some(stop),
        ));
        if let (true, Some(interval)) = (self.background_flush, self.flush_interval) {
            Inner::spawn_flusher(&inner, interval, stopped).map_err(BuildError::Thread)?;
        }
        Ok(Client { inner })
    }
}

/// The first address a name resolves to. Resolution happens once, here: a
/// client never waits on DNS while recording a metric.
fn resolve(address: &str) -> Result<SocketAddr, BuildError> {
    let mut addresses = address
        .to_socket_addrs()
        .map_err(|source| BuildError::Resolve {
            address: address.to_owned(),
            source,
        })?;
    addresses.next().ok_or_else(|| BuildError::NoAddress {
        address: address.to_owned(),
    })
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Udp(address) => format!("udp://{address}"),
            Target::Tcp(address) => format!("tcp://{address}"),
            Target::Sink(_) => "custom sink".to_owned(),
        };
        f.debug_struct("ClientBuilder")
            .field("target", &target)
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .field("default_tags", &String::from_utf8_lossy(&self.default_tags))
            .field("max_datagram", &self.max_datagram)
            .field("flush_interval", &self.flush_interval)
            .field("background_flush", &self.background_flush)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}
