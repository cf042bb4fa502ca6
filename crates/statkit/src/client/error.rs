//! The two ways the client can fail, both outside the metric calls
//! themselves: building it, and handing it a raw line.

use std::io;

use statkit_wire::statsd::ParseError;

/// Why [`ClientBuilder::build`](super::ClientBuilder::build) failed. A
/// server that is not listening is not one of them: that is found out, and
/// counted, when metrics are sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The server address is not `host:port`, or the host name did not
    /// resolve. Check the spelling, or use an IP address.
    #[error("cannot resolve statsd server address {address:?} (expected host:port)")]
    Resolve { address: String, source: io::Error },
    /// The host name resolved, but to no address at all.
    #[error("statsd server address {address:?} resolved to no address")]
    NoAddress { address: String },
    /// The operating system refused a socket (descriptor limit, sandbox).
    #[error("cannot open a socket for statsd server {address}")]
    Socket { address: String, source: io::Error },
    /// The background flush thread could not be started.
    #[error("cannot start the statsd client's background flush thread")]
    Thread(#[source] io::Error),
}

/// Why [`Client::send_line`](super::Client::send_line) refused a line: it
/// would not reach the server as the one well-formed line it claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is empty; a server would ignore it.
    #[error("the line is empty")]
    Empty,
    /// The line holds a `\n` or `\r`, so it is really several lines; send
    /// them one at a time.
    #[error("the line contains a line break")]
    LineBreak,
    /// statkit's own parser rejects the line (or one of its values).
    #[error(transparent)]
    Parse(#[from] ParseError),
}
