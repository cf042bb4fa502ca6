//! Binding every socket the server listens on, before it runs.
//!
//! Binding is separate from running so the caller learns the real
//! addresses (tests ask for port 0) and so a port already in use is an
//! error at start, not a log line later.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::config::{Config, StatsdConfig};
use crate::requests::GstatsSockets;
use crate::settings::Declared;
use crate::{admin, http, source};

/// How often a blocked receiver wakes to check for shutdown.
pub(crate) const RECEIVE_TIMEOUT: Duration = Duration::from_millis(100);

/// Why a listener could not be bound. The message leaves the cause out:
/// it is the error's source, which printers of the chain show after it.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {what} on {address}")]
pub struct BindError {
    pub what: &'static str,
    /// The key of the setting that chose the address (`statsd`,
    /// `http.listen`), so that a hint can name the flag to change.
    pub setting: &'static str,
    pub address: String,
    #[source]
    pub source: io::Error,
}

/// What a listener is for, as a [`BindError`] says, and the setting that
/// gives its address.
type Listener = (&'static str, &'static dyn Declared);

const STATSD_UDP: Listener = ("statsd (udp)", &source::settings::STATSD);
const STATSD_TCP: Listener = ("statsd (tcp)", &source::settings::STATSD);
const STATSD_UNIX: Listener = ("statsd (unix)", &source::settings::UNIX_SOCKET);
const ADMIN: Listener = ("admin", &admin::settings::LISTEN);
const ADMIN_UNIX: Listener = ("admin (unix)", &admin::settings::SOCKET);
const HTTP: Listener = ("http", &http::settings::LISTEN);
const LOAD: Listener = ("load", &http::settings::LOAD_LISTEN);
const STATVENT: Listener = ("statvent", &http::settings::STATVENT_LISTEN);

/// Every bound socket, ready to hand to [`crate::run`].
#[derive(Debug)]
pub struct Listeners {
    /// One socket per receiver thread, all on the same address.
    pub udp: Vec<UdpSocket>,
    pub tcp: TcpListener,
    pub admin: TcpListener,
    /// The admin port's Unix socket, when `admin.socket` is set.
    pub admin_socket: Option<UnixListener>,
    /// The HTTP server's listener, unless `http` is off.
    pub http: Option<TcpListener>,
    /// gstatsd's load API listener, when `load_listen` is set.
    pub load: Option<TcpListener>,
    /// statvent's web service listener, when `statvent_listen` is set.
    pub statvent: Option<TcpListener>,
    pub unix: Option<(UnixDatagram, PathBuf)>,
    /// gstats' ZeroMQ endpoints, bound (asynchronously) by the caller when
    /// configured: see [`GstatsSockets::bind`].
    pub gstats: GstatsSockets,
}

impl Listeners {
    /// Binds UDP and TCP statsd on the same port (when port 0 is asked for,
    /// a port free for both), the admin port, the HTTP port unless it is
    /// off, and the Unix socket if any.
    pub fn bind(config: &Config) -> Result<Self, BindError> {
        let statsd = &config.statsd;
        let (udp, tcp) = bind_statsd(statsd)?;
        let address = config.admin.listen;
        let admin = TcpListener::bind(address).map_err(|e| error(ADMIN, address, e))?;
        let admin_socket = config
            .admin
            .socket
            .as_deref()
            .map(bind_admin_socket)
            .transpose()?;
        let http = bind_optional(HTTP, config.http.listen)?;
        let load = bind_optional(LOAD, config.http.load)?;
        let statvent = bind_optional(STATVENT, config.http.statvent)?;
        let unix = match &statsd.unix_socket {
            Some(path) => Some((bind_unix(path, statsd.rcvbuf)?, path.clone())),
            None => None,
        };
        Ok(Self {
            udp,
            tcp,
            admin,
            admin_socket,
            http,
            load,
            statvent,
            unix,
            gstats: GstatsSockets::default(),
        })
    }

    /// The statsd address actually bound (UDP and TCP share it).
    pub fn statsd_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    pub fn admin_addr(&self) -> io::Result<SocketAddr> {
        self.admin.local_addr()
    }

    /// The HTTP address actually bound, or `None` when HTTP is off.
    pub fn http_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.http.as_ref().map(TcpListener::local_addr).transpose()
    }

    /// The load API's address actually bound, if it has one.
    pub fn load_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.load.as_ref().map(TcpListener::local_addr).transpose()
    }

    /// statvent's web service address actually bound, if it has one.
    pub fn statvent_addr(&self) -> io::Result<Option<SocketAddr>> {
        self.statvent
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
    }
}

/// A listener for an optional service, when it has an address.
fn bind_optional(
    what: Listener,
    address: Option<SocketAddr>,
) -> Result<Option<TcpListener>, BindError> {
    address
        .map(|a| TcpListener::bind(a).map_err(|e| error(what, a, e)))
        .transpose()
}

fn error((what, setting): Listener, address: impl ToString, source: io::Error) -> BindError {
    BindError {
        what,
        setting: setting.key(),
        address: address.to_string(),
        source,
    }
}

fn bind_statsd(config: &StatsdConfig) -> Result<(Vec<UdpSocket>, TcpListener), BindError> {
    // With port 0 the kernel picks a UDP port that TCP may not have free;
    // try a few times before giving up.
    let attempts = if config.listen.port() == 0 { 50 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let first = udp_socket(config.listen, config.rcvbuf)
            .map_err(|e| error(STATSD_UDP, config.listen, e))?;
        let addr = first
            .local_addr()
            .map_err(|e| error(STATSD_UDP, config.listen, e))?;
        match TcpListener::bind(addr) {
            Ok(tcp) => {
                let mut udp = vec![first];
                for _ in 1..config.receivers {
                    udp.push(
                        udp_socket(addr, config.rcvbuf).map_err(|e| error(STATSD_UDP, addr, e))?,
                    );
                }
                return Ok((udp, tcp));
            }
            Err(e) => last = Some(error(STATSD_TCP, addr, e)),
        }
    }
    Err(last.unwrap_or_else(|| error(STATSD_TCP, config.listen, io::ErrorKind::AddrInUse.into())))
}

/// A UDP socket with SO_REUSEPORT (so every receiver thread can have its
/// own and the kernel spreads datagrams over them) and a large receive
/// buffer (the cheapest defence against loss in bursts).
fn udp_socket(addr: SocketAddr, rcvbuf: usize) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    // The kernel caps this at net.core.rmem_max; a smaller buffer is not an error.
    let _ = socket.set_recv_buffer_size(rcvbuf);
    socket.set_read_timeout(Some(RECEIVE_TIMEOUT))?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Makes way for a socket at `path`: a socket file left by a dead server
/// is removed; anything else (a live socket, a file that is not a socket:
/// a mistyped path must not delete somebody's file) is an error.
fn clear_stale_socket(path: &Path, in_use: impl Fn(&Path) -> bool) -> io::Result<()> {
    let Ok(existing) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !std::os::unix::fs::FileTypeExt::is_socket(&existing.file_type()) {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a file that is not a socket is in the way",
        ));
    }
    if in_use(path) {
        return Err(io::ErrorKind::AddrInUse.into());
    }
    std::fs::remove_file(path)
}

fn bind_unix(path: &PathBuf, rcvbuf: usize) -> Result<UnixDatagram, BindError> {
    let fail = |e| error(STATSD_UNIX, path.display(), e);
    let in_use = |p: &Path| {
        UnixDatagram::unbound()
            .and_then(|probe| probe.connect(p))
            .is_ok()
    };
    clear_stale_socket(path, in_use).map_err(fail)?;
    let socket = UnixDatagram::bind(path).map_err(fail)?;
    let sock = socket2::SockRef::from(&socket);
    let _ = sock.set_recv_buffer_size(rcvbuf);
    socket
        .set_read_timeout(Some(RECEIVE_TIMEOUT))
        .map_err(fail)?;
    Ok(socket)
}

/// The admin port's Unix socket, readable and writable by the server's
/// user only (connections are checked for that user too).
fn bind_admin_socket(path: &Path) -> Result<UnixListener, BindError> {
    let fail = |e| error(ADMIN_UNIX, path.display(), e);
    clear_stale_socket(path, |p| UnixStream::connect(p).is_ok()).map_err(fail)?;
    let listener = UnixListener::bind(path).map_err(fail)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    Ok(listener)
}
