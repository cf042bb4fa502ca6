//! The admin port, compatible with etsy statsd's management console.
//!
//! One command per line: `help`, `config`, `stats`, `counters`, `gauges`,
//! `timers`, `sets`, `delcounters|delgauges|deltimers|delsets NAME...`
//! (a name ending in `.*` deletes a whole folder), `health [up|down]` and
//! `quit`; and statkit's `requests [stats|rtimes|view|reset|quit]` for the
//! request view (gstats' collector commands; `requests quit` stops the
//! server). Commands that change state (`health up|down`, the deletes,
//! `requests reset|quit`) and `quit` are refused to clients that are not on a loopback address. At
//! most 64 sessions are open at once, and one idle for ten minutes closes.

mod command;
pub(crate) mod settings;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::pipeline::Pipeline;
use crate::requests::RequestsReader;
use crate::settings::Settings;
use crate::sink::Fanout;
use crate::status::Status;
use command::Reply;

/// What the admin port reads and changes.
#[derive(Clone, Debug)]
pub(crate) struct Admin {
    pub pipeline: Arc<Pipeline>,
    pub status: Arc<Status>,
    pub sinks: Fanout,
    pub requests: RequestsReader,
    pub settings: Arc<Settings>,
}

/// Longest command line accepted; longer ones close the connection.
const MAX_COMMAND: usize = 64 * 1024;
/// Admin sessions at once; more are closed on arrival.
const MAX_CONNECTIONS: usize = 64;
/// A session that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(600);

/// Serves admin connections until `stop` changes.
pub(crate) async fn serve(listener: TcpListener, admin: Admin, mut stop: watch::Receiver<bool>) {
    let admin = Arc::new(admin);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        tracing::warn!("admin port: {MAX_CONNECTIONS} sessions open, refusing {peer}");
                        continue;
                    };
                    let (admin, stop) = (admin.clone(), stop.clone());
                    tokio::spawn(async move {
                        connection(stream, peer, admin, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!("admin accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    admin: Arc<Admin>,
    mut stop: watch::Receiver<bool>,
) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_COMMAND as u64);
        let read = tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(IDLE) => return,
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
        let loopback = peer.ip().is_loopback();
        let Ok(reply) =
            tokio::task::spawn_blocking(move || command::respond(&admin, &text, loopback)).await
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
