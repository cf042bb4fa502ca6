//! `statkit serve`'s `/stats` over statvent's named pipes, end to end: the
//! pipes are written by threads of this test process the way statvent
//! writes them (create the FIFO, open it for writing, which waits for a
//! reader, write one snapshot, close, remove, again) and by a small Python
//! program following statvent's exact format (`fixtures/statvent_writer.py`;
//! statvent 1.0.1 itself needs Python 2).

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{self, http_get, poll_until, statkit_command, Dir, Process, Statkit, TIMEOUT};
use serde_json::{json, Value};

/// statvent 1.0.1's snapshot of process "a" (research samples).
const SAMPLE_A: &str = include_str!("../../../statkit-pipe/tests/fixtures/statvent-a.stats");

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let r = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(r, 0, "mkfifo {path:?}: {}", std::io::Error::last_os_error());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// Waits until a writer has (re)created its FIFO.
fn wait_for_fifo(path: &Path) {
    poll_until(TIMEOUT, || is_fifo(path).then_some(()))
        .unwrap_or_else(|| panic!("no FIFO at {path:?}"));
}

/// A statvent-style writer on a thread: `rounds` snapshots of `text`, one
/// per reader, at `<dir>/<pid of this process>.stats`.
struct Writer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    fn start(dir: &Path, text: &str, rounds: usize) -> Writer {
        let path = dir.join(format!("{}.stats", std::process::id()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (path, stop, text) = (path.clone(), stop.clone(), text.to_owned());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    mkfifo(&path);
                    // Blocks until a reader opens the FIFO.
                    let mut pipe = std::fs::File::options().write(true).open(&path).unwrap();
                    let _ = pipe.write_all(text.as_bytes());
                    drop(pipe);
                    let _ = std::fs::remove_file(&path);
                }
            })
        };
        wait_for_fifo(&path);
        Writer {
            path,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits for the next round's FIFO.
    fn next_round(&self) {
        wait_for_fifo(&self.path);
    }
}

impl Drop for Writer {
    /// Stops the thread: a writer waiting for a reader is let through by a
    /// non-blocking open of the read end.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + TIMEOUT;
        let thread = self.thread.take().unwrap();
        while !thread.is_finished() && Instant::now() < deadline {
            let _reader = std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path);
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
}

/// The Python statvent writer in `dir`, started and waited for.
fn python_writer(dir: &Path, args: &[&str]) -> (Process, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/statvent_writer.py");
    let mut command = Command::new(util::python());
    command.arg(script).arg(dir).args(args);
    let process = Process::spawn("statvent writer", command);
    wait_ready(&process);
    let path = dir.join(format!("{}.stats", process.id()));
    (process, path)
}

fn wait_ready(process: &Process) {
    let line = process.next_stdout_line(Instant::now() + TIMEOUT);
    assert_eq!(line.as_deref(), Some("ready"), "{}", process.log());
}

fn serve(dir: &Path) -> Statkit {
    let dir = dir.to_str().unwrap();
    // The writers here write a few snapshots each: only `/stats` reads.
    Statkit::start(&[
        "--pipe-dir",
        dir,
        "--statvent-listen",
        "127.0.0.1:0",
        "--pipe-scan=false",
    ])
}

/// `GET path`: the status and the JSON body.
fn get(statkit: &Statkit, path: &str) -> (u16, Value) {
    let answer = http_get(statkit.http.unwrap(), path, "");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body = serde_json::from_str(&answer.body).expect("a JSON body");
    (answer.status, body)
}

/// The values of `/stats` (after checking statvent's shape).
fn stats(statkit: &Statkit) -> Value {
    let (status, body) = get(statkit, "/stats");
    assert_eq!(status, 200, "{body}");
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 2, "{body}");
    assert!(body["timestamp"].as_f64().unwrap() > 1.7e9);
    body["stats"].clone()
}

fn by_process(statkit: &Statkit) -> Value {
    let (status, body) = get(statkit, "/stats?by=process");
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn two_writer_processes_merge_without_statvents_summing_bug() {
    let dir = Dir::new("pipes-two");
    // The folder comes from the environment here.
    let mut command = statkit_command();
    command.env("STATKIT_PIPE_DIR", dir.path());
    let statkit = Statkit::start_command(
        command,
        &["--statvent-listen", "127.0.0.1:0", "--pipe-scan=false"],
    );
    let ours = Writer::start(dir.path(), SAMPLE_A, 3);
    let (python, _) = python_writer(dir.path(), &["serve:3", "100"]);

    // statvent answers 105 for the medians, 109 for the 95th, 105 for the
    // means (web-responses.txt); the plain values it sums right.
    let expected = json!({
        "load": 1.0, "requests": 10, "conns": 6, "flag": 2, "name: with colon": 14,
        "latency.median": 100, "latency.95th": 100, "latency.99th": 100,
        "latency.100th": 100, "latency.mean": 52.5,
        "flt.median": 0.5, "flt.95th": 0.5, "flt.99th": 0.5, "flt.100th": 1.5, "flt.mean": 1.0,
        "custom-median": 3, "custom-95th": 3, "custom-99th": 3, "custom-100th": 3,
        "custom-mean": 3.0,
    });
    assert_eq!(stats(&statkit), expected);

    ours.next_round();
    wait_ready(&python);
    let view = by_process(&statkit);
    let pids: Vec<u64> = view["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_u64().unwrap())
        .collect();
    let mut want = vec![u64::from(std::process::id()), u64::from(python.id())];
    want.sort();
    assert_eq!(pids, want, "{view}");
    let python_stats = view["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == python.id())
        .unwrap()["stats"]
        .clone();
    // The Python writer wrote statvent's process "b" exactly.
    let b = statkit_pipe::parse(include_bytes!(
        "../../../statkit-pipe/tests/fixtures/statvent-b.stats"
    ));
    let b: serde_json::Map<String, Value> =
        b.stats.into_iter().map(|(n, v)| (n, json!(v))).collect();
    assert_eq!(python_stats, Value::Object(b));

    // The drop-in listener: statvent's paths and error shape.
    ours.next_round();
    wait_ready(&python);
    let drop_in = statkit.statvent.unwrap();
    let answer = http_get(drop_in, "/stats?x=1", "");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["stats"], expected);
    for path in ["/other", "/", "/stats/x"] {
        let answer = http_get(drop_in, path, "");
        assert_eq!(answer.status, 400, "{path}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(
            body,
            json!({"message": "The requested resource was not found", "path": path})
        );
    }
    let (status, _) = get(&statkit, "/stats?by=pid");
    assert_eq!(status, 400);
}

#[test]
fn a_stale_pipe_is_removed_and_not_counted() {
    let dir = Dir::new("pipes-stale");
    let statkit = serve(dir.path());
    // A FIFO no process writes: its pid is that of a child already reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.path().join(format!("{dead}.stats"));
    mkfifo(&stale);
    // Not a pipe: left alone, and counted.
    dir.write("notes.txt", "requests: 100\n");
    let _ours = Writer::start(dir.path(), "requests: 2\n", 1);
    let view = by_process(&statkit);
    assert_eq!(view["ignored"], 1);
    assert_eq!(
        view["stale_removed"],
        json!([stale.to_str().unwrap()]),
        "{view}"
    );
    assert_eq!(view["processes"][0]["stats"], json!({"requests": 2}));
    assert!(!stale.exists());
    assert_eq!(stats(&statkit), json!({}));
    assert!(dir.path().join("notes.txt").exists());
}

#[test]
fn a_writer_dying_mid_snapshot_leaves_nothing_counted() {
    let dir = Dir::new("pipes-die");
    let statkit = serve(dir.path());
    let ours = Writer::start(dir.path(), "requests: 2\n", 2);
    let (mut python, path) = python_writer(dir.path(), &["die"]);
    let view = by_process(&statkit);
    assert_eq!(view["processes"].as_array().unwrap().len(), 1, "{view}");
    assert_eq!(
        view["discarded"],
        json!([{
            "path": path.to_str().unwrap(),
            "reason": "the writer ended before a whole snapshot (it died mid-write)",
        }])
    );
    // The Python writer killed itself; its FIFO is left with no writer.
    assert!(python.wait_timeout(TIMEOUT).is_some());
    ours.next_round();
    assert_eq!(stats(&statkit), json!({"requests": 2}));
    assert!(!path.exists(), "the dead writer's FIFO is removed as stale");
}

#[test]
fn a_malformed_line_is_reported_and_skipped() {
    let dir = Dir::new("pipes-bad");
    let statkit = serve(dir.path());
    let ours = Writer::start(
        dir.path(),
        "requests: 3\nthis is not a stat\nload: 0.250000\nname: x\n",
        2,
    );
    assert_eq!(stats(&statkit), json!({"requests": 3, "load": 0.25}));
    ours.next_round();
    let view = by_process(&statkit);
    assert_eq!(
        view["processes"][0]["malformed"],
        json!([
            {"line": 2, "text": "this is not a stat", "reason": "no `:` between name and value"},
            {"line": 4, "text": "name: x", "reason": "the value is not a number"},
        ])
    );
}

/// `statkit slurp` run to its end: exit code, stdout, stderr.
fn slurp(args: &[&str]) -> (i32, String, String) {
    let mut command = statkit_command();
    command.arg("slurp").args(args);
    let output = util::run_bounded(command, TIMEOUT);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A FIFO whose pid belongs to a child already reaped: stale.
fn stale_fifo(dir: &Path) -> PathBuf {
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.join(format!("{dead}.stats"));
    mkfifo(&stale);
    stale
}

#[test]
fn slurp_reads_the_library_publishers_pipe_beside_its_stats_file() {
    let dir = Dir::new("pipes-slurp");
    let registry = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: dir.path().to_owned(),
        program: "pipetest".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    registry.counter("requests", &[]).unwrap().add(5);
    let latency = registry.histogram("latency", &[]).unwrap();
    let options = statkit::pipe::Options {
        dir: dir.path().to_owned(),
    };
    let publisher = statkit::pipe::Publisher::start(&registry, options).unwrap();
    // After the start: the ring of last values fills from then on.
    [0.5, 1.5].iter().for_each(|&v| latency.record(v));
    let stale = stale_fifo(dir.path());

    let (code, stdout, stderr) = slurp(&["--json", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("removed stale pipe {}", stale.display())),
        "{stderr}"
    );
    assert!(!stale.exists());
    let files: Value = serde_json::from_str(&stdout).unwrap();
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), 2, "{stdout}");
    assert_eq!(files[0]["format"], "statkit");
    assert_eq!(files[0]["stats"]["requests"], 5);
    assert_eq!(
        files[1],
        json!({
            "path": publisher.path().to_str().unwrap(),
            "format": "pipe",
            "pid": std::process::id(),
            "stats": {
                "requests": 5,
                "latency.median": 0.5, "latency.95th": 0.5, "latency.99th": 0.5,
                "latency.100th": 1.5, "latency.mean": 1.0, "latency.count": 2,
            },
        })
    );

    // The pipe alone, by name, as text.
    wait_for_fifo(&publisher.path());
    let (code, stdout, stderr) = slurp(&[publisher.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("==> {}\n", publisher.path().display())),
        "{stdout}"
    );
    assert!(stdout.contains("\n  latency.mean   1.0\n"), "{stdout}");
    assert!(stdout.contains("\n  requests       5\n"), "{stdout}");
}

#[test]
fn slurp_splits_pipe_names_on_the_last_colon_and_reports_bad_lines() {
    let dir = Dir::new("pipes-slurp-colon");
    let _ours = Writer::start(
        dir.path(),
        "name: with colon: 7\nnot a stat\nload: 0.500000\n",
        1,
    );
    let mut command = statkit_command();
    command.env("STATKIT_PIPE_DIR", dir.path());
    command.env("STATKIT_DIR", dir.path().join("no-stats-here"));
    command.env("MMSTATS_PATH", dir.path().join("no-mmstats-here"));
    command.args(["slurp", "--json"]);
    let output = util::run_bounded(command, TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("line 2: no `:` between name and value"),
        "{stderr}"
    );
    let files: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        files[0]["stats"],
        json!({"name: with colon": 7, "load": 0.5})
    );
}

/// `statkit serve` feeds a library publisher's pipe into its aggregation
/// every scan, and `/stats` sums the stats files with the pipes.
#[test]
fn serve_aggregates_pipes_and_sums_them_with_stats_files() {
    let (pipes, files) = (Dir::new("pipes-serve"), Dir::new("pipes-serve-files"));
    // One program publishing both ways, and another with a file only.
    let both = statkit::shm::Registry::in_memory(statkit::shm::Options::default()).unwrap();
    let requests = both.counter("requests", &[]).unwrap();
    requests.add(2);
    both.gauge("load", &[]).unwrap().set(0.5);
    let options = statkit::pipe::Options {
        dir: pipes.path().to_owned(),
    };
    let _publisher = statkit::pipe::Publisher::start(&both, options).unwrap();
    let file_only = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: files.path().to_owned(),
        program: "fileonly".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    file_only.counter("requests", &[]).unwrap().add(40);
    file_only.gauge("load", &[]).unwrap().set(0.25);

    let statkit = Statkit::start(&[
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--stats-scan-interval",
        "0.05",
        "--flush-interval",
        "3600",
    ]);
    let pid = std::process::id();
    // The first scans set the gauges and the counters' baseline.
    poll_until(TIMEOUT, || {
        let gauges = util::admin(statkit.admin, "gauges");
        gauges
            .contains(&format!("'pipe.{pid}.load': 0.5"))
            .then_some(())
    })
    .expect("the pipe's gauge in the aggregation");
    requests.add(5);
    let counters = poll_until(TIMEOUT, || {
        let counters = util::admin(statkit.admin, "counters");
        counters
            .contains("'pipe.host.requests': 5")
            .then_some(counters)
    })
    .unwrap_or_else(|| util::admin(statkit.admin, "counters"));
    assert!(counters.contains("'pipe.host.requests': 5"), "{counters}");
    assert!(
        counters.contains(&format!("'pipe.{pid}.requests': 5")),
        "{counters}"
    );

    // Host-wide: the pipe (7 requests) and the file (40), loads summed.
    let answer = stats(&statkit);
    assert_eq!(answer["requests"], 47, "{answer}");
    assert_eq!(answer["load"], 0.75, "{answer}");
    let view = by_process(&statkit);
    assert_eq!(view["files"][0]["stats"]["requests"], 40, "{view}");
    assert_eq!(view["processes"][0]["pid"], pid, "{view}");
}

/// statvent's own way of reading (a Python program following its web
/// service's code) reads the library's pipe.
#[test]
fn statvents_reader_reads_the_library_publisher() {
    let dir = Dir::new("pipes-statvent-reader");
    let registry = statkit::shm::Registry::in_memory(statkit::shm::Options::default()).unwrap();
    registry.counter("requests", &[]).unwrap().add(3);
    registry.gauge("load", &[]).unwrap().set(0.5);
    let latency = registry.histogram("latency", &[]).unwrap();
    let options = statkit::pipe::Options {
        dir: dir.path().to_owned(),
    };
    let _publisher = statkit::pipe::Publisher::start(&registry, options).unwrap();
    (1..=10).for_each(|v| latency.record(f64::from(v)));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/statvent_reader.py");
    let mut command = Command::new(util::python());
    command.arg(script).arg(dir.path());
    let output = util::run_bounded(command, TIMEOUT);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let totals: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        totals,
        json!({
            "requests": 3, "load": 0.5,
            "latency.median": 5.0, "latency.95th": 9.0, "latency.99th": 9.0,
            "latency.100th": 10.0, "latency.mean": 5.5, "latency.count": 10,
        })
    );
}

/// A registry published both ways (a stats file and a pipe, as
/// `statkit::shm` with `statkit::pipe::start()` does) counts once: its file
/// says so, and `/stats` and the server's scan read it from the file only.
#[test]
fn a_registry_published_both_ways_counts_once() {
    let (pipes, files) = (Dir::new("pipes-once"), Dir::new("pipes-once-files"));
    let registry = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: files.path().to_owned(),
        program: "both".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    registry.counter("requests", &[]).unwrap().add(5);
    let options = statkit::pipe::Options {
        dir: pipes.path().to_owned(),
    };
    let publisher = statkit::pipe::Publisher::start(&registry, options).unwrap();
    let statkit = Statkit::start(&[
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--flush-interval",
        "3600",
    ]);
    let answer = stats(&statkit);
    assert_eq!(answer["requests"], 5, "{answer}");
    let view = by_process(&statkit);
    assert_eq!(view["processes"][0]["also_in_files"], true, "{view}");
    // Once the pipe stops, the file no longer says so.
    drop(publisher);
    let flags = poll_until(TIMEOUT, || {
        let file = statkit_scan::read_file(registry.path()?).ok()?;
        (!file.identity?.piped).then_some(())
    });
    assert!(flags.is_some(), "the piped flag outlived its publisher");
}
