//! gstats' own wire protocol, opt-in, so that gstats' hooks, gstatsctl,
//! munin plug-ins and WSGI app work unchanged against statkit:
//!
//! - a ZeroMQ PULL socket (gstats-collectd's `--stats-address`) taking the
//!   hooks' two-frame messages `[prefix, ms]`: an empty prefix is
//!   `default`; an empty (or zero) `ms` is a request started, any other
//!   number a request finished in that many milliseconds;
//! - a ZeroMQ REP socket (`--comm-address`) answering `STATS`, `RTIMES`
//!   (JSON), `RESET` (`null`), `QUIT` (no answer: the server stops) and
//!   the bare bytes `ERROR` to anything else, case included.
//!
//! Both are served on the async runtime by the pure-Rust `zeromq` crate.

use std::sync::Arc;

use statkit_requests::names::Durations;
use statkit_requests::{Reading, Signal};
use tokio::sync::watch;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

use super::{Query, RequestsReader};
use crate::status::Status;
use crate::support::unix_now;

/// A gstats endpoint that cannot be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot bind the gstats {which} endpoint {endpoint}: {source}")]
pub struct WireBindError {
    which: &'static str,
    endpoint: String,
    source: zeromq::ZmqError,
}

/// The bound gstats endpoints, when configured.
#[derive(Default)]
pub struct GstatsSockets {
    pull: Option<(zeromq::PullSocket, String)>,
    rep: Option<(zeromq::RepSocket, String)>,
}

impl std::fmt::Debug for GstatsSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GstatsSockets")
            .field("pull", &self.pull_endpoint())
            .field("rep", &self.rep_endpoint())
            .finish()
    }
}

impl GstatsSockets {
    /// Binds the endpoints `config` asks for (port 0 picks a free port).
    pub async fn bind(config: &super::RequestsConfig) -> Result<Self, WireBindError> {
        let mut sockets = GstatsSockets::default();
        if let Some(endpoint) = &config.gstats_pull {
            let mut socket = zeromq::PullSocket::new();
            let bound = bind(&mut socket, "PULL", endpoint).await?;
            sockets.pull = Some((socket, bound));
        }
        if let Some(endpoint) = &config.gstats_rep {
            let mut socket = zeromq::RepSocket::new();
            let bound = bind(&mut socket, "REP", endpoint).await?;
            sockets.rep = Some((socket, bound));
        }
        Ok(sockets)
    }

    /// Where the PULL socket listens, as a ZeroMQ endpoint.
    pub fn pull_endpoint(&self) -> Option<&str> {
        self.pull.as_ref().map(|(_, e)| e.as_str())
    }

    /// Where the REP socket listens.
    pub fn rep_endpoint(&self) -> Option<&str> {
        self.rep.as_ref().map(|(_, e)| e.as_str())
    }

    /// Serves both until `stop` changes; a `QUIT` asks `status` to stop
    /// the server.
    pub(crate) fn spawn(
        self,
        reader: &RequestsReader,
        status: &Arc<Status>,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if let Some((socket, _)) = self.pull {
            tasks.push(tokio::spawn(pull(socket, reader.clone(), stop.clone())));
        }
        if let Some((socket, _)) = self.rep {
            let (reader, status) = (reader.clone(), status.clone());
            tasks.push(tokio::spawn(rep(socket, reader, status, stop.clone())));
        }
        tasks
    }
}

async fn bind(
    socket: &mut impl Socket,
    which: &'static str,
    endpoint: &str,
) -> Result<String, WireBindError> {
    match socket.bind(endpoint).await {
        Ok(bound) => Ok(bound.to_string()),
        Err(source) => Err(WireBindError {
            which,
            endpoint: endpoint.to_owned(),
            source,
        }),
    }
}

/// What a hook's message says.
#[derive(Debug, PartialEq)]
enum Event<'a> {
    Started(&'a str),
    Finished(&'a str, f64),
}

/// The longest prefix taken, in bytes (statsd keys' default limit): the
/// view keeps every prefix it sees, so their size must be bounded too.
const MAX_PREFIX: usize = 4096;

/// Reads `[prefix, ms-or-empty]` as gstats-collectd did; `None` for a
/// message it would have choked on (a missing frame, a payload that is not
/// a finite number, a prefix that is not UTF-8) or an overlong prefix.
fn event(message: &ZmqMessage) -> Option<Event<'_>> {
    let prefix = message.get(0).filter(|p| p.len() <= MAX_PREFIX)?;
    let prefix = std::str::from_utf8(prefix).ok()?;
    let prefix = if prefix.is_empty() { "default" } else { prefix };
    let payload = std::str::from_utf8(message.get(1)?).ok()?.trim();
    if payload.is_empty() {
        return Some(Event::Started(prefix));
    }
    let ms: f64 = payload.parse().ok().filter(|ms: &f64| ms.is_finite())?;
    // Python's truth: a zero duration is a start.
    Some(if ms == 0.0 {
        Event::Started(prefix)
    } else {
        Event::Finished(prefix, ms)
    })
}

async fn pull(
    mut socket: zeromq::PullSocket,
    reader: RequestsReader,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let message = tokio::select! {
            _ = stop.changed() => return,
            message = socket.recv() => message,
        };
        let Ok(message) = message else { continue };
        let now = unix_now();
        reader.change(|view| match event(&message) {
            Some(Event::Started(prefix)) => {
                view.apply(prefix, Signal::Started, Reading::Counter(1.0), now);
            }
            Some(Event::Finished(prefix, ms)) => {
                let durations = Durations::Exact(std::slice::from_ref(&ms));
                view.apply(prefix, Signal::Finished, Reading::Timer(durations), now);
            }
            None => view.refuse(),
        });
    }
}

/// The answer to one REP request; `None` for `QUIT`.
fn reply(reader: &RequestsReader, request: &[u8]) -> Option<Vec<u8>> {
    let query = match request {
        b"STATS" => Query::Stats,
        b"RTIMES" => Query::Rtimes,
        b"RESET" => Query::Reset,
        b"QUIT" => return None,
        _ => return Some(b"ERROR".to_vec()),
    };
    Some(reader.answer(query).into_bytes())
}

async fn rep(
    mut socket: zeromq::RepSocket,
    reader: RequestsReader,
    status: Arc<Status>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let request = tokio::select! {
            _ = stop.changed() => return,
            request = socket.recv() => request,
        };
        let Ok(request) = request else { continue };
        let first = request.get(0).map(|f| f.to_vec()).unwrap_or_default();
        // Answers lock the aggregator, which a flush holds.
        let reader_now = reader.clone();
        let Ok(answer) = tokio::task::spawn_blocking(move || reply(&reader_now, &first)).await
        else {
            return;
        };
        let Some(answer) = answer else {
            // gstats' QUIT: the collector exits without answering.
            status.quit();
            return;
        };
        if let Err(e) = socket.send(ZmqMessage::from(answer)).await {
            tracing::debug!("gstats REP: cannot answer: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(frames: &[&str]) -> ZmqMessage {
        let mut frames = frames.iter();
        let first = frames.next().map_or(Vec::new(), |f| f.as_bytes().to_vec());
        let mut message = ZmqMessage::from(first);
        for frame in frames {
            message.push_back(frame.as_bytes().to_vec().into());
        }
        message
    }

    #[test]
    fn hook_messages_as_gstats_collectd_reads_them() {
        assert_eq!(
            event(&message(&["my_app", ""])),
            Some(Event::Started("my_app"))
        );
        assert_eq!(event(&message(&["", ""])), Some(Event::Started("default")));
        assert_eq!(event(&message(&["raw", "0"])), Some(Event::Started("raw")));
        assert_eq!(
            event(&message(&["raw", "0.0"])),
            Some(Event::Started("raw"))
        );
        assert_eq!(
            event(&message(&["raw", "12.5"])),
            Some(Event::Finished("raw", 12.5))
        );
        assert_eq!(
            event(&message(&["a", "20.1570987701"])),
            Some(Event::Finished("a", 20.1570987701))
        );
        assert_eq!(event(&message(&["a"])), None);
        assert_eq!(event(&message(&["a", "fast"])), None);
        assert_eq!(event(&message(&["a", "nan"])), None);
        assert_eq!(event(&message(&[&"x".repeat(MAX_PREFIX + 1), ""])), None);
    }
}
