//! mmash's JSON routes over the stats folder, for tools written against
//! mmstats' web service:
//!
//! - `GET /stats/`: `{"stats": [every label, sorted]}`;
//! - `GET /stats/<prefix>?aggr=A&glob=G&exact=1`: `{label: [values]}` for
//!   every label starting with `<prefix>`, one value per file, or
//!   `{label: value}` folded by `A` ([`statkit_scan::mmash`]);
//! - `GET /files/`, `GET /files/<G>`: `{"files": [paths]}` of the files
//!   that gave at least one value.
//!
//! `G` is matched against the names of the folder's stats files (never
//! handed to the file system): a `/` or `..` in it is a 400, as mmash
//! refuses `..`. Files are read on a blocking thread, at most
//! [`MAX_FILES`] per request.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use statkit_format::StatFile;
use statkit_scan::mmash::{aggregate, labels, select, Aggr};
use statkit_scan::{discover, read_file_with, Limits};

use super::errors::error;
use super::App;

/// Files one request reads at most (in name order).
pub(super) const MAX_FILES: usize = 10_000;

/// `/stats/<prefix>`'s options.
#[derive(Debug, Deserialize)]
pub(super) struct StatsQuery {
    aggr: Option<String>,
    glob: Option<String>,
    exact: Option<String>,
}

/// `GET /stats/`.
pub(super) async fn all_labels(State(app): State<App>, uri: Uri) -> Response {
    match read(&app, None, &uri).await {
        Ok(files) => Json(json!({"stats": labels(files.iter().map(|(_, f)| f))})).into_response(),
        Err(response) => response,
    }
}

/// `GET /stats/<prefix>`.
pub(super) async fn by_prefix(
    State(app): State<App>,
    UrlPath(prefix): UrlPath<String>,
    Query(query): Query<StatsQuery>,
    uri: Uri,
) -> Response {
    let files = match read(&app, query.glob.as_deref(), &uri).await {
        Ok(files) => files,
        Err(response) => return response,
    };
    let exact = query
        .exact
        .as_deref()
        .is_some_and(|e| e != "0" && !e.is_empty());
    let values = select(files.iter().map(|(_, f)| f), &prefix, exact);
    let Some(aggr) = query.aggr.as_deref().and_then(Aggr::from_name) else {
        return Json(values).into_response();
    };
    let mut folded = Map::new();
    for (label, values) in values {
        match aggregate(aggr, &values) {
            Ok(value) => {
                folded.insert(label, value);
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("{label}: {e}"), uri.path()),
        }
    }
    Json(Value::Object(folded)).into_response()
}

/// `GET /files/`.
pub(super) async fn all_files(State(app): State<App>, uri: Uri) -> Response {
    files(&app, None, &uri).await
}

/// `GET /files/<glob>`.
pub(super) async fn matching_files(
    State(app): State<App>,
    UrlPath(glob): UrlPath<String>,
    uri: Uri,
) -> Response {
    files(&app, Some(&glob), &uri).await
}

async fn files(app: &App, glob: Option<&str>, uri: &Uri) -> Response {
    match read(app, glob, uri).await {
        Ok(files) => {
            let paths: Vec<String> = files
                .iter()
                .filter(|(_, f)| !f.stats.is_empty())
                .map(|(p, _)| p.display().to_string())
                .collect();
            Json(json!({"files": paths})).into_response()
        }
        Err(response) => response,
    }
}

/// The folder's stats files whose names match `glob` (all without one),
/// read on a blocking thread; unreadable ones are skipped, as mmash does.
async fn read(
    app: &App,
    glob: Option<&str>,
    uri: &Uri,
) -> Result<Vec<(PathBuf, StatFile)>, Response> {
    let bad = |message: String| error(StatusCode::BAD_REQUEST, message, uri.path());
    let pattern = match glob {
        Some(g) if g.contains('/') || g.contains("..") => {
            return Err(bad(format!(
                "glob {g:?}: only file names of the stats folder"
            )))
        }
        Some(g) => Some(glob::Pattern::new(g).map_err(|e| bad(format!("glob {g:?}: {e}")))?),
        None => None,
    };
    let Some(dir) = app.context.scan.stats_dir.clone() else {
        return Ok(Vec::new());
    };
    let limits = app.context.scan.limits;
    tokio::task::spawn_blocking(move || read_dir(&dir, pattern.as_ref(), &limits))
        .await
        .map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reading the stats folder failed: {e}"),
                uri.path(),
            )
        })
}

fn read_dir(
    dir: &Path,
    pattern: Option<&glob::Pattern>,
    limits: &Limits,
) -> Vec<(PathBuf, StatFile)> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let paths = discover(&[dir.to_owned()]).unwrap_or_else(|e| {
        tracing::debug!("cannot list the stats folder {}: {e}", dir.display());
        Vec::new()
    });
    let wanted = |path: &PathBuf| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        pattern.is_none_or(|p| p.matches(name))
    };
    paths
        .into_iter()
        .filter(wanted)
        .take(MAX_FILES)
        .filter_map(|path| match read_file_with(&path, limits) {
            Ok(file) => Some((path, file)),
            Err(e) => {
                tracing::debug!("skipped a stats file: {e}");
                None
            }
        })
        .collect()
}
