//! The Graphite plaintext sink: one long-lived TCP connection per
//! destination, re-opened with exponential backoff when it fails.
//!
//! A flush that could not be sent is retried (it stays at the head) while
//! newer flushes wait in the sink's bounded [`Queue`]; if Graphite stays
//! away long enough for the queue to fill, the oldest flushes are dropped
//! and counted there. Ingestion never waits for any of this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_encode::graphite::{Encoder, Names, Telemetry};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::queue::Queue;
use crate::state::unix_now;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// After shutdown starts, how long a sink keeps retrying its last flushes.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Bytes encoded and written at a time: a flush is never held whole.
const PIECE: usize = 64 * 1024;

/// Sends every flush from `queue` to `address` until the queue closes.
pub(crate) async fn run(address: String, names: Names, queue: Arc<Queue>, started: u64) {
    let mut sender = Sender {
        address,
        connection: None,
        backoff: BACKOFF_START,
        failing: false,
    };
    let mut telemetry = Telemetry {
        last_flush: started,
        ..Telemetry::default()
    };
    let mut piece = Vec::with_capacity(PIECE + 4096);
    let mut closing_since: Option<Instant> = None;
    let mut reported_drops = 0;
    while let Some(snapshot) = queue.pop().await {
        let drops = queue.dropped.load(std::sync::atomic::Ordering::Relaxed);
        telemetry.dropped_flushes = drops - reported_drops;
        loop {
            let began = Instant::now();
            // A flush cut short by a failure is sent again whole on the next
            // connection: Graphite keeps one value per series and timestamp,
            // so the lines sent twice change nothing.
            let mut encoder = Encoder::new(&snapshot, &names, telemetry);
            match sender.send_all(&mut encoder, &mut piece).await {
                Ok(length) => {
                    telemetry.flush_time = began.elapsed().as_millis() as u64;
                    telemetry.flush_length = length;
                    telemetry.last_flush = unix_now();
                    reported_drops = drops;
                    break;
                }
                Err(e) => {
                    telemetry.last_exception = unix_now();
                    if queue.is_closed()
                        && closing_since.get_or_insert_with(Instant::now).elapsed() > SHUTDOWN_GRACE
                    {
                        tracing::error!(sink = %queue.name(), "giving up on a flush at shutdown: {e}");
                        queue
                            .dropped
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    sender.wait().await;
                }
            }
        }
    }
}

/// The connection and its retry state.
struct Sender {
    address: String,
    connection: Option<TcpStream>,
    backoff: Duration,
    /// Whether the last attempt failed (so a failure is logged once and the
    /// recovery once, not every retry).
    failing: bool,
}

impl Sender {
    /// Writes the whole flush; returns its length in bytes.
    async fn send_all(
        &mut self,
        encoder: &mut Encoder<'_>,
        piece: &mut Vec<u8>,
    ) -> std::io::Result<u64> {
        let result = self.try_send_all(encoder, piece).await;
        match &result {
            Ok(_) => {
                if self.failing {
                    tracing::info!(graphite = %self.address, "graphite reachable again");
                }
                self.failing = false;
                self.backoff = BACKOFF_START;
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(graphite = %self.address, "cannot send to graphite, will retry with backoff: {e}");
                }
                self.failing = true;
                self.connection = None;
            }
        }
        result
    }

    async fn try_send_all(
        &mut self,
        encoder: &mut Encoder<'_>,
        piece: &mut Vec<u8>,
    ) -> std::io::Result<u64> {
        let mut length = 0;
        loop {
            piece.clear();
            if !encoder.fill(piece, PIECE) {
                return Ok(length);
            }
            self.try_send(piece).await?;
            length += piece.len() as u64;
        }
    }

    async fn try_send(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let timed_out = |what| std::io::Error::new(std::io::ErrorKind::TimedOut, what);
        if self.connection.is_none() {
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.address))
                .await
                .map_err(|_| timed_out("connect timed out"))??;
            // Connecting to a free local port can pick that same port as
            // the source and connect the socket to itself; everything sent
            // would vanish. Treat it as the refusal it stands for.
            if stream.local_addr()? == stream.peer_addr()? {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    "connected to itself",
                ));
            }
            stream.set_nodelay(true)?;
            self.connection = Some(stream);
        }
        let Some(stream) = self.connection.as_mut() else {
            return Err(timed_out("no connection"));
        };
        tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(payload))
            .await
            .map_err(|_| timed_out("write timed out"))?
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.backoff).await;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }
}
