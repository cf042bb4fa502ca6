//! The request view inside the server (gstats' collector): fed from the
//! receivers' tables when the aggregator drains them, read by the admin
//! port's `requests` commands, the HTTP `/_status` route and, when
//! configured, gstats' ZeroMQ endpoints.
//!
//! Receivers are untouched: they aggregate request names like any other.
//! The view looks at a table's names just before the aggregator absorbs
//! it (at each flush, and when a reader asks), so a request is seen once,
//! and a reading is never older than the flush interval.

mod config;
mod feed;
mod wire;

pub use config::{RawRequests, RequestsConfig};
pub(crate) use feed::observe;
pub use wire::{GstatsSockets, WireBindError};

use statkit_encode::gstats as format;
use statkit_requests::PrefixReport;

use crate::source::lock;
use crate::state::{unix_now, Shared};

/// Every prefix as of now, including what the receivers hold right now.
pub(crate) fn report(shared: &Shared) -> Vec<PrefixReport> {
    {
        let mut aggregator = lock(&shared.aggregator);
        shared.absorb_all(&mut aggregator);
    }
    lock(&shared.requests).report(unix_now())
}

/// The commands gstats' collector answered, as statkit answers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    /// `STATS`: `{prefix: {started, finished, processing_time: {avg, std}}}`.
    Stats,
    /// `RTIMES`: `{prefix: [ms, ...]}`.
    Rtimes,
    /// statkit's fuller view, with rates, statuses and workers.
    View,
    /// `RESET`: forget every prefix; answers `null`.
    Reset,
}

/// The JSON answer to `query`.
pub(crate) fn answer(shared: &Shared, query: Query) -> String {
    match query {
        Query::Stats => format::stats_json(&report(shared)),
        Query::Rtimes => format::rtimes_json(&report(shared)),
        Query::View => {
            let reports = report(shared);
            format::view_json(&reports, &lock(&shared.requests).counts())
        }
        Query::Reset => {
            {
                // What the receivers hold belongs to before the reset.
                let mut aggregator = lock(&shared.aggregator);
                shared.absorb_all(&mut aggregator);
            }
            lock(&shared.requests).reset();
            "null".to_owned()
        }
    }
}
