//! gstatsd's load view: `{"last_frame_time": T, "Stat": {...}}` over the
//! last N one-minute frames (`/load/N`), or the N complete frames before
//! the current one (`/load/N/full`); N from 1 to 15. `"Stat"` is absent
//! when the frames chosen hold nothing, as in gstatsd.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use statkit_store::{LoadValue, FRAMES};

use super::errors::error;
use super::rendered::Key;
use super::App;
use crate::support::unix_now;

/// `/N`
pub(super) async fn window(State(app): State<App>, Path(n): Path<String>, uri: Uri) -> Response {
    answer(app, &n, false, uri).await
}

/// `/N/full`
pub(super) async fn full(State(app): State<App>, Path(n): Path<String>, uri: Uri) -> Response {
    answer(app, &n, true, uri).await
}

/// `/` on the gstatsd listener: the current frame, as gstatsd answers a
/// path without a number.
pub(super) async fn one(State(app): State<App>, uri: Uri) -> Response {
    answer(app, "1", false, uri).await
}

async fn answer(app: App, n: &str, full: bool, uri: Uri) -> Response {
    let n = match n.parse::<u64>() {
        Ok(n) if (1..=FRAMES as u64).contains(&n) => n,
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                format!("N must be a whole number from 1 to {FRAMES}"),
                uri.path(),
            )
        }
    };
    let now = unix_now();
    // The answer depends on the store, the window and the second asked in.
    let key = Key {
        route: "load",
        variant: now << 5 | n << 1 | u64::from(full),
    };
    let rendered = app
        .read_store_cached(key, move |store| {
            let view = statkit_store::load(store, now, n, full);
            let mut body = Map::new();
            body.insert("last_frame_time".into(), view.last_frame_time.into());
            if !view.stats.is_empty() {
                let stats = view
                    .stats
                    .into_iter()
                    .map(|(name, value)| (name, json(value)))
                    .collect();
                body.insert("Stat".into(), Value::Object(stats));
            }
            Value::Object(body).to_string().into_bytes()
        })
        .await;
    match rendered {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(response) => response,
    }
}

fn json(value: LoadValue) -> Value {
    match value {
        LoadValue::Int(i) => i.into(),
        LoadValue::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
    }
}
