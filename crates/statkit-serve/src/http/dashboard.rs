//! `/`: the dashboard, one HTML page, a script and a style sheet, all
//! compiled into the binary. The page draws its charts itself (SVG) from
//! the JSON API, so it works with no network beyond this server.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::errors::error;

const PAGE: &str = include_str!("dashboard/index.html");

/// The files under `/assets/`: a fixed table, so no request ever names a
/// file on disk.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/dashboard.js"),
    ),
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("dashboard/dashboard.css"),
    ),
];

fn text(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

pub(super) async fn page() -> Response {
    text("text/html; charset=utf-8", PAGE)
}

pub(super) async fn asset(Path(file): Path<String>, uri: Uri) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => text(content_type, body),
        None => error(StatusCode::NOT_FOUND, "not found", uri.path()),
    }
}
