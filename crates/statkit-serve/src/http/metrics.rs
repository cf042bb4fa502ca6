//! `GET /metrics`: the history store for Prometheus, as text 0.0.4 or, when
//! the scraper's `Accept` asks for it, OpenMetrics 1.0; through the mapping
//! file when one is set, with the help texts and units stats files give
//! their metrics (`source::files_help`), `statkit_build_info` and
//! `process_*` last.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use statkit_encode::prometheus::Format;

use super::rendered::Key;
use super::App;

pub(super) async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::negotiate(accept);
    let described = app.context.counts.described.current();
    let key = Key {
        route: "metrics",
        // An answer is kept per format and version of the descriptions.
        variant: (format as u64) | described.version() << 1,
    };
    let face = app.context.prometheus.clone();
    // Read now, not kept with the store's render: /proc's values change
    // between flushes.
    let tail = face.tail(format);
    let rendered = app
        .read_store_cached(key, move |store| {
            // About 100 bytes a series: one allocation for most stores.
            let mut out = String::with_capacity(store.len() * 100 + 64);
            let clashes = face.render(store, format, &|name| described.get(name), &mut out);
            if clashes > 0 {
                tracing::debug!("/metrics left out {clashes} series with clashing names");
            }
            out.into_bytes()
        })
        .await;
    match rendered {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(format.content_type()),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            with_tail(&body, &tail),
        )
            .into_response(),
        Err(response) => response,
    }
}

/// The store's exposition (reused until the store changes) with the
/// families read at this scrape after it, before OpenMetrics' `# EOF`.
fn with_tail(body: &[u8], tail: &str) -> Vec<u8> {
    let body = body.strip_suffix(b"# EOF\n").unwrap_or(body);
    let mut out = Vec::with_capacity(body.len() + tail.len());
    out.extend_from_slice(body);
    out.extend_from_slice(tail.as_bytes());
    out
}
