//! The HTTP server: read-only views of the running server, as JSON.
//!
//! Routes (GET and HEAD only; anything else is a 405, an unknown path a
//! 404, both with a JSON body `{"error": ..., "path": ...}`):
//!
//! - `/health`: 200 `{"status":"up"}` or 503 `{"status":"down"}`, following
//!   the admin port's `health up|down` ([`health`]).
//! - `/api/v1/health`: version, uptime, last flush, series held, ingest
//!   totals and per-sink losses since start ([`health::Report`]).
//! - `/_status`: the request view in gstats' JSON, to allowed clients
//!   ([`status`]).
//! - `/api/v1/metrics`, `/api/v1/history`: the history store's series and
//!   one series' history ([`api`]).
//! - `/api/v1/processes`: every stats file and statvent pipe on the host,
//!   with its process's pid, program, liveness and values ([`processes`]).
//! - `/metrics`: Prometheus text or OpenMetrics ([`metrics`]).
//! - `/load/N`, `/load/N/full`: gstatsd's load view ([`load`]), also at
//!   gstatsd's own paths on the `load_listen` listener ([`load_router`]).
//! - `/` and `/assets/...`: the dashboard, embedded ([`dashboard`]).
//! - `/stats`: statvent's named pipes summed over the host, or per process
//!   with `?by=process` ([`statvent`]), also as statvent's drop-in web
//!   service on the `statvent_listen` listener ([`statvent_router`]).
//! - `/stats/`, `/stats/<prefix>`, `/files/`: mmash's JSON over the stats
//!   folder ([`mmash`]).
//!
//! A client outside `http_allow`'s ranges gets 403 on every path.
//!
//! axum routes the requests; the connections are served here with hyper
//! directly, because axum's own `serve` has no header-read timeout. Each
//! endpoint group is a file of its own, added to [`router`].
//!
//! Nothing here runs per packet: every value is read when a request asks.

mod api;
mod dashboard;
mod errors;
mod health;
mod io;
mod load;
mod metrics;
mod mmash;
mod processes;
mod rendered;
pub(crate) mod settings;
mod status;
mod statvent;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use axum::{middleware, Extension};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::allow::AllowList;
use crate::config::ScanConfig;
use crate::pipeline::Pipeline;
use crate::requests::RequestsReader;
use crate::sink::Fanout;
use crate::source::SourceCounts;
use crate::status::Status;
use crate::store::History;

/// What the handlers read: the server's parts, each behind its own handle.
#[derive(Debug)]
pub(crate) struct Context {
    pub pipeline: Arc<Pipeline>,
    pub status: Arc<Status>,
    pub history: Arc<History>,
    pub sinks: Fanout,
    pub counts: Arc<SourceCounts>,
    pub requests: RequestsReader,
    /// Who may read `/_status`.
    pub status_allow: AllowList,
    /// The stats and pipe folders `/stats`, `/files/` and the process list
    /// read.
    pub scan: ScanConfig,
    /// What `/metrics` renders with: the mapping file, the overflows
    /// logged.
    pub prometheus: Arc<crate::prometheus::Face>,
}

/// How long a client may take, and how many may be connected at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// To send a whole request header: the first after connecting, and each
    /// next one on a kept-alive connection (so an idle connection is closed
    /// after this long too).
    pub header_read: Duration,
    /// For a handler to answer before the client gets a 503.
    pub handler: Duration,
    /// For a client to read any of a response before the connection is
    /// closed ([`io::StallTimeout`]).
    pub write_stall: Duration,
    /// Connections served at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// At shutdown, for open connections to finish the request in hand.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            handler: Duration::from_secs(10),
            write_stall: Duration::from_secs(10),
            max_connections: 128,
            shutdown_grace: Duration::from_secs(2),
        }
    }
}

/// The client's address, for handlers that ask (an extension of every
/// request on a connection).
#[derive(Clone, Copy, Debug)]
struct Peer(std::net::SocketAddr);

/// Which clients the server answers: `http_allow`'s ranges, or everyone
/// when there are none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Allow(Arc<AllowList>);

impl Allow {
    pub(crate) fn new(list: AllowList) -> Self {
        Self(Arc::new(list))
    }

    fn admits(&self, peer: std::net::IpAddr) -> bool {
        self.0.is_empty() || self.0.allows(peer)
    }
}

/// What handlers share.
#[derive(Clone, Debug)]
struct App {
    context: Arc<Context>,
    /// One permit: reports that lock the tables run one at a time.
    reports: Arc<Semaphore>,
    rendered: Arc<rendered::Rendered>,
}

impl App {
    fn new(context: Arc<Context>) -> Self {
        Self {
            context,
            reports: Arc::new(Semaphore::new(1)),
            rendered: Arc::default(),
        }
    }

    /// Runs `read` on the history store on a blocking thread (a large
    /// answer takes milliseconds, and the flusher's writes wait for it).
    async fn read_store<T: Send + 'static>(
        &self,
        read: impl FnOnce(&statkit_store::Store) -> T + Send + 'static,
    ) -> Result<T, axum::response::Response> {
        let context = self.context.clone();
        tokio::task::spawn_blocking(move || read(&context.history.read()))
            .await
            .map_err(|e| {
                tracing::error!("reading the history store failed: {e}");
                errors::error(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "reading the store failed",
                    "",
                )
            })
    }

    /// As [`App::read_store`], for answers that depend only on the store
    /// and `key`: what `render` made for the same key is reused until the
    /// store changes ([`rendered`]). A reused answer needs neither the
    /// store's lock nor a blocking thread: the generation changes only
    /// once a writer holds the lock, before it changes anything.
    async fn read_store_cached(
        &self,
        key: rendered::Key,
        render: impl FnOnce(&statkit_store::Store) -> Vec<u8> + Send + 'static,
    ) -> Result<axum::body::Bytes, axum::response::Response> {
        if let Some(body) = self.rendered.get(key, self.context.history.generation()) {
            return Ok(body);
        }
        let rendered = self.rendered.clone();
        let context = self.context.clone();
        self.read_store(move |store| {
            let generation = context.history.generation();
            rendered.get(key, generation).unwrap_or_else(|| {
                let body = axum::body::Bytes::from(render(store));
                rendered.put(key, generation, body.clone());
                body
            })
        })
        .await
    }
}

/// GET and HEAD only: every other method on a known path is a 405.
fn route<H, T>(handler: H) -> axum::routing::MethodRouter<App>
where
    H: axum::handler::Handler<T, App>,
    T: 'static,
{
    get(handler).fallback(errors::method_not_allowed)
}

/// Every route of the main HTTP server, with the handler deadline around
/// them.
pub(crate) fn router(context: Arc<Context>, limits: Limits) -> Router {
    Router::new()
        .merge(status::routes())
        .route("/", route(dashboard::page))
        .route("/assets/{file}", route(dashboard::asset))
        .route("/health", route(health::brief))
        .route(health::PATH, route(health::report))
        .route("/metrics", route(metrics::metrics))
        .route("/api/v1/metrics", route(api::list))
        .route("/api/v1/history", route(api::history))
        .route("/api/v1/processes", route(processes::list))
        .route("/load/{n}", route(load::window))
        .route("/load/{n}/full", route(load::full))
        .route("/stats", route(statvent::stats))
        .route("/stats/", route(mmash::all_labels))
        .route("/stats/{*prefix}", route(mmash::by_prefix))
        .route("/files/", route(mmash::all_files))
        .route("/files/{*glob}", route(mmash::matching_files))
        .fallback(errors::not_found)
        .layer(middleware::from_fn_with_state(
            limits.handler,
            errors::deadline,
        ))
        .with_state(App::new(context))
}

/// statvent's web service on a listener of its own: `/stats`, and a 400 in
/// statvent's shape for any other path.
pub(crate) fn statvent_router(context: Arc<Context>, limits: Limits) -> Router {
    statvent::drop_in()
        .layer(middleware::from_fn_with_state(
            limits.handler,
            errors::deadline,
        ))
        .with_state(App::new(context))
}

/// gstatsd's load API on a listener of its own, at gstatsd's paths.
pub(crate) fn load_router(context: Arc<Context>, limits: Limits) -> Router {
    Router::new()
        .route("/", route(load::one))
        .route("/{n}", route(load::window))
        .route("/{n}/full", route(load::full))
        .fallback(errors::not_found)
        .layer(middleware::from_fn_with_state(
            limits.handler,
            errors::deadline,
        ))
        .with_state(App::new(context))
}

/// Serves HTTP on `listener` until `stop` changes; then lets open
/// connections finish the request in hand (for at most
/// `limits.shutdown_grace`) and closes them.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    allow: Allow,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    // Whether the last connection was turned away, to warn once per episode.
    let mut full = false;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            // Reap finished connections so the set counts open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if connections.len() >= limits.max_connections {
                        if !full {
                            tracing::warn!(
                                "HTTP: {} connections open; closing new ones until some end",
                                limits.max_connections
                            );
                            full = true;
                        }
                        continue;
                    }
                    full = false;
                    let service = if allow.admits(peer.ip()) {
                        // Handlers may ask who the client is (`/_status` does).
                        app.clone().layer(Extension(Peer(peer)))
                    } else {
                        errors::forbidden(peer.ip())
                    };
                    connections.spawn(connection(stream, service, limits, stop.clone()));
                }
                Err(e) => {
                    tracing::warn!("HTTP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(listener);
    let finished = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::debug!(
            "HTTP: {} connections still open after {:?}; closing them",
            connections.len(),
            limits.shutdown_grace
        );
    }
    // Dropping the set aborts what is left.
}

/// Serves one connection (HTTP/1.1, kept alive) until the client closes
/// it, a limit ends it, or `stop` changes and the request in hand is done.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    // Small answers: send them now rather than wait for more to write.
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(io::StallTimeout::new(stream, limits.write_stall));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let served = builder.serve_connection(io, TowerToHyperService::new(app));
    let mut served = std::pin::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        _ = stop.changed() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(e) = result {
        // Timeouts, resets and malformed requests: the client's business.
        tracing::debug!("HTTP connection ended: {e}");
    }
}

#[cfg(test)]
mod tests;
