//! A process registering far more metrics than one segment holds: the
//! library chains continuation files while other threads keep writing, and
//! `statkit slurp --json` and the Python reader follow the chain.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use serde_json::{json, Value as Json};
use statkit::shm::{Options, RegisterError, Registry};

use crate::util;

/// Entries per segment: small, so the chain gets long.
const CAPACITY: u32 = 16;
/// Counters registered while the writers run.
const LATE: u64 = 700;

fn slurp(folder: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_statkit"))
        .args(["slurp", "--json"])
        .arg(folder)
        .output()
        .expect("statkit runs")
}

fn python(folder: &Path) -> Output {
    let reader = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/statkit/reader.py");
    let mut command = Command::new(util::python());
    command.arg(reader).arg(folder);
    util::run_bounded(command, util::TIMEOUT)
}

fn stats(output: &Output) -> Json {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let files: Json = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    files[0]["stats"].clone()
}

#[test]
fn metrics_past_the_first_segment_are_chained_while_threads_write() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "grow".into(),
        capacity: CAPACITY,
        // 1024 words: one histogram (520) per segment at most.
        block_size: 8192,
        max_segments: 64,
        ..Options::default()
    })
    .unwrap();
    let early = registry.counter("early", &[]).unwrap();
    let done = AtomicBool::new(false);
    let mut late = Vec::new();
    let counted: u64 = std::thread::scope(|s| {
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (early, done, registry) = (&early, &done, &registry);
                s.spawn(move || {
                    let mut n = 0u64;
                    // Bounded by the registrations below, which end.
                    while !done.load(Relaxed) {
                        early.inc();
                        n += 1;
                    }
                    // Cells of segments added after this thread's block.
                    for i in 0..LATE {
                        registry.counter(&format!("c.{i}"), &[]).unwrap().inc();
                    }
                    n
                })
            })
            .collect();
        for i in 0..LATE {
            late.push(registry.counter(&format!("c.{i}"), &[]).unwrap());
            late[i as usize].add(i);
            if i % 100 == 0 {
                registry
                    .histogram(&format!("h.{i}"), &[])
                    .unwrap()
                    .record(i as f64);
            }
        }
        done.store(true, Relaxed);
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    // A thread started after the chain grew gets a block in every segment.
    std::thread::spawn({
        let last = late[LATE as usize - 1].clone();
        move || last.add(10)
    })
    .join()
    .unwrap();

    let path = registry.path().unwrap().to_owned();
    let segments = (1..64)
        .take_while(|n| Path::new(&format!("{}.{n}", path.display())).exists())
        .count();
    assert!(
        segments >= (LATE / u64::from(CAPACITY)) as usize,
        "{segments}"
    );

    let rust = stats(&slurp(dir.path()));
    let mut expected = BTreeMap::new();
    expected.insert("early".to_owned(), json!(counted));
    for i in 0..LATE {
        let extra = if i == LATE - 1 { 10 } else { 0 };
        expected.insert(format!("c.{i}"), json!(i + 2 + extra));
    }
    let rust_map = rust.as_object().unwrap();
    for (label, value) in &expected {
        assert_eq!(rust_map.get(label), Some(value), "{label}");
    }
    for i in (0..LATE).step_by(100) {
        assert_eq!(rust[format!("h.{i}")]["count"], json!(1), "h.{i}");
        assert_eq!(rust[format!("h.{i}")]["max"], json!(i as f64));
    }
    assert_eq!(rust_map.len(), expected.len() + 7);
    assert_eq!(rust, stats(&python(dir.path())));

    // The last segment full: a clear error at registration.
    let refused = (0..64 * CAPACITY)
        .map(|i| registry.counter(&format!("more.{i}"), &[]))
        .find_map(Result::err);
    assert!(
        matches!(
            refused,
            Some(RegisterError::Full {
                what: "entries",
                ..
            })
        ),
        "{refused:?}"
    );
    drop(registry);
    drop((early, late));
    assert!(!path.exists());
    assert!(!Path::new(&format!("{}.1", path.display())).exists());
}

/// A chain with a continuation missing or cut short is reported with the
/// main file's path and the reason by both readers; nothing panics.
#[test]
fn a_broken_chain_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "broken".into(),
        capacity: 2,
        ..Options::default()
    })
    .unwrap();
    for i in 0..8 {
        registry.counter(&format!("n.{i}"), &[]).unwrap().inc();
    }
    let path = registry.path().unwrap().to_owned();
    let part = |n: u32| std::path::PathBuf::from(format!("{}.{n}", path.display()));
    std::fs::File::options()
        .write(true)
        .open(part(1))
        .unwrap()
        .set_len(100)
        .unwrap();
    std::fs::remove_file(part(2)).unwrap();
    std::fs::copy(part(3), part(2)).unwrap();
    for (output, cut) in [
        (slurp(dir.path()), "truncated"),
        (python(dir.path()), "truncated"),
    ] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("broken chain: continuation 1"), "{stderr}");
        assert!(stderr.contains(cut), "{stderr}");
    }
    std::fs::copy(part(3), part(1)).unwrap();
    for output in [slurp(dir.path()), python(dir.path())] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("continuation 1") && stderr.contains("another file"),
            "{stderr}"
        );
    }
    std::fs::remove_file(part(1)).unwrap();
    for output in [slurp(dir.path()), python(dir.path())] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("broken chain: continuation 1"), "{stderr}");
    }
}
