//! The sinks that push flushes to time-series databases over HTTP:
//! Prometheus remote-write 1.0, OTLP/HTTP metrics, InfluxDB line
//! protocol. They differ only in the body (`statkit_encode`'s encoders of
//! one [`Export`]) and its headers; the rest is one [`Push`] sink.
//!
//! What an answer means: 2xx delivered; no answer, a 5xx or a 429 is an
//! error the sink runner retries with backoff (and the flushes wait in the
//! sink's queue); any other status (400 for a sample the database will not
//! take, 401, 404) would be refused again, so the flush is dropped,
//! counted in the `push_rejected` own metric, and logged once until the
//! endpoint accepts a flush again.

pub(crate) mod http;
pub(crate) mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use statkit_agg::Snapshot;
use statkit_encode::export::Export;
use statkit_encode::labels::HostLabels;
use statkit_encode::{influx, otlp, remote_write};

use self::http::{Answer, Poster, TokenScheme};
use self::settings::{Endpoint, PushConfig};
use super::{Attempt, Sink, SinkError, Sinks};

/// Why a push failed; the flush is offered again.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    #[error("{0:?} is not a URL")]
    Url(String),
    #[error("cannot make the request: {0}")]
    Request(String),
    #[error("cannot read {path}: {source}")]
    Secret {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Send(#[from] hyper_util::client::legacy::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("cannot encode the flush: {0}")]
    Encode(String),
}

/// The body a sink pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    RemoteWrite,
    Otlp,
    Influx,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::RemoteWrite => "remote-write",
            Format::Otlp => "otlp",
            Format::Influx => "influx",
        }
    }

    fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Format::RemoteWrite => &remote_write::HEADERS,
            Format::Otlp => &[("content-type", otlp::CONTENT_TYPE)],
            Format::Influx => &[("content-type", influx::CONTENT_TYPE)],
        }
    }

    /// The body for `snapshot` with `labels` on every series (OTLP: as
    /// the resource's attributes).
    fn encode(
        self,
        snapshot: &Snapshot,
        bounds: &[f64],
        labels: &HostLabels,
    ) -> Result<Vec<u8>, PushError> {
        let on_series = match self {
            Format::Otlp => &HostLabels::default(),
            Format::RemoteWrite | Format::Influx => labels,
        };
        let export = Export::new(snapshot, bounds, on_series);
        if export.clashes > 0 {
            tracing::debug!(
                clashes = export.clashes,
                "series with clashing names left out of a push"
            );
        }
        match self {
            Format::RemoteWrite => {
                remote_write::encode(&export).map_err(|e| PushError::Encode(e.to_string()))
            }
            Format::Otlp => Ok(otlp::encode(&export, labels)),
            Format::Influx => Ok(influx::encode(&export)),
        }
    }

    /// InfluxDB v2 (`/api/v2/write`) takes its token as `Token`.
    fn token_scheme(self, url: &str) -> TokenScheme {
        let path = url.split('?').next().unwrap_or(url);
        if self == Format::Influx && path.ends_with("/api/v2/write") {
            TokenScheme::Token
        } else {
            TokenScheme::Bearer
        }
    }
}

/// Flushes every pushing sink refused for good, for the `push_rejected`
/// own metric.
#[derive(Debug, Default)]
pub(crate) struct Rejected(AtomicU64);

impl Rejected {
    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a pushing sink encodes with, shared with the blocking thread that
/// encodes.
struct Shape {
    format: Format,
    /// The bucket bounds the flushes' timers were counted for.
    bounds: Arc<[f64]>,
    labels: HostLabels,
}

/// One endpoint of one format.
pub(crate) struct Push {
    shape: Arc<Shape>,
    poster: Poster,
    rejected: Arc<Rejected>,
    /// Since the last flush the endpoint accepted, it refused them all.
    refusing: bool,
}

impl Push {
    fn new(
        format: Format,
        endpoint: Endpoint,
        host: &HostLabels,
        bounds: Arc<[f64]>,
        rejected: Arc<Rejected>,
    ) -> Result<Self, PushError> {
        let labels = host.with(&endpoint.labels);
        let scheme = format.token_scheme(&endpoint.url);
        Ok(Self {
            shape: Arc::new(Shape {
                format,
                bounds,
                labels,
            }),
            poster: Poster::new(endpoint, scheme)?,
            rejected,
            refusing: false,
        })
    }

    /// The body for `snapshot`, encoded on a blocking thread (a flush of
    /// many series takes a while).
    async fn body(&self, snapshot: &Arc<Snapshot>) -> Result<Vec<u8>, PushError> {
        let (shape, snapshot) = (self.shape.clone(), snapshot.clone());
        tokio::task::spawn_blocking(move || {
            (shape.format).encode(&snapshot, &shape.bounds, &shape.labels)
        })
        .await
        .map_err(|e| PushError::Encode(e.to_string()))?
    }
}

impl Sink for Push {
    async fn deliver(&mut self, snapshot: &Arc<Snapshot>, _: Attempt) -> Result<(), SinkError> {
        let body = self.body(snapshot).await?;
        let format = self.shape.format;
        match self.poster.post(body, format.headers()).await? {
            Answer::Accepted => {
                if self.refusing {
                    tracing::info!(url = %self.poster.url(), "{} endpoint accepts flushes again", format.name());
                }
                self.refusing = false;
            }
            Answer::Refused { status, body } => {
                if !self.refusing {
                    tracing::warn!(
                        url = %self.poster.url(),
                        status,
                        answer = %body,
                        "{} endpoint refused a flush; dropped (not retried) and counted in push_rejected",
                        format.name()
                    );
                }
                self.refusing = true;
                self.rejected.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

/// Starts a sink for every endpoint `config` lists, each behind a queue
/// named after its format and URL; `bounds` are the timers' bucket
/// bounds.
pub(crate) fn start(
    sinks: &mut Sinks,
    config: &PushConfig,
    bounds: &Arc<[f64]>,
    rejected: &Arc<Rejected>,
) {
    let all = [
        (Format::RemoteWrite, &config.remote_write),
        (Format::Otlp, &config.otlp),
        (Format::Influx, &config.influx),
    ];
    for (format, endpoints) in all {
        for endpoint in endpoints {
            let name = format!("{} {}", format.name(), endpoint.url);
            let id = crate::server::file_name(&name);
            let sink = Push::new(
                format,
                endpoint.clone(),
                &config.labels,
                bounds.clone(),
                rejected.clone(),
            );
            match sink {
                Ok(sink) => sinks.start(name, &id, sink),
                Err(e) => tracing::error!("{name}: not started: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
