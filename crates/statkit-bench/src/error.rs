//! The one error type of this crate.
//!
//! Every operation here either rejects its settings before any traffic is
//! sent or fails on a socket; the variants say which, and the messages say
//! what to change.

use std::io;
use std::net::SocketAddr;

/// Why a load run, a receiver or the null server could not do its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A traffic mix (`c=50,sc=10,...`) that cannot be parsed: an unknown
    /// kind, a weight that is not a number, or weights that add up to 0.
    #[error("invalid mix {mix:?}: {reason} (expected e.g. c=50,sc=10,ms=20,g=10,s=10)")]
    Mix {
        /// The text as given.
        mix: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting out of its range, e.g. a sample rate of 0 or a datagram
    /// size too small for one line.
    #[error("invalid setting: {0}")]
    Config(String),
    /// An address outside the loopback range. A load generator aimed at a
    /// real host by a typo is an outage, so this crate talks to loopback
    /// only (127.0.0.0/8 and ::1).
    #[error("{0} is not a loopback address: statkit bench only talks to 127.0.0.0/8 or ::1")]
    NotLoopback(SocketAddr),
    /// A socket operation failed; `what` names the operation and address.
    #[error("{what}: {source}")]
    Io {
        /// The operation that failed, e.g. `binding graphite receiver on 127.0.0.1:2003`.
        what: String,
        /// The error the OS returned.
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// Wraps an I/O error with the operation it interrupted.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Rejects addresses outside the loopback range (see [`Error::NotLoopback`]).
pub fn require_loopback(addr: SocketAddr) -> Result<SocketAddr, Error> {
    if addr.ip().is_loopback() {
        Ok(addr)
    } else {
        Err(Error::NotLoopback(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        let ok: SocketAddr = "127.0.0.2:8125".parse().unwrap();
        assert_eq!(require_loopback(ok).unwrap(), ok);
        let six: SocketAddr = "[::1]:8125".parse().unwrap();
        assert_eq!(require_loopback(six).unwrap(), six);
        let far: SocketAddr = "10.0.0.1:8125".parse().unwrap();
        assert!(matches!(require_loopback(far), Err(Error::NotLoopback(a)) if a == far));
    }
}
