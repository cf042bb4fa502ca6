//! `statkit slurp`, `poll` and `clean` run as a user runs them, on files
//! written by the statkit library in this test process, by the format's
//! encoder, and by mmstats 0.8 itself (the samples in statkit-format's
//! testdata).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value as Json;
use statkit::shm::{Options, Registry};
use statkit_format::layout::header;
use statkit_format::{encode, encode_with, Description, Identity, Stat, Value};

use crate::util;

fn mmstats_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../statkit-format/tests/testdata/mmstats")
}

fn statkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_statkit"))
        .args(args)
        .env_remove("STATKIT_DIR")
        .output()
        .expect("statkit runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn registry(dir: &Path, program: &str) -> Registry {
    Registry::publish(Options {
        dir: dir.to_owned(),
        program: program.into(),
        ..Options::default()
    })
    .unwrap()
}

fn slurp_json(paths: &[&Path]) -> Vec<Json> {
    let mut args = vec!["slurp".to_owned(), "--json".to_owned()];
    args.extend(paths.iter().map(|p| p.to_string_lossy().into_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = statkit(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice::<Json>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn slurp_reads_mmstats_files_as_mmstats_did() {
    let samples = mmstats_samples();
    let decoded = std::fs::read_to_string(samples.join("reader-decoded.txt")).unwrap();
    let names: Vec<&str> = decoded
        .lines()
        .filter_map(|l| l.strip_prefix("== "))
        .collect();
    let paths: Vec<PathBuf> = names.iter().map(|n| samples.join(n)).collect();
    let path_refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let files = slurp_json(&path_refs);
    assert_eq!(files.len(), 8);

    let mut current = None;
    for line in decoded.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            current = files
                .iter()
                .find(|f| f["path"].as_str().unwrap().ends_with(name));
            assert_eq!(current.unwrap()["format"], "mmstats");
            continue;
        }
        let (label, repr) = line.trim().split_once(" = ").unwrap();
        let label = label.trim_start_matches("u'").trim_end_matches('\'');
        let got = &current.unwrap()["stats"][label];
        let want: Json = match repr {
            "True" => Json::Bool(true),
            "False" => Json::Bool(false),
            _ if repr.starts_with("u'") => {
                Json::String(repr[2..repr.len() - 1].replace("\\xe9", "\u{e9}"))
            }
            _ => serde_json::from_str(repr).unwrap(),
        };
        assert_eq!(got, &want, "{label}");
    }
    let alltypes = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("alltypes.mmstats"))
        .unwrap();
    assert_eq!(alltypes["pid"], 13740);

    // The text form prints the same values, one `label value` line each.
    let text = stdout(&statkit(&[
        "slurp",
        samples.join("alltypes.mmstats").to_str().unwrap(),
    ]));
    assert!(
        text.contains("\n  ex.f64                0.3333333333333333\n"),
        "{text}"
    );
    assert!(text.contains("\n  ex.bool               True\n"));
}

#[test]
fn slurp_reads_what_the_library_writes() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path(), "web");
    registry
        .counter("requests", &[("code", "200")])
        .unwrap()
        .add(5);
    registry.text("version", &[]).unwrap().set("2.0");
    let latency = registry.histogram("latency", &[]).unwrap();
    (1..=100).for_each(|ms| latency.record(f64::from(ms) / 1000.0));

    let files = slurp_json(&[dir.path()]);
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file["format"], "statkit");
    assert_eq!(file["pid"], std::process::id());
    assert_eq!(file["stats"]["requests{code=200}"], 5);
    assert_eq!(file["stats"]["version"], "2.0");
    let h = &file["stats"]["latency"];
    assert_eq!(h["count"], 100);
    assert_eq!(h["max"], 0.1);
    let p50 = h["p50"].as_f64().unwrap();
    assert!((p50 - 0.05).abs() <= 0.05 / 16.0, "{p50}");

    let text = stdout(&statkit(&["slurp", dir.path().to_str().unwrap()]));
    assert!(text.contains("  requests{code=200} 5\n"), "{text}");
}

#[test]
fn bad_files_are_named_with_their_reason_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = encode(&identity(1), &[stat("n", Value::Counter(3))]).unwrap();
    std::fs::write(dir.path().join("a-good.statkit"), &good).unwrap();
    std::fs::write(dir.path().join("b-short.statkit"), &good[..200]).unwrap();
    let mut newer = good.clone();
    newer[12] = 9;
    std::fs::write(dir.path().join("c-newer.statkit"), &newer).unwrap();
    std::fs::write(dir.path().join("d-foreign.mmstats"), b"not stats at all").unwrap();

    let output = statkit(&["slurp", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let files: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(files.as_array().unwrap().len(), 1);
    assert_eq!(files[0]["stats"]["n"], 3);
    let errors = stderr(&output);
    assert!(errors.contains("b-short.statkit: truncated"), "{errors}");
    assert!(
        errors.contains("c-newer.statkit: unsupported format version 9"),
        "{errors}"
    );
    assert!(
        errors.contains("d-foreign.mmstats: not a stats file"),
        "{errors}"
    );
}

fn identity(pid: u32) -> Identity {
    Identity {
        pid,
        start_time: 1,
        created_ns: 0,
        program: "web".into(),
        retired: false,
        piped: false,
    }
}

fn stat(label: &str, value: Value) -> Stat {
    Stat {
        label: label.into(),
        value,
    }
}

/// A pid no process has: one that just exited.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn poll_prints_changes_summed_over_processes() {
    let dir = tempfile::tempdir().unwrap();
    for (name, n) in [("a.statkit", 10), ("b.statkit", 32)] {
        let bytes = encode(&identity(1), &[stat("app.req", Value::Counter(n))]).unwrap();
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let output = statkit(&[
        "poll",
        "-p",
        "app.",
        "-d",
        "0.05",
        "-c",
        "2",
        "req,missing",
        dir.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], format!("{:>14} {:>14}", "req", "missing"));
    assert_eq!(lines[1], format!("{:>14} {:>14}", "42", ""));
    assert_eq!(lines[2], format!("{:>14} {:>14}", "0", ""));
}

#[test]
fn clean_folds_dead_files_into_retired_totals() {
    let dir = tempfile::tempdir().unwrap();
    let live = registry(dir.path(), "web");
    live.counter("requests", &[]).unwrap().add(1);
    for n in [10u32, 20] {
        let mut h = statkit_format::Histogram::default();
        h.record(f64::from(n));
        let stats = [
            stat("requests", Value::Counter(n.into())),
            stat("latency", Value::Histogram(h)),
            stat("queue", Value::Gauge(5.0)),
        ];
        let pid = dead_pid();
        let path = dir.path().join(format!("web-{pid}-{n}.statkit"));
        let described = [
            Description::new("latency", "seconds", &format!("time to answer, from {n}")).unwrap(),
            Description::new("queue", "", "a gauge: not retired").unwrap(),
        ];
        let bytes = encode_with(&identity(pid), &stats, &described).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let totals = |dir: &Path| -> u64 {
        slurp_json(&[dir])
            .iter()
            .filter_map(|f| f["stats"]["requests"].as_u64())
            .sum()
    };
    assert_eq!(totals(dir.path()), 31);

    let dry = statkit(&["clean", "--dry-run", dir.path().to_str().unwrap()]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("would remove 2, 1 alive, 0 kept, 0 skipped"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);

    let run = statkit(&["clean", dir.path().to_str().unwrap()]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert!(
        stdout(&run).contains("removed 2, 1 alive, 0 kept, 0 skipped"),
        "{}",
        stdout(&run)
    );
    assert_eq!(totals(dir.path()), 31, "host totals never go backwards");
    let files = slurp_json(&[dir.path()]);
    let retired = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("web.retired.statkit"))
        .unwrap();
    assert_eq!(retired["pid"], Json::Null);
    assert_eq!(retired["stats"]["requests"], 30);
    assert_eq!(retired["stats"]["latency"]["count"], 2);
    assert_eq!(
        retired["stats"].get("queue"),
        None,
        "gauges die with their process"
    );
    let described = &retired["descriptions"];
    let help = described["latency"]["help"].as_str().unwrap_or_default();
    assert!(help.starts_with("time to answer, from "), "{retired}");
    assert_eq!(described["latency"]["unit"], "seconds");
    assert_eq!(described.as_object().unwrap().len(), 1, "{retired}");

    // A second round adds to the retired totals, a chained file's
    // continuation included (and removed with it).
    let pid = dead_pid();
    let mut main = encode(&identity(pid), &[stat("requests", Value::Counter(7))]).unwrap();
    main[header::SEGMENTS] = 1;
    let mut more = encode(&identity(pid), &[stat("errors", Value::Counter(3))]).unwrap();
    more[header::SEGMENT] = 1;
    let path = dir.path().join(format!("web-{pid}.statkit"));
    std::fs::write(&path, main).unwrap();
    std::fs::write(dir.path().join(format!("web-{pid}.statkit.1")), more).unwrap();
    assert!(statkit(&["clean", dir.path().to_str().unwrap()])
        .status
        .success());
    assert_eq!(totals(dir.path()), 38);
    assert!(!dir.path().join(format!("web-{pid}.statkit.1")).exists());
    let files = slurp_json(&[dir.path()]);
    assert!(files.iter().any(|f| f["stats"]["errors"] == 3), "{files:?}");
    drop(live);
}

/// The stdlib-only Python reader prints what `statkit slurp --json` prints,
/// for files the library wrote (every kind, several threads), files the
/// encoder wrote (retired totals), mmstats' own files, and a bad file.
#[test]
fn the_python_reader_prints_what_slurp_prints() {
    let dir = tempfile::tempdir().unwrap();
    let live = registry(dir.path(), "py");
    let requests = live
        .counter("requests", &[("code", "200"), ("path", "/a b")])
        .unwrap();
    let latency = live.histogram("latency", &[]).unwrap();
    let load = live.average("load", &[]).unwrap();
    std::thread::scope(|s| {
        for t in 0..3 {
            let (requests, latency, load) = (&requests, &latency, &load);
            s.spawn(move || {
                for i in 0..500u32 {
                    requests.inc();
                    latency.record(f64::from(i * (t + 1)) / 977.0);
                    load.add(f64::from(i) / 3.0);
                }
            });
        }
    });
    live.histogram("empty", &[]).unwrap();
    live.histogram("huge", &[]).unwrap().record(1e300);
    live.gauge("queue", &[]).unwrap().set(-0.1);
    live.gauge("nan", &[]).unwrap().set(f64::NAN);
    live.text("state", &[]).unwrap().set("h\u{e9}llo \"w\"");
    live.moving_average("recent", &[], 4).unwrap().add(0.3);
    live.describe("requests", "", "requests \"served\", \\ by code\nand path")
        .unwrap();
    live.describe("latency", "seconds", "time to answer")
        .unwrap();
    live.describe("latency", "seconds", "time to answer, again")
        .unwrap();
    let retired = Identity {
        pid: 0,
        retired: true,
        ..identity(0)
    };
    let encoded = encode(
        &retired,
        &[stat(
            "requests{code=200,path=/a b}",
            Value::Counter(u64::MAX),
        )],
    )
    .unwrap();
    std::fs::write(dir.path().join("py.retired.statkit"), encoded).unwrap();
    for sample in ["alltypes.mmstats", "one-string.mmstats", "one-bool.mmstats"] {
        std::fs::copy(mmstats_samples().join(sample), dir.path().join(sample)).unwrap();
    }
    std::fs::write(dir.path().join("zz-bad.statkit"), b"STATKIT").unwrap();

    let folder = dir.path().to_str().unwrap();
    let rust = statkit(&["slurp", "--json", folder]);
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/statkit/reader.py");
    let python = util::run_bounded(
        {
            let mut command = Command::new(util::python());
            command.arg(reader).arg(folder);
            command
        },
        util::TIMEOUT,
    );
    assert_eq!(rust.status.code(), Some(1), "{}", stderr(&rust));
    assert_eq!(python.status.code(), Some(1), "{}", stderr(&python));
    assert!(
        stderr(&python).contains("zz-bad.statkit: truncated"),
        "{}",
        stderr(&python)
    );
    let rust: Json = serde_json::from_slice(&rust.stdout).unwrap();
    let python: Json = serde_json::from_slice(&python.stdout).unwrap();
    assert_eq!(rust.as_array().unwrap().len(), 5);
    assert_eq!(rust, python);
    let described = rust
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["descriptions"].is_object());
    let described = &described.expect("the live file's descriptions")["descriptions"];
    assert_eq!(described["latency"]["help"], "time to answer, again");
    assert_eq!(described["latency"]["unit"], "seconds");
    assert_eq!(described.as_object().unwrap().len(), 2);
    drop(live);
}

/// `statkit serve` scans the stats folder and aggregates what changed, per
/// process and for the host, like received statsd.
#[test]
fn serve_feeds_the_stats_folder_into_its_aggregation() {
    let dir = tempfile::tempdir().unwrap();
    let live = registry(dir.path(), "fed");
    let requests = live.counter("requests", &[]).unwrap();
    requests.add(5);
    live.gauge("queue", &[]).unwrap().set(3.0);
    let folder = dir.path().to_str().unwrap();
    let server = util::Statkit::start(&[
        "--stats-dir",
        folder,
        "--stats-scan-interval",
        "0.05",
        "--flush-interval",
        "3600",
    ]);
    // The first scan is a baseline; what is added after it is counted.
    std::thread::sleep(std::time::Duration::from_millis(300));
    requests.add(7);
    let stem = format!("fed-{}", std::process::id());
    let deadline = std::time::Instant::now() + util::TIMEOUT;
    let counters = loop {
        let counters = util::admin(server.admin, "counters");
        if counters.contains("'shm.host.requests': 7") || std::time::Instant::now() > deadline {
            break counters;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(counters.contains("'shm.host.requests': 7"), "{counters}");
    assert!(
        counters.contains(&format!("'shm.{stem}.requests': 7")),
        "{counters}"
    );
    let gauges = util::admin(server.admin, "gauges");
    assert!(
        gauges.contains(&format!("'shm.{stem}.queue': 3")),
        "{gauges}"
    );
    drop(live);
}

/// Without a path, slurp (and the Python reader) read the stats folder and
/// the mmstats files in mmstats' default folder.
#[test]
fn without_a_path_both_folders_are_read() {
    let (stats, mmstats) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let live = registry(stats.path(), "both");
    live.counter("n", &[]).unwrap().add(2);
    std::fs::copy(
        mmstats_samples().join("one-counter.mmstats"),
        mmstats.path().join("app-1-1.mmstats"),
    )
    .unwrap();
    std::fs::write(mmstats.path().join("unrelated.txt"), b"not read").unwrap();
    let run = |mut command: Command| {
        // (No pipes: the Python reader reads files only.)
        command
            .env("STATKIT_DIR", stats.path())
            .env("MMSTATS_PATH", mmstats.path())
            .env("STATKIT_PIPE_DIR", stats.path().join("no-pipes"));
        let output = util::run_bounded(command, util::TIMEOUT);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<Json>(&output.stdout).unwrap()
    };
    let mut slurp = Command::new(env!("CARGO_BIN_EXE_statkit"));
    slurp.args(["slurp", "--json"]);
    let rust = run(slurp);
    let mut python = Command::new(util::python());
    python.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/statkit/reader.py"));
    assert_eq!(rust, run(python));
    let files = rust.as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["stats"]["n"], 2);
    assert_eq!(files[1]["stats"]["hits"], 42);
    drop(live);
}
