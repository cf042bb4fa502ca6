//! `GET /api/v1/processes` against the real server: a stats file the
//! statkit library writes in this test process, a dead writer's file, an
//! mmstats 0.8 file, and a statvent pipe served by a thread of this test.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{http_get, Statkit, TIMEOUT};
use serde_json::Value;
use statkit::shm::{Options, Registry};
use statkit_format::{encode, Identity, Stat};

fn mmstats_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../statkit-format/tests/testdata/mmstats")
}

/// A pid no process has: one that just exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Writes `text` once into a FIFO `<dir>/<our pid>.stats`, when a reader
/// opens it (within [`TIMEOUT`]), as a statvent writer does.
fn pipe_once(dir: &Path, text: &'static str) -> JoinHandle<bool> {
    let path = dir.join(format!("{}.stats", std::process::id()));
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            // Without a reader, a non-blocking open for writing fails.
            let opened = std::fs::File::options()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path);
            if let Ok(mut pipe) = opened {
                let written = pipe.write_all(text.as_bytes()).is_ok();
                let _ = std::fs::remove_file(&path);
                return written;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    })
}

fn get_json(server: &Statkit, path: &str) -> Value {
    let answer = http_get(server.http.unwrap(), path, "");
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    serde_json::from_str(&answer.body).unwrap()
}

fn row<'a>(answer: &'a Value, path: &Path) -> &'a Value {
    let path = path.display().to_string();
    answer["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no row for {path} in {answer:#}"))
}

#[test]
fn every_stats_file_and_pipe_is_a_row_with_its_values() {
    let files = tempfile::tempdir().unwrap();
    let pipes = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: files.path().to_owned(),
        program: "shop".into(),
        ..Options::default()
    })
    .unwrap();
    registry.counter("orders", &[]).unwrap().add(12);
    registry.histogram("latency", &[]).unwrap().record(0.25);
    let dead = Identity {
        pid: dead_pid(),
        start_time: 1,
        created_ns: 0,
        program: "gone".into(),
        retired: false,
        piped: false,
    };
    let jobs = Stat {
        label: "jobs".into(),
        value: statkit_format::Value::Counter(4),
    };
    let dead_path = files.path().join("gone-1.statkit");
    std::fs::write(&dead_path, encode(&dead, &[jobs]).unwrap()).unwrap();
    let mmstats_path = files.path().join("alltypes.mmstats");
    std::fs::copy(mmstats_samples().join("alltypes.mmstats"), &mmstats_path).unwrap();
    let writer = pipe_once(pipes.path(), "hits: 3\nload: 0.5\n");

    // The pipe gives one snapshot: only the route reads it.
    let server = Statkit::start(&[
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
        "--pipe-scan=false",
    ]);
    let answer = get_json(&server, "/api/v1/processes");
    assert!(writer.join().unwrap(), "the pipe was not read");
    assert_eq!(answer["total"], 4, "{answer:#}");
    assert_eq!(answer["truncated"], false);
    assert_eq!(answer["errors"], serde_json::json!([]));

    let ours = std::process::id();
    let live = row(&answer, registry.path().unwrap());
    assert_eq!(live["pid"], ours);
    assert_eq!(live["program"], "shop");
    assert_eq!(live["format"], "statkit");
    assert_eq!(live["state"], "alive");
    assert_eq!(live["alive"], true);
    assert_eq!(live["values"]["orders"], 12);
    assert_eq!(live["values"]["latency"]["count"], 1);
    assert_eq!(live["value_count"], 2);

    let gone = row(&answer, &dead_path);
    assert_eq!(gone["program"], "gone");
    assert_eq!(gone["state"], "dead");
    assert_eq!(gone["alive"], false);
    assert_eq!(gone["values"]["jobs"], 4);

    let mm = row(&answer, &mmstats_path);
    assert_eq!(mm["format"], "mmstats");
    assert_eq!(mm["pid"], 13740);
    assert_eq!(mm["values"]["ex.u32"], 7);
    assert_eq!(mm["values"]["ex.string"], "toolongs");

    let pipe = row(&answer, &pipes.path().join(format!("{ours}.stats")));
    assert_eq!(pipe["format"], "pipe");
    assert_eq!(pipe["pid"], ours);
    assert_eq!(pipe["alive"], true);
    assert!(pipe["program"].is_string(), "{pipe}");
    assert_eq!(pipe["values"]["hits"], 3);
    assert_eq!(pipe["values"]["load"], 0.5);
    drop(registry);
}

#[test]
fn without_stats_folder_or_pipes_the_list_is_empty() {
    let pipes = tempfile::tempdir().unwrap();
    let server = Statkit::start(&[
        "--stats-dir",
        "off",
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
    ]);
    let answer = get_json(&server, "/api/v1/processes");
    assert_eq!(answer["processes"], serde_json::json!([]));
    assert_eq!(answer["total"], 0);
    assert_eq!(answer["stats_dir"], Value::Null);
    assert_eq!(answer["max_processes"], 1000);
}
