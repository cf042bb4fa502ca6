use std::sync::Arc;

use statkit_agg::{Options, Snapshot};

use super::{decode, encode, Checkpointer, LoadError, FILE};
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

#[test]
fn a_damaged_or_foreign_file_is_set_aside_and_the_server_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (fanout, _queue) = memory_sink();
    let (first, intakes, _) = server(dir.path());
    intakes[0].fill(|t| t.ingest(b"a:3|c"));
    first.flush(1010, None, |_| {}, &fanout);
    let path = dir.path().join(FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let (second, _, pipeline) = server(dir.path());
    assert!(second.restore().is_none());
    assert!(!path.exists());
    let aside = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(aside, 1, "moved to checkpoint.bad-<time>");
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
        let bytes = encode(&checkpoint, outbox);
        let (back, kept) = decode(&bytes).unwrap();
        assert_eq!(back.series(), checkpoint.series());
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
    let mut other = encode(&checkpoint, None);
    other[0] = b'X';
    assert!(matches!(decode(&other), Err(LoadError::Foreign)));
}

#[test]
fn a_checkpoint_is_written_only_when_something_changed() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let (checkpoints, intakes, pipeline) = server(dir.path());
    let inode = || std::fs::metadata(dir.path().join(FILE)).unwrap().ino();
    intakes[0].fill(|t| t.ingest(b"a:1|c"));
    checkpoints.save();
    let first = inode();
    checkpoints.save();
    assert_eq!(inode(), first, "nothing new: no write");
    intakes[1].fill(|t| t.ingest(b"a:1|c"));
    checkpoints.save();
    let second = inode();
    assert_ne!(second, first, "a new line: a new file");
    pipeline.delete(statkit_agg::Kind::Counters, &["a"]);
    checkpoints.save();
    assert_ne!(inode(), second, "a deletion: a new file");
}
