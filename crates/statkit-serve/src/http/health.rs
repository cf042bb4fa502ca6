//! Health: `GET /health` for load balancers and probes (the status code is
//! the answer), `GET /api/v1/health` for people and scripts (what the
//! server has done since it started).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::errors::error;
use super::{App, Context};
use crate::support::unix_now;

/// etsy's health status, set with `health up|down` on the admin port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Status {
    Up,
    Down,
}

impl Status {
    fn of(context: &Context) -> Self {
        if context.status.is_healthy() {
            Status::Up
        } else {
            Status::Down
        }
    }
}

/// `/health`'s body: `{"status":"up"}`.
#[derive(Debug, Serialize)]
pub(super) struct Brief {
    pub status: Status,
}

/// `/api/v1/health`'s body.
#[derive(Debug, Serialize)]
pub(super) struct Report {
    pub status: Status,
    /// The server's version (the workspace's).
    pub version: &'static str,
    pub uptime_seconds: u64,
    /// Unix seconds.
    pub started_unix: u64,
    /// Unix seconds; `null` before the first flush.
    pub last_flush_unix: Option<u64>,
    /// Series held, over counters, gauges, timers and sets; etsy's own
    /// (`statsd.packets_received` and the like) count too, as in the
    /// admin port's `counters`.
    pub series: usize,
    pub ingest: Ingest,
    pub sinks: Vec<Sink>,
}

/// What came in since start, and what was turned away.
#[derive(Debug, Serialize)]
pub(super) struct Ingest {
    /// Datagrams and TCP reads (etsy's `packets_received`).
    pub packets: u64,
    /// Non-empty lines (etsy's `metrics_received`).
    pub lines: u64,
    pub bad_lines: u64,
    pub events: u64,
    pub service_checks: u64,
    /// Samples refused because their series would pass `max_series`.
    pub refused_series: u64,
    /// Samples refused for a key over `max_key_bytes` or a set past
    /// `max_set_members`.
    pub refused_samples: u64,
    pub oversized_datagrams: u64,
    /// Datagrams the kernel dropped on a full receive buffer; `null` where
    /// the kernel does not tell (no `/proc/net/udp`).
    pub udp_kernel_drops: Option<u64>,
    /// Connections closed at once past `tcp_max_connections`.
    pub tcp_connections_refused: u64,
}

/// One sink's losses since start.
#[derive(Debug, Serialize)]
pub(super) struct Sink {
    /// `graphite HOST:PORT` or `console`.
    pub name: String,
    /// Flushes dropped because the sink had fallen `sink_queue` behind.
    pub dropped_flushes: u64,
}

impl Report {
    /// The report as of `now` (Unix seconds). The counts include what the
    /// receivers hold since the last flush (read, not drained, so watching
    /// the server never changes what it flushes); taking the locks can
    /// block, so it runs off the async workers.
    pub(super) fn gather(context: &Context, now: u64) -> Report {
        let (totals, series) = context.pipeline.totals();
        let started = context.status.started;
        Report {
            status: Status::of(context),
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: now.saturating_sub(started),
            started_unix: started,
            last_flush_unix: context.status.last_flush(),
            series,
            ingest: Ingest {
                packets: totals.packets,
                lines: totals.lines,
                bad_lines: totals.bad_lines,
                events: totals.events,
                service_checks: totals.service_checks,
                refused_series: totals.refused_series,
                refused_samples: totals.refused_samples,
                oversized_datagrams: totals.oversized,
                udp_kernel_drops: context.counts.kernel_drops(),
                tcp_connections_refused: context.counts.tcp_refused(),
            },
            sinks: context
                .sinks
                .drops()
                .map(|(name, dropped)| Sink {
                    name: name.to_owned(),
                    dropped_flushes: dropped,
                })
                .collect(),
        }
    }
}

/// Health answers change from one request to the next: no cache may keep them.
fn fresh(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /health`: 200 `{"status":"up"}` or 503 `{"status":"down"}`.
pub(super) async fn brief(State(app): State<App>) -> Response {
    let status = Status::of(&app.context);
    let code = match status {
        Status::Up => StatusCode::OK,
        Status::Down => StatusCode::SERVICE_UNAVAILABLE,
    };
    fresh(code, Brief { status })
}

/// `GET /api/v1/health`: the [`Report`], 200 whether the status is up or
/// down (the body says which).
pub(super) async fn report(State(app): State<App>) -> Response {
    // One report at a time: each takes the same locks, so more at once
    // would only tie up blocking threads. The permit goes with the work, so
    // a request abandoned at its deadline still holds it until the work is
    // done.
    let Ok(permit) = app.reports.clone().acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down", PATH);
    };
    let context = app.context.clone();
    let gathered = tokio::task::spawn_blocking(move || {
        let report = Report::gather(&context, unix_now());
        drop(permit);
        report
    })
    .await;
    match gathered {
        Ok(report) => fresh(StatusCode::OK, report),
        Err(e) => {
            tracing::error!("gathering the health report failed: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the report failed", PATH)
        }
    }
}

/// Where [`report`] is served.
pub(super) const PATH: &str = "/api/v1/health";

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use statkit_agg::Snapshot;

    use super::{Brief, Report, Status};
    use crate::http::Context;
    use crate::pipeline::Intake;
    use crate::sink::{Fanout, Queue};
    use crate::source::kernel;

    /// A server with one receiver table and a console sink that has
    /// dropped three flushes, as if started at Unix time 1000.
    fn context() -> (Arc<Context>, Intake) {
        let queue = Arc::new(Queue::new("console".into(), 1));
        for t in 0..4 {
            queue.push(t, &Arc::new(Snapshot::new(t, 1000.0, Arc::from([]))), None);
        }
        crate::testing::context(Fanout::of(vec![queue]))
    }

    #[test]
    fn brief_is_just_the_status() {
        let body = serde_json::to_value(Brief { status: Status::Up }).unwrap();
        assert_eq!(body, json!({"status": "up"}));
        let body = serde_json::to_value(Brief {
            status: Status::Down,
        })
        .unwrap();
        assert_eq!(body, json!({"status": "down"}));
    }

    #[test]
    fn report_counts_what_the_tables_hold_without_draining_them() {
        let (context, intake) = context();
        // Two packets: three good lines, one bad, one event, one service check.
        intake.fill(|table| table.ingest(b"a:1|c\nb:2|g\nc:x|ms\n_e{1,1}:t|x"));
        intake.fill(|table| table.ingest(b"_sc|check|0\nd:3|ms"));
        context.status.set_healthy(false);
        context.status.flushed(1010);
        context.counts.refuse_tcp();
        context.counts.refuse_tcp();
        let report = serde_json::to_value(Report::gather(&context, 1042)).unwrap();
        let expected = json!({
            "status": "down",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": 42,
            "started_unix": 1000,
            "last_flush_unix": 1010,
            // Until a flush drains the tables, only etsy's own three counters
            // (statsd.bad_lines_seen, statsd.packets_received,
            // statsd.metrics_received) are in the aggregate.
            "series": 3,
            "ingest": {
                "packets": 2,
                "lines": 6,
                "bad_lines": 1,
                "events": 1,
                "service_checks": 1,
                "refused_series": 0,
                "refused_samples": 0,
                "oversized_datagrams": 0,
                // No sockets here: 0 where the kernel has the tables, else null.
                "udp_kernel_drops": kernel::drops(&[]),
                "tcp_connections_refused": 2,
            },
            "sinks": [{"name": "console", "dropped_flushes": 3}],
        });
        assert_eq!(report, expected);
        // Reading drained nothing: the table still holds its interval, and
        // asking again gives the same counts.
        assert_eq!(intake.fill(|table| table.counts().lines), 6);
        let again = serde_json::to_value(Report::gather(&context, 1043)).unwrap();
        assert_eq!(again["ingest"], expected["ingest"]);
    }

    #[test]
    fn before_the_first_flush_last_flush_is_null() {
        let report = serde_json::to_value(Report::gather(&context().0, 1000)).unwrap();
        assert_eq!(report["last_flush_unix"], serde_json::Value::Null);
        assert_eq!(report["status"], "up");
        assert_eq!(report["uptime_seconds"], 0);
    }
}
