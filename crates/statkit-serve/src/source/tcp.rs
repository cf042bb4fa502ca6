//! statsd over TCP: newline-framed lines from many clients at once.
//!
//! Every connection reads into its own buffer and hands whole lines to the
//! table shared by all TCP clients (locked once per read). A line longer
//! than the datagram limit is counted as oversized and skipped up to its
//! newline; connections past the limit are closed at once, counted and
//! logged (at most once a minute), and a connection idle for
//! `tcp_idle_timeout` is closed. At
//! shutdown every connection reads what the kernel already holds for it
//! before the final flush, which waits for them all.

use std::sync::Arc;

use statkit_agg::Table;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::SourceCounts;
use crate::pipeline::Intake;
use crate::support::Tally;

/// What bounds the TCP clients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The longest line taken whole.
    pub max_line: usize,
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed.
    pub idle_timeout: std::time::Duration,
}

/// Accepts connections until `stop` changes.
pub(crate) async fn serve(
    listener: TcpListener,
    intake: Intake,
    limits: Limits,
    counts: Arc<SourceCounts>,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refused = Tally::new("statsd TCP connections refused (tcp_max_connections open)");
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set stays as small as the load.
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        counts.refuse_tcp();
                        refused.note();
                        continue;
                    };
                    let (intake, stop) = (intake.clone(), stop.clone());
                    connections.spawn(async move {
                        connection(stream, &intake, limits, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    tracing::warn!("statsd tcp accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    // Returning only once every connection has handed over its last lines
    // lets the caller make the final flush after them.
    while connections.join_next().await.is_some() {}
}

async fn connection(
    mut stream: TcpStream,
    intake: &Intake,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut framer = Framer::new(limits.max_line);
    loop {
        let read = tokio::select! {
            _ = stop.changed() => {
                drain(&stream, &mut framer, intake);
                break;
            }
            // A client that sends nothing for this long gives its slot back.
            _ = tokio::time::sleep(limits.idle_timeout) => break,
            read = stream.read_buf(framer.buffer()) => read,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(_) => intake.fill(|table| framer.feed(table)),
        }
    }
    // A last line without its newline still counts, as in a datagram.
    intake.fill(|table| framer.finish(table));
}

/// At shutdown: takes in what the client sent before it, without waiting
/// for more (bounded, in case a client keeps writing).
fn drain(stream: &TcpStream, framer: &mut Framer, intake: &Intake) {
    for _ in 0..1024 {
        match stream.try_read_buf(framer.buffer()) {
            Ok(0) | Err(_) => return,
            Ok(_) => intake.fill(|table| framer.feed(table)),
        }
    }
}

/// Splits a byte stream into whole lines for a table.
pub(crate) struct Framer {
    pending: Vec<u8>,
    max_line: usize,
    /// Skipping the rest of an over-long line until its newline.
    discarding: bool,
}

impl Framer {
    pub(crate) fn new(max_line: usize) -> Self {
        Self {
            pending: Vec::with_capacity(4096),
            max_line,
            discarding: false,
        }
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Ingests every complete line received so far.
    pub(crate) fn feed(&mut self, table: &mut Table) {
        if self.discarding {
            match self.pending.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    self.pending.drain(..=end);
                    self.discarding = false;
                }
                None => {
                    self.pending.clear();
                    return;
                }
            }
        }
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n') {
            table.ingest(&self.pending[..last]);
            self.pending.drain(..=last);
        }
        if self.pending.len() > self.max_line {
            table.note_oversized();
            self.pending.clear();
            self.discarding = true;
        }
    }

    pub(crate) fn finish(&mut self, table: &mut Table) {
        if !self.discarding && !self.pending.is_empty() {
            table.ingest(&self.pending);
        }
        self.pending.clear();
    }

    #[cfg(test)]
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::Framer;
    use statkit_agg::{Aggregator, Options, Table, TableOptions};

    fn counters(table: &mut Table) -> Vec<(String, f64)> {
        let mut agg = Aggregator::new(Options::default());
        agg.absorb(table);
        agg.counters()
            .skip(3)
            .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), v))
            .collect()
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut table = Table::new(TableOptions::default());
        let mut f = Framer::new(100);
        f.push(b"a:1|c\nb:");
        f.feed(&mut table);
        f.push(b"2|c\nc:3");
        f.feed(&mut table);
        f.push(b"|c");
        f.finish(&mut table);
        assert_eq!(
            counters(&mut table),
            [("a".into(), 1.0), ("b".into(), 2.0), ("c".into(), 3.0)]
        );
    }

    #[test]
    fn over_long_lines_are_skipped_and_counted() {
        let mut table = Table::new(TableOptions::default());
        let mut f = Framer::new(10);
        f.push(b"x:1|c\nyyyyyyyyyyyyyyyyyyyy");
        f.feed(&mut table);
        f.push(b"yyyy:1|c\nz:1|c\n");
        f.feed(&mut table);
        assert_eq!(counters(&mut table), [("x".into(), 1.0), ("z".into(), 1.0)]);
    }
}
