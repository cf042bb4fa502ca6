//! A reader racing a writer never accepts a half-written value, and sees
//! the file's liveness right.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use statkit::shm::{Options, Registry};
use statkit_format::Value;
use statkit_scan::{liveness, read_file, Liveness};

#[test]
fn a_reader_racing_writers_sees_only_whole_values() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "race".into(),
        ..Options::default()
    })
    .unwrap();
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
                }
            })
        })
        .collect();
    let mut seen = 0;
    for _ in 0..200 {
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
