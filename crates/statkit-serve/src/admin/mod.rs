//! The admin port, compatible with etsy statsd's management console.
//!
//! One command per line: `help`, `config`, `stats`, `counters`, `gauges`,
//! `timers`, `sets`, `delcounters|delgauges|deltimers|delsets NAME...`
//! (a name ending in `.*` deletes a whole folder), `health [up|down]` and
//! `quit`; and statkit's `requests [stats|rtimes|view|reset|quit]` for the
//! request view (gstats' collector commands; `requests quit` stops the
//! server).
//!
//! Commands that change the server (`health up|down`, the deletes,
//! `requests reset|quit`) are taken, by default, only from loopback
//! clients; `admin.changes` can limit them to the admin Unix socket
//! (`admin.socket`, the server's user only) or turn them off. Sessions are
//! bounded in number and closed when idle; refusals are counted and logged
//! at most once a minute.

mod command;
pub(crate) mod settings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};

use crate::pipeline::Pipeline;
use crate::requests::RequestsReader;
use crate::settings::Settings;
use crate::sink::Fanout;
use crate::status::Status;
use crate::store::History;
use crate::support::Tally;
use command::Reply;
use settings::{AdminConfig, Changes};

/// What the admin port reads and changes.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    pub pipeline: Arc<Pipeline>,
    pub status: Arc<Status>,
    pub sinks: Fanout,
    pub requests: RequestsReader,
    pub settings: Arc<Settings>,
    /// The history store, when kept: a deleted series leaves it too.
    pub history: Option<Arc<History>>,
}

/// Longest command line accepted; longer ones close the connection.
const MAX_COMMAND: usize = 64 * 1024;

/// Whether a session may change the server, and why not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum May {
    Change,
    /// A TCP client not on a loopback address.
    NotFromAfar,
    /// `admin.changes = socket`: only the admin socket may.
    OnlyOnTheSocket,
    /// `admin.changes = none`.
    Never,
}

impl May {
    fn for_tcp(changes: Changes, peer: SocketAddr) -> May {
        match changes {
            Changes::Loopback if peer.ip().is_loopback() => May::Change,
            Changes::Loopback => May::NotFromAfar,
            Changes::Socket => May::OnlyOnTheSocket,
            Changes::Nobody => May::Never,
        }
    }

    fn for_socket(changes: Changes) -> May {
        match changes {
            Changes::Nobody => May::Never,
            _ => May::Change,
        }
    }
}

/// Serves admin sessions on the TCP port and the admin socket until
/// `stop` changes.
pub(crate) async fn serve(
    listener: TcpListener,
    socket: Option<UnixListener>,
    admin: Admin,
    config: AdminConfig,
    mut stop: watch::Receiver<bool>,
) {
    let admin = Arc::new(admin);
    let slots = Arc::new(Semaphore::new(config.max_sessions));
    let refused = Tally::new(
        "admin sessions refused (admin.max_sessions open, or another user on the admin socket)",
    );
    loop {
        let session = tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted.map(|(stream, peer)| {
                let (reader, writer) = stream.into_split();
                (Box::new(reader) as Reader, Box::new(writer) as Writer, May::for_tcp(config.changes, peer))
            }),
            accepted = accept_socket(socket.as_ref()) => accepted.and_then(|stream| {
                same_user(&stream)?;
                let (reader, writer) = stream.into_split();
                Ok((Box::new(reader) as Reader, Box::new(writer) as Writer, May::for_socket(config.changes)))
            }),
        };
        let (reader, writer, may) = match session {
            Ok(session) => session,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                refused.note();
                continue;
            }
            Err(e) => {
                tracing::warn!("admin accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused.note();
            continue;
        };
        let (admin, stop, idle) = (admin.clone(), stop.clone(), config.idle_timeout);
        tokio::spawn(async move {
            connection(reader, writer, may, idle, admin, stop).await;
            drop(permit);
        });
    }
}

type Reader = Box<dyn AsyncRead + Unpin + Send>;
type Writer = Box<dyn AsyncWrite + Unpin + Send>;

/// The next admin socket connection; never, without a socket.
async fn accept_socket(socket: Option<&UnixListener>) -> std::io::Result<UnixStream> {
    match socket {
        Some(socket) => socket.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Only the server's own user (and root) may use the admin socket, whatever
/// its file's mode says.
fn same_user(stream: &UnixStream) -> std::io::Result<()> {
    let peer = stream.peer_cred()?.uid();
    // SAFETY: geteuid has no preconditions and cannot fail.
    let ours = unsafe { libc::geteuid() };
    if peer == ours || peer == 0 {
        Ok(())
    } else {
        Err(std::io::ErrorKind::PermissionDenied.into())
    }
}

async fn connection(
    reader: Reader,
    mut writer: Writer,
    may: May,
    idle: Duration,
    admin: Arc<Admin>,
    mut stop: watch::Receiver<bool>,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_COMMAND as u64);
        let read = tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(idle) => return,
            read = limited.read_until(b'\n', &mut line) => read,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") && line.len() >= MAX_COMMAND => {
                let _ = writer.write_all(b"ERROR: command too long\n").await;
                return;
            }
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        // Answers lock the aggregator (which a flush holds) and may format
        // every series: off the async workers, so ingest over TCP, the
        // sinks and HTTP never wait for them.
        let admin = admin.clone();
        let Ok(reply) =
            tokio::task::spawn_blocking(move || command::respond(&admin, &text, may)).await
        else {
            return;
        };
        match reply {
            Reply::Text(text) => {
                if writer.write_all(text.as_bytes()).await.is_err() {
                    return;
                }
            }
            Reply::Close => {
                let _ = writer.shutdown().await;
                return;
            }
        }
    }
}
