//! Reading files the library writes: a snapshot (compact copy of the used
//! parts) decodes to what the whole file decodes to, a damaged file keeps
//! its precise error, and a reader racing writers never accepts a
//! half-written value.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use statkit::shm::{Options, Registry};
use statkit_format::{decode, FormatError, Value};
use statkit_scan::{liveness, read_file, snapshot, Liveness, ReadError};

fn options(dir: &Path) -> Options {
    Options {
        dir: dir.to_owned(),
        program: "snap".into(),
        ..Options::default()
    }
}

fn publish(dir: &Path) -> Registry {
    Registry::publish(options(dir)).unwrap()
}

#[test]
fn the_compact_copy_decodes_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = publish(dir.path());
    registry.counter("c", &[]).unwrap().add(3);
    registry.histogram("h", &[("k", "v")]).unwrap().record(0.5);
    registry.text("t", &[]).unwrap().set("hello");
    registry.gauge("g", &[]).unwrap().set(1.5);
    registry.describe("c", "", "before the copy").unwrap();
    registry.describe("h", "seconds", "a histogram").unwrap();
    let path = registry.path().unwrap();
    let whole = decode(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(whole.descriptions.len(), 2);
    let copy = snapshot(path, &statkit_scan::Limits::default()).unwrap();
    assert!(copy.len() < 64 * 1024, "{} bytes", copy.len());
    assert_eq!(decode(&copy).unwrap(), whole);
}

/// A chain's descriptions are the main file's, whichever segment holds
/// the metric; one described before the file grew stays.
#[test]
fn a_chain_reads_with_the_main_file_s_descriptions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        capacity: 1,
        ..options(dir.path())
    })
    .unwrap();
    registry
        .describe("late", "bytes", "in the continuation")
        .unwrap();
    registry.counter("first", &[]).unwrap().inc();
    registry.gauge("late", &[]).unwrap().set(2.0);
    let file = read_file(registry.path().unwrap()).unwrap();
    assert_eq!(file.stats.len(), 2);
    assert_eq!(
        file.description("late").unwrap().help,
        "in the continuation"
    );
}

/// A section that lies is read whole and refused with the decoder's
/// reason, not copied on trust.
#[test]
fn a_lying_descriptions_section_is_refused_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let registry = publish(dir.path());
    registry.describe("c", "", "text").unwrap();
    let mut bytes = std::fs::read(registry.path().unwrap()).unwrap();
    let used = statkit_format::layout::header::DESCRIPTIONS_USED;
    bytes[used..used + 4].copy_from_slice(&(1u32 << 21).to_le_bytes());
    let lying = dir.path().join("lying.statkit");
    std::fs::write(&lying, &bytes).unwrap();
    match read_file(&lying) {
        Err(ReadError::Format {
            source:
                FormatError::SizeLying {
                    field: "descriptions used",
                    ..
                },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

/// A file written before the section existed (a 136-byte header) is
/// copied and read as before.
#[test]
fn a_file_without_the_section_reads_through_the_copy() {
    let old = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statkit-format/tests/testdata/v2-header-136.statkit"
    );
    let file = read_file(Path::new(old)).unwrap();
    assert_eq!(file.stats.len(), 3);
    assert!(file.descriptions.is_empty());
    assert_eq!(file, decode(&std::fs::read(old).unwrap()).unwrap());
}

#[test]
fn a_truncated_file_is_reported_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let registry = publish(dir.path());
    registry.counter("c", &[]).unwrap().inc();
    let bytes = std::fs::read(registry.path().unwrap()).unwrap();
    let cut = dir.path().join("cut.statkit");
    std::fs::write(&cut, &bytes[..bytes.len() - 4096]).unwrap();
    match read_file(&cut) {
        Err(ReadError::Format {
            source: FormatError::Truncated { what: "blocks", .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_reader_racing_writers_sees_only_whole_values() {
    let dir = tempfile::tempdir().unwrap();
    let registry = publish(dir.path());
    let histogram = registry.histogram("h", &[]).unwrap();
    let average = registry.average("a", &[]).unwrap();
    let path = registry.path().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (histogram, average, stop) = (histogram.clone(), average.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Relaxed) && n < 100_000_000 {
                    histogram.record(1.0);
                    average.add(2.0);
                    n += 1;
                    // Bursts with short gaps: on two busy cores, writers
                    // that never pause can tear every read a reader tries.
                    if n % 4096 == 0 {
                        std::thread::sleep(std::time::Duration::from_micros(50));
                    }
                }
            })
        })
        .collect();
    let mut seen = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for _ in 0..2000 {
        if seen >= 50 || std::time::Instant::now() > deadline {
            break;
        }
        let file = match read_file(&path) {
            Ok(file) => file,
            // Five torn reads in a row is possible on a busy machine; the
            // point is that no mixed value is ever accepted.
            Err(statkit_scan::ReadError::Format {
                source: statkit_format::FormatError::Torn { .. },
                ..
            }) => continue,
            Err(other) => panic!("{other}"),
        };
        assert_eq!(liveness(&file), Liveness::Alive);
        for stat in &file.stats {
            match &stat.value {
                Value::Histogram(h) => {
                    assert_eq!(h.buckets.iter().sum::<u64>(), h.count);
                    assert_eq!(h.sum, h.count as f64);
                }
                Value::Average { count, sum } => assert_eq!(*sum, 2.0 * *count as f64),
                other => panic!("{other:?}"),
            }
        }
        seen += 1;
    }
    stop.store(true, Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
    assert!(seen > 0);
}
