//! Error answers, all JSON of one shape: `{"error": "...", "path": "..."}`,
//! so a client reads every failure the same way.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// The body of every error answer.
#[derive(Debug, Serialize)]
pub(super) struct ErrorBody {
    pub error: String,
    /// The request's path, as sent (still percent-encoded).
    pub path: String,
}

/// An error answer with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>, path: &str) -> Response {
    let body = ErrorBody {
        error: message.into(),
        path: path.to_owned(),
    };
    (status, Json(body)).into_response()
}

/// 404 for every path no route serves.
pub(super) async fn not_found(uri: Uri) -> Response {
    error(StatusCode::NOT_FOUND, "not found", uri.path())
}

/// The service for a client outside `http_allow`: 403 on every path,
/// saying why.
pub(super) fn forbidden(peer: std::net::IpAddr) -> axum::Router {
    let message = format!("client {peer} is not allowed here (see statkit serve --http-allow)");
    axum::Router::new()
        .fallback(move |uri: Uri| async move { error(StatusCode::FORBIDDEN, message, uri.path()) })
}

/// The methods every route answers: the server only shows things.
const ALLOWED: &str = "GET, HEAD";

/// 405 for a known path asked with a method other than GET or HEAD, with
/// the `Allow` header HTTP requires.
pub(super) async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed; use {ALLOWED}"),
        uri.path(),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOWED));
    response
}

/// Middleware: a handler that has not answered within `limit` (waiting for
/// a lock the flusher holds, say) is abandoned with a 503, so a client
/// never waits on the server without bound.
pub(super) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("no answer within {limit:?}"),
            &path,
        ),
    }
}
