//! statvent's web service: the named pipes of every process on the host.
//!
//! `GET /stats` answers `{"stats": {name: number, ...}, "timestamp": t}`,
//! the values of every `<pid>.stats` pipe in the pipe folder merged as
//! [`statkit_pipe::merge`] describes (sums, but percentiles and means
//! combined as such); `GET /stats?by=process` lists each process's values
//! and what the scan skipped. On the `statvent_listen` listener, `/stats`
//! answers exactly as statvent does (any query ignored) and every other
//! path gets statvent's 400.
//!
//! The host-wide answer also counts every stats file of the stats folder,
//! its values taken as a pipe would carry them
//! (`statkit_scan::pipe_view`). Reading the pipes waits up to a second for
//! slow writers, so it runs on a blocking thread; scans run one at a time
//! (`source::pipes`), shared with the scanner thread.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use statkit_pipe::read::{Process, Scan};

use super::errors::error;
use super::{route, App};

/// `/stats`'s options.
#[derive(Debug, Deserialize)]
pub(super) struct StatsQuery {
    /// `process` for the per-process view.
    by: Option<String>,
}

/// `GET /stats` on the main HTTP port.
pub(super) async fn stats(
    State(app): State<App>,
    Query(query): Query<StatsQuery>,
    uri: Uri,
) -> Response {
    let per_process = match query.by.as_deref() {
        None => false,
        Some("process") => true,
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("by={other:?}: the only view is by=process"),
                uri.path(),
            )
        }
    };
    match read(&app).await {
        Ok(found) if per_process => Json(by_process(&found)).into_response(),
        Ok(found) => Json(host_wide(&found)).into_response(),
        Err(message) => error(StatusCode::INTERNAL_SERVER_ERROR, message, uri.path()),
    }
}

/// The routes of the drop-in listener.
pub(super) fn drop_in() -> Router<App> {
    Router::new()
        .route("/stats", route(drop_in_stats))
        .fallback(not_found)
}

/// `/stats` as statvent answers it: the query string is ignored.
async fn drop_in_stats(State(app): State<App>, uri: Uri) -> Response {
    match read(&app).await {
        Ok(found) => Json(host_wide(&found)).into_response(),
        Err(message) => statvent_error(StatusCode::INTERNAL_SERVER_ERROR, &message, &uri),
    }
}

/// statvent's answer to any path but its own.
async fn not_found(uri: Uri) -> Response {
    statvent_error(
        StatusCode::BAD_REQUEST,
        "The requested resource was not found",
        &uri,
    )
}

/// statvent's error shape, `{"message": ..., "path": ...}`, with the path
/// as requested (query string included, as statvent shows it).
fn statvent_error(status: StatusCode, message: &str, uri: &Uri) -> Response {
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    (status, Json(json!({"message": message, "path": path}))).into_response()
}

/// What `/stats` reads: one scan of the pipe folder and the stats files,
/// on a blocking thread.
struct Found {
    pipes: Scan,
    files: Vec<Process>,
    /// Pids whose live stats file carries what their pipe carries: their
    /// pipes count once, as the file.
    published: BTreeSet<u32>,
}

async fn read(app: &App) -> Result<Found, String> {
    let scan = app.context.scan.clone();
    let options = scan.pipes.clone();
    let stats_dir = scan.stats_dir.clone();
    let scanned = tokio::task::spawn_blocking(move || {
        let pipes = crate::source::pipes::read(&options)?;
        let files = match stats_dir.as_deref() {
            Some(dir) => crate::source::files::read_all(dir, &scan.limits, scan.max_files).files,
            None => Vec::new(),
        };
        let published = statkit_scan::pipe_view::published_pids(files.iter().map(|(_, f)| f));
        let files = files_as_pipes(files);
        Ok::<_, statkit_pipe::read::ScanError>(Found {
            pipes,
            files,
            published,
        })
    })
    .await;
    match scanned {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("reading the pipes failed: {e}")),
    }
}

/// Every stats file of the folder (retired totals included, as the host's
/// totals include them) with its values as a pipe carries them.
fn files_as_pipes(files: Vec<(std::path::PathBuf, statkit_format::StatFile)>) -> Vec<Process> {
    files
        .into_iter()
        .map(|(path, file)| Process {
            pid: file.pid.unwrap_or(0),
            stats: statkit_scan::pipe_view::as_pipe(&file),
            path,
            malformed: Vec::new(),
        })
        .collect()
}

/// statvent's shape, over every process's pipe and stats file.
fn host_wide(found: &Found) -> Value {
    let pipes = found.pipes.processes.iter();
    let once = pipes.filter(|p| !found.published.contains(&p.pid));
    let all: Vec<&Process> = once.chain(&found.files).collect();
    json!({
        "stats": statkit_pipe::merge(&all),
        "timestamp": timestamp(),
    })
}

/// Each process's values (pipes under `processes`, stats files under
/// `files`), and what was skipped and why.
fn by_process(found: &Found) -> Value {
    let files: Vec<Value> = found
        .files
        .iter()
        .map(|f| {
            let stats: serde_json::Map<String, Value> =
                f.stats.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
            json!({"pid": f.pid, "path": f.path.display().to_string(), "stats": stats})
        })
        .collect();
    let published = &found.published;
    let found = &found.pipes;
    let processes: Vec<Value> = found
        .processes
        .iter()
        .map(|p| {
            let stats: serde_json::Map<String, Value> = p
                .stats
                .iter()
                .map(|(name, value)| (name.clone(), json!(value)))
                .collect();
            let malformed: Vec<Value> = p
                .malformed
                .iter()
                .map(|m| json!({"line": m.line, "text": m.text, "reason": m.reason.to_string()}))
                .collect();
            json!({
                "pid": p.pid,
                "path": p.path.display().to_string(),
                "stats": stats,
                "malformed": malformed,
                // Its values are counted once, from its stats file.
                "also_in_files": published.contains(&p.pid),
            })
        })
        .collect();
    let discarded: Vec<Value> = found
        .discarded
        .iter()
        .map(|(path, why)| json!({"path": path.display().to_string(), "reason": why.to_string()}))
        .collect();
    let stale: Vec<String> = found
        .stale
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    json!({
        "processes": processes,
        "files": files,
        "stale_removed": stale,
        "discarded": discarded,
        "skipped": found.skipped,
        "ignored": found.ignored,
        "timestamp": timestamp(),
    })
}

/// Unix time in seconds, with fractions, as statvent's `time.time()`.
fn timestamp() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}
