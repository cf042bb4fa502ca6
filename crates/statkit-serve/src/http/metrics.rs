//! `GET /metrics`: the history store for Prometheus, as text 0.0.4 or, when
//! the scraper's `Accept` asks for it, OpenMetrics 1.0, with the help texts
//! and units stats files give their metrics (`source::files_help`).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use statkit_encode::prometheus::{render_described, Format};

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
    let rendered = app
        .read_store_cached(key, move |store| {
            // About 100 bytes a series: one allocation for most stores.
            let mut out = String::with_capacity(store.len() * 100 + 64);
            let clashes = render_described(store, format, &|name| described.get(name), &mut out);
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
            body,
        )
            .into_response(),
        Err(response) => response,
    }
}
