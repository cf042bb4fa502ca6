//! The statsd names the request view reads.
//!
//! statkit's hooks (`python/statkit/gstats.py`) send, for a prefix `P`:
//!
//! | name | type | meaning |
//! | --- | --- | --- |
//! | `statkit.requests.P.started` | counter | a request began |
//! | `statkit.requests.P.duration` | timer (ms) | a request finished, and took this long |
//! | `statkit.requests.P.status.NNN` | counter | a request finished with HTTP status NNN |
//!
//! gunicorn's own statsd instrumentation (`--statsd-host`, optional
//! `--statsd-prefix Q`) sends `[Q.]gunicorn.requests` (a counter, once a
//! request is done), `[Q.]gunicorn.request.duration` (timer, ms),
//! `[Q.]gunicorn.request.status.NNN` (counter) and `[Q.]gunicorn.workers`
//! (gauge). Its prefix in the view is `Q`, or `gunicorn` without one.
//! gunicorn counts a request only when it is done, so its requests count
//! as started and finished together and never show as in progress.
//!
//! A prefix may contain dots: names are taken apart from both ends.

/// The head of every name the hooks send.
pub const HOOKS_HEAD: &str = "statkit.requests.";

/// What a name says about its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Requests began (a counter).
    Started,
    /// Requests ended, with their durations (a timer).
    Finished,
    /// Requests ended with this HTTP status (a counter).
    Status(u16),
    /// The number of worker processes (a gauge).
    Workers,
}

/// A name's value as the server aggregated it since the last reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading<'a> {
    /// A counter's sum (already divided by its sample rates).
    Counter(f64),
    /// A timer's values, exactly or summarized.
    Timer(Durations<'a>),
    /// A gauge's current value.
    Gauge(f64),
}

/// The durations a timer collected, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Durations<'a> {
    /// Every value, in arrival order.
    Exact(&'a [f64]),
    /// Too many to keep one by one: their count and sums.
    Summary {
        count: f64,
        sum: f64,
        sum_squares: f64,
    },
}

/// The prefix and signal of `name`, or `None` when the view ignores it.
/// The reading's type must match the signal's (a `started` sent as a timer
/// is not a start): see [`Signal::accepts`].
pub fn classify(name: &[u8]) -> Option<(&str, Signal)> {
    if !candidate(name) {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    if let Some(rest) = name.strip_prefix(HOOKS_HEAD) {
        return hooks(rest);
    }
    gunicorn(name)
}

impl Signal {
    /// Whether a reading of this type carries this signal.
    pub fn accepts(self, reading: &Reading<'_>) -> bool {
        matches!(
            (self, reading),
            (Signal::Started | Signal::Status(_), Reading::Counter(_))
                | (Signal::Finished, Reading::Timer(_))
                | (Signal::Workers, Reading::Gauge(_))
        )
    }
}

/// A quick look at the ends of a name, so the many names that are not the
/// view's cost a few byte comparisons each at every flush.
fn candidate(name: &[u8]) -> bool {
    const STATUS: &[u8] = b"gunicorn.request.status.";
    name.starts_with(HOOKS_HEAD.as_bytes())
        || name.ends_with(b"gunicorn.requests")
        || name.ends_with(b"gunicorn.request.duration")
        || name.ends_with(b"gunicorn.workers")
        || name
            .len()
            .checked_sub(3)
            .is_some_and(|end| name[..end].ends_with(STATUS))
}

fn hooks(rest: &str) -> Option<(&str, Signal)> {
    if let Some(prefix) = rest.strip_suffix(".started") {
        return nonempty(prefix, Signal::Started);
    }
    if let Some(prefix) = rest.strip_suffix(".duration") {
        return nonempty(prefix, Signal::Finished);
    }
    let (prefix, code) = status(rest)?;
    nonempty(prefix, Signal::Status(code))
}

fn gunicorn(name: &str) -> Option<(&str, Signal)> {
    const TAILS: [(&str, Signal); 3] = [
        ("gunicorn.requests", Signal::Started),
        ("gunicorn.request.duration", Signal::Finished),
        ("gunicorn.workers", Signal::Workers),
    ];
    for (tail, signal) in TAILS {
        if let Some(prefix) = gunicorn_prefix(name, tail) {
            return Some((prefix, signal));
        }
    }
    let (head, code) = status(name)?;
    Some((
        gunicorn_prefix(head, "gunicorn.request")?,
        Signal::Status(code),
    ))
}

/// `Q` of `Q.tail`, or `gunicorn` for the bare tail.
fn gunicorn_prefix<'a>(name: &'a str, tail: &str) -> Option<&'a str> {
    if name == tail {
        return Some("gunicorn");
    }
    let prefix = name.strip_suffix(tail)?.strip_suffix('.')?;
    (!prefix.is_empty()).then_some(prefix)
}

/// Splits `X.status.NNN` into `X` and the code.
fn status(name: &str) -> Option<(&str, u16)> {
    let (head, code) = name.rsplit_once(".status.")?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head, code.parse().ok()?))
}

fn nonempty(prefix: &str, signal: Signal) -> Option<(&str, Signal)> {
    (!prefix.is_empty()).then_some((prefix, signal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_are_safe(name in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = classify(&name);
        }

        /// Every prefix the hooks can send (after statsd key sanitizing)
        /// comes back whole, dots included.
        #[test]
        fn hooks_prefixes_round_trip(prefix in "[A-Za-z0-9_.-]{1,40}", code in 100u16..1000) {
            let started = format!("{HOOKS_HEAD}{prefix}.started");
            prop_assert_eq!(classify(started.as_bytes()), Some((prefix.as_str(), Signal::Started)));
            let duration = format!("{HOOKS_HEAD}{prefix}.duration");
            prop_assert_eq!(classify(duration.as_bytes()), Some((prefix.as_str(), Signal::Finished)));
            let status = format!("{HOOKS_HEAD}{prefix}.status.{code}");
            prop_assert_eq!(classify(status.as_bytes()), Some((prefix.as_str(), Signal::Status(code))));
        }
    }

    fn c(name: &str) -> Option<(&str, Signal)> {
        classify(name.as_bytes())
    }

    #[test]
    fn hooks_names() {
        assert_eq!(
            c("statkit.requests.my_app.started"),
            Some(("my_app", Signal::Started))
        );
        assert_eq!(
            c("statkit.requests.other.App-1.duration"),
            Some(("other.App-1", Signal::Finished))
        );
        assert_eq!(
            c("statkit.requests.a.b.status.404"),
            Some(("a.b", Signal::Status(404)))
        );
        assert_eq!(c("statkit.requests..started"), None);
        assert_eq!(c("statkit.requests.started"), None);
        assert_eq!(c("statkit.requests.x.status.4040"), None);
        assert_eq!(c("statkit.requests.x.other"), None);
    }

    #[test]
    fn gunicorn_names() {
        assert_eq!(c("gunicorn.requests"), Some(("gunicorn", Signal::Started)));
        assert_eq!(
            c("shop.gunicorn.request.duration"),
            Some(("shop", Signal::Finished))
        );
        assert_eq!(
            c("shop.eu.gunicorn.request.status.200"),
            Some(("shop.eu", Signal::Status(200)))
        );
        assert_eq!(
            c("gunicorn.request.status.503"),
            Some(("gunicorn", Signal::Status(503)))
        );
        assert_eq!(c("gunicorn.workers"), Some(("gunicorn", Signal::Workers)));
        assert_eq!(c("xgunicorn.requests"), None);
        assert_eq!(c(".gunicorn.requests"), None);
        assert_eq!(c("gunicorn.log.error"), None);
        assert_eq!(c("api.requests"), None);
    }

    #[test]
    fn readings_must_match_their_signal() {
        assert!(Signal::Started.accepts(&Reading::Counter(1.0)));
        assert!(!Signal::Started.accepts(&Reading::Gauge(1.0)));
        assert!(Signal::Finished.accepts(&Reading::Timer(Durations::Exact(&[]))));
        assert!(!Signal::Finished.accepts(&Reading::Counter(1.0)));
        assert!(Signal::Workers.accepts(&Reading::Gauge(1.0)));
    }
}
