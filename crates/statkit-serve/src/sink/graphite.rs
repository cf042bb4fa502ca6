//! The Graphite plaintext sink: one long-lived TCP connection per
//! destination, opened again after a failure (the sink runner retries with
//! backoff). A flush is encoded as etsy's Graphite backend writes it
//! (`statkit_encode::graphite`) and written 64 KiB at a time, so it is
//! never held whole as text.

use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_agg::Snapshot;
use statkit_encode::graphite::{Encoder, Names, Telemetry};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{Attempt, Sink, SinkError};
use crate::support::unix_now;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes encoded and written at a time.
const PIECE: usize = 64 * 1024;

/// One Graphite destination.
pub(crate) struct Graphite {
    names: Names,
    link: Link,
    /// What the sink reports about itself in `graphiteStats`, as etsy does.
    telemetry: Telemetry,
    /// The piece being written, reused from flush to flush.
    piece: Vec<u8>,
}

/// The connection to the destination, opened when needed.
struct Link {
    address: String,
    connection: Option<TcpStream>,
}

impl Graphite {
    /// A sink for `address`, naming series with `names`, for a server
    /// started at `started` (Unix seconds).
    pub(crate) fn new(address: String, names: Names, started: u64) -> Self {
        Self {
            names,
            link: Link {
                address,
                connection: None,
            },
            telemetry: Telemetry {
                last_flush: started,
                ..Telemetry::default()
            },
            piece: Vec::with_capacity(PIECE + 4096),
        }
    }
}

impl Link {
    /// Writes the whole flush a piece at a time; returns its length in
    /// bytes.
    async fn send_all(
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
            self.send(piece).await?;
            length += piece.len() as u64;
        }
    }
    async fn send(&mut self, payload: &[u8]) -> std::io::Result<()> {
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
}

impl Sink for Graphite {
    async fn deliver(
        &mut self,
        snapshot: &Arc<Snapshot>,
        attempt: Attempt,
    ) -> Result<(), SinkError> {
        let began = Instant::now();
        self.telemetry.dropped_flushes = attempt.dropped;
        // A flush cut short by a failure is sent again whole on the next
        // connection: Graphite keeps one value per series and timestamp,
        // so the lines sent twice change nothing.
        let mut encoder = Encoder::new(snapshot, &self.names, self.telemetry);
        match self.link.send_all(&mut encoder, &mut self.piece).await {
            Ok(length) => {
                self.telemetry.flush_time = began.elapsed().as_millis() as u64;
                self.telemetry.flush_length = length;
                self.telemetry.last_flush = unix_now();
                Ok(())
            }
            Err(e) => {
                self.telemetry.last_exception = unix_now();
                self.link.connection = None;
                Err(e.into())
            }
        }
    }
}
