//! `/_status` (and anything under it): the request view in gstats' `STATS`
//! JSON, as gstats' WSGI app served it, to the addresses and networks of
//! the allow list only (`403` with gstats' words otherwise).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};

use super::errors::{error, method_not_allowed};
use super::{App, Peer};
use crate::requests::Query;

const PATH: &str = "/_status";

/// The routes, for the router to merge.
pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(PATH, get(status).fallback(method_not_allowed))
        .route("/_status/{*rest}", get(status).fallback(method_not_allowed))
}

async fn status(State(app): State<App>, Extension(Peer(peer)): Extension<Peer>) -> Response {
    if !app.context.status_allow.allows(peer.ip()) {
        return (StatusCode::FORBIDDEN, "You are not allowed to see this!").into_response();
    }
    // Like the health report: one reader of the tables at a time.
    let Ok(permit) = app.reports.clone().acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down", PATH);
    };
    let requests = app.context.requests.clone();
    let json = tokio::task::spawn_blocking(move || {
        let json = requests.answer(Query::Stats);
        drop(permit);
        json
    })
    .await;
    match json {
        Ok(json) => {
            let mut response = (StatusCode::OK, json).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!("reading the request view failed: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the view failed", PATH)
        }
    }
}
