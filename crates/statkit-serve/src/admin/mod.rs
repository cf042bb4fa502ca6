//! The admin port, compatible with etsy statsd's management console.
//!
//! One command per line: `help`, `config`, `stats`, `counters`, `gauges`,
//! `timers`, `sets`, `delcounters|delgauges|deltimers|delsets NAME...`
//! (a name ending in `.*` deletes a whole folder), `health [up|down]` and
//! `quit`. Commands that change state (`health up|down`, the deletes) and
//! `quit` are refused to clients that are not on a loopback address.

mod command;
mod inspect;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::state::Shared;
use command::Reply;

/// Longest command line accepted; longer ones close the connection.
const MAX_COMMAND: usize = 64 * 1024;

/// Serves admin connections until `stop` changes.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (shared, stop) = (shared.clone(), stop.clone());
                    tokio::spawn(async move { connection(stream, peer, &shared, stop).await });
                }
                Err(e) => {
                    tracing::warn!("admin accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
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
        let text = String::from_utf8_lossy(&line);
        match command::respond(shared, &text, peer.ip().is_loopback()) {
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
