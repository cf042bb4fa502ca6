//! The shared-memory publisher, read back through the format's decoder as
//! another process would read the file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use statkit::shm::{Options, RegisterError, Registry};
use statkit_format::{decode, StatFile, Value};

fn options(dir: &Path) -> Options {
    Options {
        dir: dir.to_owned(),
        program: "shm-test".into(),
        ..Options::default()
    }
}

fn read(path: &Path) -> StatFile {
    decode(&std::fs::read(path).unwrap()).unwrap()
}

fn value(file: &StatFile, label: &str) -> Value {
    file.stats
        .iter()
        .find(|s| s.label == label)
        .unwrap_or_else(|| panic!("no {label}"))
        .value
        .clone()
}

#[test]
fn every_kind_reads_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    let path = registry.path().unwrap().to_owned();
    assert_eq!(
        path,
        dir.path()
            .join(format!("shm-test-{}.statkit", std::process::id()))
    );

    registry
        .counter("hits", &[("code", "200")])
        .unwrap()
        .add(41);
    registry.counter("hits", &[("code", "200")]).unwrap().inc();
    registry.gauge("queue", &[]).unwrap().set(-2.5);
    let latency = registry.histogram("latency", &[]).unwrap();
    [0.5, 1.0, 2.0].iter().for_each(|&v| latency.record(v));
    latency.time(|| ());
    registry.text("version", &[]).unwrap().set("1.2.3");
    let avg = registry.average("avg", &[]).unwrap();
    avg.add(1.0);
    avg.add(2.0);
    let moving = registry.moving_average("mavg", &[], 3).unwrap();
    [1.0, 2.0, 3.0, 4.0].iter().for_each(|&v| moving.add(v));

    let file = read(&path);
    assert_eq!(value(&file, "hits{code=200}"), Value::Counter(42));
    assert_eq!(value(&file, "queue"), Value::Gauge(-2.5));
    assert_eq!(value(&file, "version"), Value::Text("1.2.3".into()));
    assert_eq!(value(&file, "avg"), Value::Average { count: 2, sum: 3.0 });
    assert_eq!(value(&file, "mavg"), Value::MovingAverage(3.0));
    let Value::Histogram(h) = value(&file, "latency") else {
        panic!()
    };
    assert_eq!((h.count, h.max), (4, 2.0));
    assert!(h.min >= 0.0 && h.min < 0.5);

    let identity = file.identity.unwrap();
    assert_eq!(identity.pid, std::process::id());
    assert_eq!(identity.program, "shm-test");
    assert_eq!(identity.start_time, statkit::shm::process_start_time());
    assert!(identity.created_ns > 0);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn threads_write_their_own_cells_and_readers_sum_them() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    let counter = registry.counter("n", &[]).unwrap();
    let histogram = registry.histogram("h", &[]).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (counter, histogram) = (counter.clone(), histogram.clone());
            s.spawn(move || {
                for i in 0..10_000 {
                    counter.inc();
                    histogram.record(f64::from(t * 10_000 + i));
                }
            });
        }
    });
    assert_eq!(counter.total(), 40_000);
    let file = read(registry.path().unwrap());
    assert_eq!(value(&file, "n"), Value::Counter(40_000));
    let Value::Histogram(h) = value(&file, "h") else {
        panic!()
    };
    assert_eq!(h.count, 40_000);
    assert_eq!(h.buckets.iter().sum::<u64>(), 40_000);
    assert_eq!((h.min, h.max), (0.0, 39_999.0));
}

#[test]
fn an_ended_thread_hands_its_block_and_totals_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    let counter = registry.counter("n", &[]).unwrap();
    for _ in 0..20 {
        let counter = counter.clone();
        std::thread::spawn(move || counter.add(5)).join().unwrap();
    }
    assert_eq!(counter.total(), 100);
    let bytes = std::fs::read(registry.path().unwrap()).unwrap();
    let (header, _) = statkit_format::Header::decode(&bytes).unwrap();
    assert_eq!(header.blocks, 2, "one thread block, reused by every thread");
}

#[test]
fn names_register_once_and_errors_come_at_registration() {
    let registry = Registry::in_memory(Options {
        capacity: 3,
        max_segments: 1,
        ..Options::default()
    })
    .unwrap();
    let a = registry.counter("a", &[]).unwrap();
    registry.counter("a", &[]).unwrap().add(2);
    assert_eq!(a.total(), 2);
    assert!(matches!(
        registry.gauge("a", &[]),
        Err(RegisterError::KindConflict {
            existing: "counter",
            requested: "gauge",
            ..
        })
    ));
    let long = "x".repeat(200);
    assert!(matches!(
        registry.counter(&long, &[]),
        Err(RegisterError::TooLong { .. })
    ));
    registry.gauge("b", &[]).unwrap();
    registry.text("c", &[]).unwrap();
    assert!(matches!(
        registry.counter("d", &[]),
        Err(RegisterError::Full {
            what: "entries",
            ..
        })
    ));

    let small = Registry::in_memory(Options {
        block_size: 8192,
        max_segments: 1,
        ..Options::default()
    })
    .unwrap();
    small.histogram("fits", &[]).unwrap();
    assert!(matches!(
        small.histogram("too many", &[]),
        Err(RegisterError::Full { what: "cells", .. })
    ));

    // A histogram (4160 bytes) never fits a 4096-byte block: refused
    // without adding a continuation, so counters still fit the first file.
    let tiny = Registry::in_memory(Options {
        block_size: 4096,
        capacity: 2,
        max_segments: 2,
        ..Options::default()
    })
    .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            tiny.histogram("h", &[]),
            Err(RegisterError::Full { what: "cells", .. })
        ));
    }
    for i in 0..4 {
        tiny.counter(&format!("c{i}"), &[]).unwrap().inc();
    }
    assert!(matches!(
        tiny.counter("c4", &[]),
        Err(RegisterError::Full {
            what: "entries",
            ..
        })
    ));
}

#[test]
fn the_file_goes_when_the_registry_and_its_handles_go() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    let path = registry.path().unwrap().to_owned();
    let counter = registry.counter("n", &[]).unwrap();
    drop(registry);
    counter.inc();
    assert!(path.exists());
    drop(counter);
    assert!(!path.exists());
}

#[test]
fn threads_past_the_limit_share_a_block_outside_the_file() {
    let registry = Registry::in_memory(Options {
        max_threads: 1,
        ..Options::default()
    })
    .unwrap();
    let counter = registry.counter("n", &[]).unwrap();
    counter.inc();
    let other = counter.clone();
    // The first thread's block stays leased while this one runs.
    let (held, release) = std::sync::mpsc::channel::<()>();
    let holder = {
        let counter = counter.clone();
        std::thread::spawn(move || {
            counter.inc();
            let _ = release.recv();
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(10));
    std::thread::spawn(move || other.add(3)).join().unwrap();
    drop(held);
    holder.join().unwrap();
    assert_eq!(counter.total(), 5);
    assert!(registry.stats().overflow_threads >= 1);
}

#[test]
fn the_metrics_facade_records_into_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    metrics::with_local_recorder(&registry, || {
        metrics::counter!("requests", "code" => "500").increment(3);
        metrics::counter!("requests", "code" => "500").absolute(10);
        metrics::gauge!("temp").set(20.0);
        metrics::gauge!("temp").increment(1.5);
        metrics::histogram!("size").record(512.0);
        metrics::gauge!("requests", "code" => "500").set(1.0);
    });
    let file = read(registry.path().unwrap());
    assert_eq!(value(&file, "requests{code=500}"), Value::Counter(10));
    assert_eq!(value(&file, "temp"), Value::Gauge(21.5));
    let Value::Histogram(h) = value(&file, "size") else {
        panic!()
    };
    assert_eq!(h.count, 1);
    assert_eq!(
        registry.stats().refused,
        1,
        "the gauge that clashed with a counter"
    );
}

/// `describe_*` before and after the metric reach the file, where
/// another process' decoder finds them; a chain's continuation does not
/// move them.
#[test]
fn facade_descriptions_reach_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        capacity: 1,
        ..options(dir.path())
    })
    .unwrap();
    metrics::with_local_recorder(&registry, || {
        metrics::describe_histogram!("latency", metrics::Unit::Seconds, "time to answer");
        metrics::histogram!("latency").record(0.25);
        metrics::counter!("hits", "code" => "200").increment(3);
        metrics::describe_counter!("hits", "requests \"served\"\nby code");
    });
    let file = read(registry.path().unwrap());
    let Value::Histogram(h) = value(&file, "latency") else {
        panic!()
    };
    assert_eq!(h.count, 1);
    let latency = file.description("latency").unwrap();
    assert_eq!(
        (latency.unit.as_str(), latency.help.as_str()),
        ("seconds", "time to answer")
    );
    let hits = file.description("hits{code=200}").unwrap();
    assert_eq!(
        (hits.unit.as_str(), hits.help.as_str()),
        ("", "requests \"served\"\nby code")
    );
    assert_eq!(registry.stats().refused_descriptions, 0);
}

/// Runs in a child copy of this test binary (with `STATKIT_DIR` set) and
/// checks there that the default registry's file exists; the parent checks
/// the child's normal exit removed it.
#[test]
fn the_default_registry_removes_its_file_at_exit() {
    const CHILD: &str = "STATKIT_SHM_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        statkit::incr("child.hits", 3);
        statkit::set("child.gauge", 1.0);
        statkit::record("child.size", 2.0);
        let path = statkit::shm::global().path().expect("a published file");
        assert!(path.exists());
        println!("PATH={}", path.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "shm::the_default_registry_removes_its_file_at_exit",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .env("STATKIT_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let path = stdout
        .lines()
        .find_map(|line| line.strip_prefix("PATH="))
        .expect("the child printed its file");
    assert!(path.starts_with(dir.path().to_str().unwrap()));
    assert!(!Path::new(path).exists(), "removed at exit");
}

#[test]
fn the_mmstats_mirror_is_an_mmstats_file_of_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::in_memory(Options::default()).unwrap();
    let hits = registry.counter("hits", &[]).unwrap();
    hits.add(3);
    registry.gauge("queue", &[]).unwrap().set(1.5);
    registry.text("state", &[]).unwrap().set("serving");
    let latency = registry.histogram("latency", &[]).unwrap();
    [1.0, 2.0, 3.0].iter().for_each(|&v| latency.record(v));
    let path = dir.path().join("app-1-1.mmstats");
    let interval = std::time::Duration::from_millis(20);
    let mirror = registry.mirror_mmstats(path.clone(), interval).unwrap();

    let file = read(&path);
    assert_eq!(file.format, statkit_format::Format::Mmstats);
    assert_eq!(file.pid, Some(std::process::id()));
    assert_eq!(value(&file, "hits"), Value::Unsigned(3));
    assert_eq!(value(&file, "queue"), Value::Float(1.5));
    assert_eq!(value(&file, "state"), Value::Text("serving".into()));
    assert_eq!(value(&file, "latency.count"), Value::Unsigned(3));
    assert_eq!(value(&file, "latency.max"), Value::Float(3.0));
    assert_eq!(value(&file, "latency.mean"), Value::Float(2.0));
    assert_eq!(
        std::fs::metadata(&path).unwrap().len() % 4096,
        0,
        "whole pages, as mmstats writes"
    );

    // Later values reach the copy within a few intervals.
    hits.add(4);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while value(&read(&path), "hits") != Value::Unsigned(7) {
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror never caught up"
        );
        std::thread::sleep(interval);
    }
    drop(mirror);
    assert!(!path.exists());
}

#[test]
fn two_registries_of_one_program_get_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let first = Registry::publish(options(dir.path())).unwrap();
    let second = Registry::publish(options(dir.path())).unwrap();
    let pid = std::process::id();
    assert_eq!(
        first.path().unwrap(),
        dir.path().join(format!("shm-test-{pid}.statkit"))
    );
    assert_eq!(
        second.path().unwrap(),
        dir.path().join(format!("shm-test-{pid}-2.statkit"))
    );
    assert!(first.path().unwrap().exists());
}

#[test]
fn a_stale_file_of_the_same_name_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join(format!("shm-test-{}.statkit", std::process::id()));
    std::fs::write(&path, b"left by an earlier process with this pid").unwrap();
    let registry = Registry::publish(options(dir.path())).unwrap();
    assert_eq!(registry.path().unwrap(), path);
    assert!(read(&path).stats.is_empty());
}
