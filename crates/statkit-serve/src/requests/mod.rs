//! The request view inside the server (gstats' collector): it observes the
//! receivers' tables as the pipeline drains them, and is read by the admin
//! port's `requests` commands, the HTTP `/_status` route and, when
//! configured, gstats' ZeroMQ endpoints.
//!
//! Receivers are untouched: they aggregate request names like any other.
//! The view sees a table's names just before the aggregator absorbs it (at
//! each flush, and when a reader asks), so a request is seen once, and a
//! reading is never older than the flush interval.

mod feed;
pub(crate) mod settings;
mod wire;

use std::sync::{Arc, Mutex};

use statkit_agg::Table;
use statkit_encode::gstats as format;
use statkit_requests::{PrefixReport, RequestView};

pub use settings::RequestsConfig;
pub use wire::{GstatsSockets, WireBindError};

use crate::pipeline::{Observer, Pipeline};
use crate::support::{lock, unix_now};

/// The view, as the pipeline's observer.
#[derive(Debug)]
pub(crate) struct Requests {
    view: Mutex<RequestView>,
}

impl Requests {
    pub(crate) fn new(settings: statkit_requests::Settings) -> Self {
        Self {
            view: Mutex::new(RequestView::new(settings)),
        }
    }
}

impl Observer for Requests {
    fn observe(&self, table: &Table, now: u64) {
        feed::observe(&mut lock(&self.view), table, now);
    }
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

/// The view's readers' handle: the view and the pipeline that feeds it, so
/// every answer includes what the receivers hold right now.
#[derive(Clone, Debug)]
pub(crate) struct RequestsReader {
    requests: Arc<Requests>,
    pipeline: Arc<Pipeline>,
}

impl RequestsReader {
    pub(crate) fn new(requests: Arc<Requests>, pipeline: Arc<Pipeline>) -> Self {
        Self { requests, pipeline }
    }

    /// Every prefix as of now.
    fn report(&self) -> Vec<PrefixReport> {
        self.pipeline.drain();
        lock(&self.requests.view).report(unix_now())
    }

    /// The JSON answer to `query`.
    pub(crate) fn answer(&self, query: Query) -> String {
        match query {
            Query::Stats => format::stats_json(&self.report()),
            Query::Rtimes => format::rtimes_json(&self.report()),
            Query::View => {
                let reports = self.report();
                format::view_json(&reports, &lock(&self.requests.view).counts())
            }
            Query::Reset => {
                // What the receivers hold belongs to before the reset.
                self.pipeline.drain();
                lock(&self.requests.view).reset();
                "null".to_owned()
            }
        }
    }

    /// Runs `change` on the view itself (gstats' PULL endpoint feeds it
    /// directly).
    pub(crate) fn change<T>(&self, change: impl FnOnce(&mut RequestView) -> T) -> T {
        change(&mut lock(&self.requests.view))
    }
}
