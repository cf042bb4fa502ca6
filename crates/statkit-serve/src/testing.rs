//! The server's parts as the unit tests need them: a pipeline with one
//! intake and the handles the HTTP server and the admin port read, as if
//! started at Unix time 1000 with default settings.

use std::sync::Arc;

use crate::config::{layers, Config};
use crate::http::Context;
use crate::pipeline::{Intake, Pipeline};
use crate::requests::{Requests, RequestsReader};
use crate::sink::Fanout;
use crate::source::SourceCounts;
use crate::status::Status;
use crate::store::History;

/// The default configuration.
pub(crate) fn config() -> Config {
    Config::try_from(layers().resolve().expect("defaults resolve")).expect("defaults are valid")
}

/// An HTTP context over a fresh pipeline and its one intake.
pub(crate) fn context(sinks: Fanout) -> (Arc<Context>, Intake) {
    let config = config();
    let requests = Arc::new(Requests::new(config.requests.view));
    let (pipeline, mut intakes) =
        Pipeline::new(config.aggregation.clone(), 1, Some(requests.clone()), 1000);
    let intake = intakes.remove(0);
    let context = Context {
        requests: RequestsReader::new(requests, pipeline.clone()),
        pipeline,
        status: Arc::new(Status::new(1000)),
        history: Arc::new(History::new(config.store.clone())),
        sinks,
        counts: Arc::new(SourceCounts::default()),
        status_allow: config.requests.status_allow.clone(),
        scan: config.scan.clone(),
        prometheus: Arc::default(),
    };
    (Arc::new(context), intake)
}
