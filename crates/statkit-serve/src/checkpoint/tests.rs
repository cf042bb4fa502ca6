use std::sync::Arc;

use statkit_agg::{Options, Snapshot};

use super::{decode, encode, Checkpointer, LoadError, FILES};
use crate::pipeline::{Intake, Pipeline};
use crate::sink::queue::Queue;
use crate::sink::Fanout;

fn pipeline(intakes: usize) -> (Arc<Pipeline>, Vec<Intake>) {
    Pipeline::new(Options::default(), intakes, None, 1000)
}

fn counter(snapshot: &Snapshot, name: &str) -> Option<(f64, f64)> {
    (snapshot.counters())
        .find(|(k, _)| *k == name.as_bytes())
        .map(|(_, c)| (c.count, c.total))
}

/// A server's pipeline with a checkpointer in `dir`.
fn server(dir: &std::path::Path) -> (Checkpointer, Vec<Intake>, Arc<Pipeline>) {
    let (pipeline, intakes) = pipeline(2);
    (Checkpointer::new(dir, pipeline.clone()), intakes, pipeline)
}

fn memory_sink() -> (Fanout, Arc<Queue>) {
    let queue = Arc::new(Queue::new("test".into(), 16));
    (Fanout::of(vec![queue.clone()]), queue)
}

#[test]
fn a_restart_from_a_checkpoint_flushes_what_it_held_once() {
    let dir = tempfile::tempdir().unwrap();
    let (fanout, _queue) = memory_sink();
    let (first, intakes, _) = server(dir.path());
    intakes[0].fill(|t| t.ingest(b"a:1|c\ng:5|g"));
    first.flush(1010, None, |_| {}, &fanout);
    intakes[0].fill(|t| t.ingest(b"a:2|c"));
    intakes[1].fill(|t| t.ingest(b"a:4|c\ng:+1|g"));
    first.save();
    // Lines after the last checkpoint are lost with the process.
    intakes[1].fill(|t| t.ingest(b"a:100|c"));
    drop(first);

    let (second, _, pipeline) = server(dir.path());
    assert!(
        second.restore().is_none(),
        "the save after the flush left its copy out"
    );
    let snapshot = pipeline.flush(1020, None, false).snapshot;
    assert_eq!(counter(&snapshot, "a"), Some((6.0, 7.0)));
    assert_eq!(
        snapshot.gauges().find(|(k, _)| *k == b"g").map(|(_, v)| v),
        Some(6.0)
    );
}

#[test]
fn the_flush_step_keeps_the_flush_for_the_sinks_until_the_next_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (fanout, queue) = memory_sink();
    let (first, intakes, _) = server(dir.path());
    intakes[0].fill(|t| t.ingest(b"a:3|c"));
    first.flush(
        1010,
        None,
        |s| s.own.push(("stats_files_refused", 1.0)),
        &fanout,
    );
    assert_eq!(queue.waiting(), 1);
    drop(first);

    // A crash right after the flush: its copy comes back, with its number
    // and what `finish` added, and the interval restarts empty.
    let (second, _, pipeline) = server(dir.path());
    let outbox = second.restore().unwrap();
    assert_eq!(outbox.number, 1);
    assert_eq!(counter(&outbox.snapshot, "a"), Some((3.0, 3.0)));
    assert_eq!(
        outbox.snapshot.own.last(),
        Some(&("stats_files_refused", 1.0))
    );
    let snapshot = pipeline.flush(1020, None, false).snapshot;
    assert_eq!(counter(&snapshot, "a"), Some((0.0, 3.0)), "counted once");
    // A checkpoint after the flush leaves the outbox out.
    second.save();
    let (third, _, _) = server(dir.path());
    assert!(third.restore().is_none());
}

/// The file the newest checkpoint is in, and the other one.
fn newest(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let number = |name: &str| {
        let bytes = std::fs::read(dir.join(name)).ok()?;
        Some(decode(&bytes).ok()?.0)
    };
    let [a, b] = FILES;
    match number(a) > number(b) {
        true => (dir.join(a), dir.join(b)),
        false => (dir.join(b), dir.join(a)),
    }
}

#[test]
fn a_torn_newest_file_falls_back_to_the_other_one() {
    let dir = tempfile::tempdir().unwrap();
    let (fanout, _queue) = memory_sink();
    let (first, intakes, _) = server(dir.path());
    intakes[0].fill(|t| t.ingest(b"a:3|c"));
    first.save();
    intakes[0].fill(|t| t.ingest(b"a:4|c"));
    first.flush(1010, None, |_| {}, &fanout);
    // A crash in the middle of writing the flush's checkpoint: the flush
    // never reached the sinks, and the one before holds its first line.
    let (torn, _) = newest(dir.path());
    let bytes = std::fs::read(&torn).unwrap();
    std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
    let (second, _, pipeline) = server(dir.path());
    assert!(second.restore().is_none(), "no outbox in the older one");
    assert!(!torn.exists(), "the torn file is moved aside");
    let snapshot = pipeline.flush(1020, None, false).snapshot;
    assert_eq!(counter(&snapshot, "a"), Some((3.0, 3.0)));
    // The next checkpoint goes into the file that was moved aside.
    second.save();
    assert!(torn.exists());
}

#[test]
fn damaged_or_foreign_files_are_set_aside_and_the_server_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    for name in FILES {
        std::fs::write(dir.path().join(name), b"not a checkpoint").unwrap();
    }
    let (second, _, pipeline) = server(dir.path());
    assert!(second.restore().is_none());
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.contains(".bad-")), "{names:?}");
    assert_eq!(
        pipeline
            .flush(1020, None, false)
            .snapshot
            .counters()
            .count(),
        3,
        "only etsy's own counters"
    );
}

#[test]
fn the_file_refuses_damage_truncation_and_other_formats() {
    let (pipeline, intakes) = pipeline(1);
    intakes[0].fill(|t| t.ingest(b"a:3|c\ns:x|s"));
    let checkpoint = pipeline.capture();
    let snapshot = pipeline.flush(1010, None, false).snapshot;
    let mut flush = Vec::new();
    snapshot.encode(&mut flush);
    for outbox in [None, Some((7, &flush[..]))] {
        let bytes = encode(5, &checkpoint, outbox);
        let (number, back, kept) = decode(&bytes).unwrap();
        assert_eq!((number, back.series()), (5, checkpoint.series()));
        assert_eq!(
            kept.map(|o| (o.number, o.bytes)),
            outbox.map(|(n, b)| (n, b.to_vec()))
        );
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x10;
            assert!(decode(&flipped).is_err(), "flipped byte {i}");
        }
    }
    let mut other = encode(0, &checkpoint, None);
    other[0] = b'X';
    assert!(matches!(decode(&other), Err(LoadError::Foreign)));
}

#[test]
fn a_checkpoint_is_written_only_when_something_changed() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, intakes, pipeline) = server(dir.path());
    let number = || {
        let (path, _) = newest(dir.path());
        decode(&std::fs::read(path).unwrap()).unwrap().0
    };
    intakes[0].fill(|t| t.ingest(b"a:1|c"));
    checkpoints.save();
    assert_eq!(number(), 0);
    checkpoints.save();
    assert_eq!(number(), 0, "nothing new: no write");
    intakes[1].fill(|t| t.ingest(b"a:1|c"));
    checkpoints.save();
    assert_eq!(number(), 1, "a new line: a new checkpoint");
    pipeline.delete(statkit_agg::Kind::Counters, &["a"]);
    checkpoints.save();
    assert_eq!(number(), 2, "a deletion: a new checkpoint");
}
