//! The JSON API over the history store.
//!
//! - `GET /api/v1/metrics?filter=S&kind=K&own=false&offset=N&limit=N`:
//!   the series whose name contains `S` (all by default), of kind `K`,
//!   without the server's own (`statsd.*`) with `own=false`, a page at a
//!   time (`limit` at most [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]), each
//!   with its kind, tags, newest values and time.
//! - `GET /api/v1/history?kind=K&name=KEY&resolution=flush|minute&since=T`:
//!   one series' history as columns (`t` and one array per field).

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use statkit_store::{split_key, Kind, Resolution, Series, Store};

use super::errors::error;
use super::App;

/// Series in one page of the list unless the client asks for fewer.
pub(super) const DEFAULT_LIMIT: usize = 1000;
/// The most series one page holds: a million series come as a thousand
/// pages, never as one huge body.
pub(super) const MAX_LIMIT: usize = 10_000;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    filter: Option<String>,
    kind: Option<String>,
    own: Option<bool>,
    offset: Option<usize>,
    limit: Option<usize>,
}

/// One series in the list.
#[derive(Debug, Serialize)]
struct Entry {
    /// The full key, tags included: what `/api/v1/history` takes.
    key: String,
    name: String,
    kind: &'static str,
    tags: Map<String, Value>,
    /// Unix seconds of the newest flush that reported it.
    time: u64,
    /// The newest flush's fields (see `fields` in docs/http.md).
    last: Map<String, Value>,
    /// Counters: the count since first seen; timers: values counted.
    total: f64,
}

#[derive(Debug, Serialize)]
struct List {
    /// Series matching the filter, over all pages.
    matching: usize,
    offset: usize,
    /// The offset of the next page, `null` on the last.
    next_offset: Option<usize>,
    /// Series held, and flushes of series not kept for want of room.
    stored: usize,
    dropped_series: u64,
    interval_seconds: f64,
    /// Which threshold a timer's `pct` field is (`90`).
    pct: String,
    metrics: Vec<Entry>,
}

fn bad_request(message: impl Into<String>, uri: &Uri) -> Response {
    error(StatusCode::BAD_REQUEST, message, uri.path())
}

/// The kind a query names, or why it names none.
fn kind_of(name: Option<&str>) -> Result<Option<Kind>, String> {
    name.map(|k| {
        Kind::from_name(k).ok_or_else(|| format!("kind {k:?} is not counter, gauge, timer or set"))
    })
    .transpose()
}

pub(super) async fn list(State(app): State<App>, Query(q): Query<ListQuery>, uri: Uri) -> Response {
    let kind = match kind_of(q.kind.as_deref()) {
        Ok(kind) => kind,
        Err(message) => return bad_request(message, &uri),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let offset = q.offset.unwrap_or(0);
    let filter = Filter {
        kind,
        text: q.filter.unwrap_or_default(),
        own: q.own.unwrap_or(true),
    };
    let listed = app
        .read_store(move |store| page(store, &filter, offset, limit))
        .await;
    match listed {
        Ok(list) => Json(list).into_response(),
        Err(response) => response,
    }
}

/// Which series a list shows.
struct Filter {
    kind: Option<Kind>,
    /// A substring of the key.
    text: String,
    /// Whether the server's own series (under `prefix_stats.`) are shown.
    own: bool,
}

impl Filter {
    fn keeps(&self, kind: Kind, key: &[u8], own_prefix: &[u8]) -> bool {
        let own = key.len() > own_prefix.len()
            && key.starts_with(own_prefix)
            && key[own_prefix.len()] == b'.';
        self.kind.is_none_or(|want| want == kind)
            && contains(key, self.text.as_bytes())
            && (self.own || !own)
    }
}

fn page(store: &Store, filter: &Filter, offset: usize, limit: usize) -> List {
    let own_prefix = store.options().own_prefix.as_bytes();
    let mut matching = 0;
    let mut metrics = Vec::new();
    for (k, key, series) in store.iter() {
        if !filter.keeps(k, key, own_prefix) {
            continue;
        }
        if matching >= offset && metrics.len() < limit {
            metrics.push(entry(k, key, series));
        }
        matching += 1;
    }
    let next = offset + metrics.len();
    List {
        matching,
        offset,
        next_offset: (next < matching).then_some(next),
        stored: store.len(),
        dropped_series: store.dropped_series(),
        interval_seconds: store.interval_s(),
        pct: store.pct_label().to_owned(),
        metrics,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A stored `f32` as the `f64` that prints the same (`0.1`, not
/// `0.10000000149011612`).
fn widen(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::NAN)
}

fn entry(kind: Kind, key: &[u8], series: &Series) -> Entry {
    let (name, tags) = split_key(key);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Entry {
        key: text(key),
        name: text(name),
        kind: kind.name(),
        tags: tags
            .map(|(k, v)| (text(k), Value::String(v.map(text).unwrap_or_default())))
            .collect(),
        time: series.last_time,
        last: kind
            .fields()
            .iter()
            .zip(&series.last)
            .map(|(f, &v)| (f.name.to_owned(), number(v)))
            .collect(),
        total: series.total,
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct HistoryQuery {
    kind: Option<String>,
    name: Option<String>,
    resolution: Option<String>,
    since: Option<u64>,
}

pub(super) async fn history(
    State(app): State<App>,
    Query(q): Query<HistoryQuery>,
    uri: Uri,
) -> Response {
    let kind = match kind_of(q.kind.as_deref()) {
        Ok(Some(kind)) => kind,
        Ok(None) => return bad_request("kind is required", &uri),
        Err(message) => return bad_request(message, &uri),
    };
    let Some(name) = q.name else {
        return bad_request("name is required", &uri);
    };
    let resolution = match q.resolution.as_deref().unwrap_or("flush") {
        "flush" => Resolution::Flush,
        "minute" => Resolution::Minute,
        other => {
            return bad_request(
                format!("resolution {other:?} is neither flush nor minute"),
                &uri,
            )
        }
    };
    let since = q.since.unwrap_or(0);
    let found = app
        .read_store(move |store| {
            store
                .get(kind, name.as_bytes())
                .map(|series| columns(series, resolution, since, &name))
        })
        .await;
    match found {
        Ok(Some(body)) => Json(body).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such series", uri.path()),
        Err(response) => response,
    }
}

/// `{"key", "kind", "resolution", "fields", "t": [...], "<field>": [...]}`.
fn columns(series: &Series, resolution: Resolution, since: u64, key: &str) -> Value {
    let fields = series.kind().fields();
    let mut t = Vec::new();
    let mut values: Vec<Vec<Value>> = vec![Vec::new(); fields.len()];
    for (time, row) in series.history(resolution, since) {
        t.push(Value::from(time));
        for (column, v) in values.iter_mut().zip(row) {
            column.push(number(widen(v)));
        }
    }
    let mut body = Map::new();
    body.insert("key".into(), key.into());
    body.insert("kind".into(), series.kind().name().into());
    let resolution = match resolution {
        Resolution::Flush => "flush",
        Resolution::Minute => "minute",
    };
    body.insert("resolution".into(), resolution.into());
    body.insert(
        "fields".into(),
        fields.iter().map(|f| Value::from(f.name)).collect(),
    );
    body.insert("t".into(), Value::Array(t));
    for (field, column) in fields.iter().zip(values) {
        body.insert(field.name.into(), Value::Array(column));
    }
    Value::Object(body)
}
