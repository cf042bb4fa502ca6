//! `GET /api/v1/processes`: every process on the host that publishes
//! metrics, one row per stats file (statkit and mmstats formats) of the
//! stats folder and per statvent pipe of the pipe folder, with its pid,
//! program, format, liveness and values.
//!
//! Reading files and pipes blocks (a pipe waits up to its read timeout for
//! a slow writer), so it runs on a blocking thread; pipe scans of the
//! server run one at a time ([`statkit_pipe::read::scan`] sees to that).
//! The answer is bounded: at most [`MAX_PROCESSES`] rows (files are read
//! only up to that many) and [`MAX_VALUES`] values a row, with the totals
//! and `truncated` flags saying what was left out.

use std::path::{Path, PathBuf};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use statkit_format::StatFile;
use statkit_scan::{discover, liveness, read_file_with, render, Limits, Liveness};

use super::errors::error;
use super::App;

/// Rows one answer holds at most.
pub(super) const MAX_PROCESSES: usize = 1000;
/// Values one row holds at most (the first, in the file's or pipe's order).
pub(super) const MAX_VALUES: usize = 500;

pub(super) async fn list(State(app): State<App>, uri: Uri) -> Response {
    let dir = app.context.scan.stats_dir.clone();
    let pipes = app.context.scan.pipes.clone();
    let limits = app.context.scan.limits;
    let gathered =
        tokio::task::spawn_blocking(move || gather(dir.as_deref(), &pipes, &limits)).await;
    match gathered {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reading the processes failed: {e}"),
            uri.path(),
        ),
    }
}

/// The rows found, and what could not be read.
#[derive(Default)]
struct Found {
    rows: Vec<Value>,
    /// Files and pipes seen, rows or not.
    total: usize,
    errors: Vec<Value>,
}

impl Found {
    fn room(&self) -> bool {
        self.rows.len() < MAX_PROCESSES
    }

    fn failed(&mut self, path: &Path, reason: impl ToString) {
        self.errors.push(json!({
            "path": path.display().to_string(),
            "error": reason.to_string(),
        }));
    }
}

/// The whole answer: the stats folder's files, then the pipes.
fn gather(dir: Option<&Path>, pipes: &statkit_pipe::read::Options, limits: &Limits) -> Value {
    let mut found = Found::default();
    if let Some(dir) = dir {
        files(dir, limits, &mut found);
    }
    self::pipes(pipes, &mut found);
    let truncated = found.total > found.rows.len();
    json!({
        "processes": found.rows,
        "total": found.total,
        "truncated": truncated,
        "max_processes": MAX_PROCESSES,
        "max_values": MAX_VALUES,
        "errors": found.errors,
        "stats_dir": dir.map(|d| d.display().to_string()),
        "pipe_dir": pipes.dir.display().to_string(),
    })
}

fn files(dir: &Path, limits: &Limits, found: &mut Found) {
    if !dir.is_dir() {
        return;
    }
    let paths = match discover(&[dir.to_owned()]) {
        Ok(paths) => paths,
        Err(e) => return found.failed(dir, e),
    };
    found.total += paths.len();
    for path in paths.into_iter().take(MAX_PROCESSES) {
        match read_file_with(&path, limits) {
            Ok(file) => found.rows.push(file_row(&path, &file)),
            Err(e) => found.failed(&path, e),
        }
    }
}

fn pipes(options: &statkit_pipe::read::Options, found: &mut Found) {
    let scan = match statkit_pipe::read::scan(options) {
        Ok(scan) => scan,
        Err(e) => return found.failed(&options.dir, e),
    };
    found.total += scan.processes.len() + scan.skipped;
    for (path, why) in &scan.discarded {
        found.failed(path, why);
    }
    for p in scan.processes {
        if !found.room() {
            break;
        }
        let values = p
            .stats
            .iter()
            .map(|(name, value)| (name.as_str(), json!(value)));
        // The reader keeps only snapshots of processes alive at the end.
        found.rows.push(row(
            Row {
                pid: Some(p.pid),
                program: comm(p.pid),
                format: "pipe",
                state: Liveness::Alive,
                path: &p.path,
            },
            values,
        ));
    }
}

fn file_row(path: &Path, file: &StatFile) -> Value {
    let state = liveness(file);
    let program = match &file.identity {
        Some(identity) => Some(identity.program.clone()),
        None if state == Liveness::Alive => file.pid.and_then(comm),
        None => None,
    };
    let values = file
        .stats
        .iter()
        .map(|s| (s.label.as_str(), render::json_value(&s.value)));
    row(
        Row {
            pid: file.pid,
            program,
            format: file.format.name(),
            state,
            path,
        },
        values,
    )
}

/// What a row says of its process.
struct Row<'a> {
    pid: Option<u32>,
    program: Option<String>,
    format: &'static str,
    state: Liveness,
    path: &'a Path,
}

fn row<'v>(about: Row<'_>, values: impl ExactSizeIterator<Item = (&'v str, Value)>) -> Value {
    let count = values.len();
    let values: Map<String, Value> = values
        .take(MAX_VALUES)
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let alive = match about.state {
        Liveness::Alive => Some(true),
        Liveness::Dead => Some(false),
        Liveness::Retired | Liveness::Unknown => None,
    };
    json!({
        "pid": about.pid,
        "program": about.program,
        "format": about.format,
        "state": state_name(about.state),
        "alive": alive,
        "path": about.path.display().to_string(),
        "value_count": count,
        "values_truncated": count > values.len(),
        "values": values,
    })
}

fn state_name(state: Liveness) -> &'static str {
    match state {
        Liveness::Alive => "alive",
        Liveness::Dead => "dead",
        Liveness::Retired => "retired",
        Liveness::Unknown => "unknown",
    }
}

/// A running process's command name, from `/proc/<pid>/comm`.
fn comm(pid: u32) -> Option<String> {
    let path = PathBuf::from(format!("/proc/{pid}/comm"));
    let name = std::fs::read_to_string(path).ok()?;
    Some(name.trim_end().to_owned()).filter(|n| !n.is_empty())
}
