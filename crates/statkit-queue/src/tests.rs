use std::collections::VecDeque;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{DiskQueue, Options, QueueError, Stats, HEADER, RECORD_OVERHEAD};

fn small() -> Options {
    Options {
        max_bytes: 2000,
        segment_bytes: 512,
    }
}

fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// Every record left, popping them.
fn drain(queue: &mut DiskQueue) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(data) = queue.peek().unwrap() {
        out.push(data.to_vec());
        assert!(queue.pop().unwrap());
    }
    out
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn keeps_order_across_segments_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    let records: Vec<Vec<u8>> = (0..12).map(|i| record(i, 100)).collect();
    for r in &records {
        queue.push(r).unwrap();
    }
    assert_eq!(queue.len(), 12);
    assert_eq!(queue.bytes(), 12 * (100 + RECORD_OVERHEAD));
    assert!(segments(dir.path()).len() >= 3);
    assert_eq!(queue.peek().unwrap(), Some(&records[0][..]));
    assert!(queue.pop().unwrap());
    drop(queue);
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    assert_eq!(queue.recovery(), &Default::default());
    assert_eq!(queue.len(), 11);
    assert_eq!(drain(&mut queue), records[1..]);
    assert!(!queue.pop().unwrap());
    assert!(queue.is_empty());
    // Popped segments are gone but the last, which takes the next push.
    assert_eq!(segments(dir.path()).len(), 1);
    drop(queue);
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    assert_eq!(queue.peek().unwrap(), None);
}

#[test]
fn drops_the_oldest_past_the_bound_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    // 30 records of 108 bytes; 18 fit 2000.
    for i in 0..30 {
        queue.push(&record(i, 100)).unwrap();
        assert!(queue.bytes() <= 2000);
    }
    assert_eq!(queue.len(), 18);
    let stats = queue.stats();
    assert_eq!((stats.dropped_records, stats.dropped_bytes), (12, 12 * 108));
    let left = drain(&mut queue);
    assert_eq!(left, (12..30).map(|i| record(i, 100)).collect::<Vec<_>>());
}

#[test]
fn refuses_a_record_larger_than_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    queue.push(b"kept").unwrap();
    let error = queue.push(&[0; 1993]).unwrap_err();
    assert!(
        matches!(
            error,
            QueueError::TooLarge {
                bytes: 2001,
                max: 2000
            }
        ),
        "{error}"
    );
    assert_eq!(queue.stats().dropped_records, 1);
    // A record as large as the bound fits, alone, in a segment of its own.
    queue.push(&[7; 1992]).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue.peek().unwrap(), Some(&[7; 1992][..]));
}

#[test]
fn folder_and_files_are_private_and_links_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue/graphite");
    let mut queue = DiskQueue::open(&path, small()).unwrap();
    queue.push(b"x").unwrap();
    queue.pop().unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o700);
    for entry in fs::read_dir(&path).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
    drop(queue);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    drop(DiskQueue::open(&path, small()).unwrap());
    assert_eq!(mode(&path), 0o700);

    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(matches!(
        DiskQueue::open(&link, small()),
        Err(QueueError::NotAFolder(_))
    ));
    // A segment that is a link is not followed.
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    std::os::unix::fs::symlink(
        segments(&path)[0].clone(),
        other.join("00000000000000000000.seg"),
    )
    .unwrap();
    assert!(matches!(
        DiskQueue::open(&other, small()),
        Err(QueueError::Io { .. })
    ));
}

#[test]
fn refuses_options_that_leave_no_room() {
    let dir = tempfile::tempdir().unwrap();
    for options in [
        Options {
            max_bytes: 8,
            ..small()
        },
        Options {
            segment_bytes: 16,
            ..small()
        },
    ] {
        assert!(matches!(
            DiskQueue::open(dir.path(), options),
            Err(QueueError::Options(_))
        ));
    }
}

#[test]
fn a_damaged_segment_is_set_aside_and_the_queue_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    for i in 0..12 {
        queue.push(&record(i, 100)).unwrap();
    }
    drop(queue);
    // Four records a segment: flip a byte of the second segment's first.
    let paths = segments(dir.path());
    let mut bytes = fs::read(&paths[1]).unwrap();
    bytes[HEADER as usize + 20] ^= 0xff;
    fs::write(&paths[1], bytes).unwrap();

    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    let recovery = queue.recovery().clone();
    assert_eq!(recovery.set_aside.len(), 1);
    let set_aside = &recovery.set_aside[0];
    assert_eq!(set_aside.segment, paths[1]);
    assert_eq!(set_aside.offset, HEADER);
    assert_eq!(set_aside.records_lost, 0);
    assert!(set_aside.renamed.exists());
    assert!(set_aside.to_string().contains("CRC"), "{set_aside}");
    assert_eq!(queue.len(), 8);
    let left = drain(&mut queue);
    let expected: Vec<_> = (0..4).chain(8..12).map(|i| record(i, 100)).collect();
    assert_eq!(left, expected);
    // New segments never take a set-aside segment's number.
    queue.push(b"after").unwrap();
    assert_eq!(drain(&mut queue), [b"after".to_vec()]);
}

#[test]
fn damage_found_while_reading_sets_the_segment_aside() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    for i in 0..8 {
        queue.push(&record(i, 100)).unwrap();
    }
    let paths = segments(dir.path());
    let mut bytes = fs::read(&paths[0]).unwrap();
    bytes[HEADER as usize + 20] ^= 0xff;
    fs::write(&paths[0], bytes).unwrap();
    match queue.peek() {
        Err(QueueError::Corrupt(set_aside)) => {
            assert_eq!(set_aside.records_lost, 4);
            assert!(set_aside.renamed.exists());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(queue.len(), 4);
    assert_eq!(
        drain(&mut queue),
        (4..8).map(|i| record(i, 100)).collect::<Vec<_>>()
    );
}

#[test]
fn a_missing_cursor_delivers_again_rather_than_loses() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    for i in 0..3 {
        queue.push(&record(i, 10)).unwrap();
    }
    queue.pop().unwrap();
    drop(queue);
    fs::remove_file(dir.path().join("cursor")).unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    assert!(queue.recovery().cursor_reset);
    assert_eq!(queue.len(), 3);
    assert_eq!(drain(&mut queue).len(), 3);
}

/// A crash in the middle of writing the last record, at every byte: the
/// records before it survive whole, nothing of it does, and the queue
/// takes pushes after it.
#[test]
fn a_torn_last_record_is_cut_off_at_every_offset() {
    let base = tempfile::tempdir().unwrap();
    let source = base.path().join("source");
    let mut queue = DiskQueue::open(&source, small()).unwrap();
    let records: Vec<Vec<u8>> = (0..6).map(|i| record(i, 60 + i)).collect();
    for r in &records {
        queue.push(r).unwrap();
    }
    queue.pop().unwrap();
    drop(queue);
    let last = segments(&source).pop().unwrap();
    let full = fs::read(&last).unwrap();
    let last_len = records[5].len() + RECORD_OVERHEAD as usize;
    let last_start = full.len() - last_len;
    for cut in last_start..full.len() {
        let dir = base.path().join(format!("cut-{cut}"));
        fs::create_dir(&dir).unwrap();
        for entry in fs::read_dir(&source).unwrap() {
            let path = entry.unwrap().path();
            fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        let name = last.file_name().unwrap();
        fs::write(dir.join(name), &full[..cut]).unwrap();

        let mut queue = DiskQueue::open(&dir, small()).unwrap();
        let recovery = queue.recovery();
        assert_eq!(recovery.torn_tails, u64::from(cut > last_start), "{cut}");
        assert_eq!(recovery.torn_bytes, (cut - last_start) as u64);
        assert!(recovery.set_aside.is_empty() && !recovery.cursor_reset);
        assert_eq!(queue.len(), 4, "{cut}");
        queue.push(b"next").unwrap();
        let mut expected = records[1..5].to_vec();
        expected.push(b"next".to_vec());
        assert_eq!(drain(&mut queue), expected, "{cut}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// A file system that extended the file but did not write its data (zeros
/// where the last record should be) counts as torn too.
#[test]
fn a_zeroed_tail_is_torn_not_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    queue.push(b"kept").unwrap();
    drop(queue);
    let path = segments(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend([0; 40]);
    fs::write(&path, bytes).unwrap();
    let mut queue = DiskQueue::open(dir.path(), small()).unwrap();
    assert_eq!(queue.recovery().torn_tails, 1);
    assert_eq!(queue.recovery().torn_bytes, 40);
    assert_eq!(drain(&mut queue), [b"kept".to_vec()]);
}

/// A full disk: pushes fail with `NoSpace`, are counted as dropped, and
/// what was queued before stays whole and in order. Needs a small tmpfs,
/// so root; skipped with the reason otherwise (the bound's drops are
/// tested above with a small `max_bytes`).
#[test]
fn a_full_disk_drops_and_counts_without_breaking_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
        .arg(dir.path())
        .output();
    match mount {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipped: cannot mount a 1 MiB tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(error) => {
            eprintln!("skipped: cannot run mount: {error}");
            return;
        }
    }
    /// Unmounts however the test ends.
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());

    let options = Options {
        max_bytes: 64 << 20,
        segment_bytes: 256 << 10,
    };
    let mut queue = DiskQueue::open(dir.path().join("q"), options).unwrap();
    let mut accepted = Vec::new();
    let mut full = 0;
    for i in 0..40 {
        let data = record(i, 50_000);
        match queue.push(&data) {
            Ok(()) => accepted.push(data),
            Err(QueueError::NoSpace { bytes, .. }) => {
                assert_eq!(bytes, 50_008);
                full += 1;
            }
            Err(error) => panic!("{error}"),
        }
    }
    assert!(full > 0 && accepted.len() > 5, "{full} {}", accepted.len());
    let stats = queue.stats();
    assert_eq!(stats.dropped_records, full);
    assert_eq!(stats.records, accepted.len() as u64);
    // Room comes back as records are delivered, and the queue goes on.
    assert_eq!(queue.peek().unwrap(), Some(&accepted[0][..]));
    drop(queue);
    let mut queue = DiskQueue::open(dir.path().join("q"), options).unwrap();
    assert_eq!(queue.recovery(), &Default::default());
    assert_eq!(drain(&mut queue), accepted);
    queue.push(b"after").unwrap();
    assert_eq!(drain(&mut queue), [b"after".to_vec()]);
}

#[derive(Clone, Debug)]
enum Op {
    Push(usize),
    Peek,
    Pop,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..400).prop_map(Op::Push),
        2 => Just(Op::Peek),
        3 => Just(Op::Pop),
        1 => Just(Op::Reopen),
    ]
}

/// The queue against a `VecDeque` with the same bound.
struct Model {
    records: VecDeque<Vec<u8>>,
    max: u64,
    stats: Stats,
}

impl Model {
    fn bytes(&self) -> u64 {
        (self.records.iter())
            .map(|r| r.len() as u64 + RECORD_OVERHEAD)
            .sum()
    }

    fn push(&mut self, data: Vec<u8>) -> bool {
        let size = data.len() as u64 + RECORD_OVERHEAD;
        if size > self.max {
            self.stats.dropped_records += 1;
            self.stats.dropped_bytes += size;
            return false;
        }
        while self.bytes() + size > self.max {
            let old = self.records.pop_front().unwrap();
            self.stats.dropped_records += 1;
            self.stats.dropped_bytes += old.len() as u64 + RECORD_OVERHEAD;
        }
        self.records.push_back(data);
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn behaves_as_a_bounded_fifo(ops in prop::collection::vec(op(), 1..80)) {
        let dir = tempfile::tempdir().unwrap();
        let options = Options { max_bytes: 1500, segment_bytes: 400 };
        let mut queue = DiskQueue::open(dir.path(), options).unwrap();
        let mut model = Model { records: VecDeque::new(), max: options.max_bytes, stats: Stats::default() };
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Push(len) => {
                    let data = record(i, len);
                    let accepted = queue.push(&data).is_ok();
                    prop_assert_eq!(accepted, model.push(data));
                }
                Op::Peek => {
                    let front = model.records.front().map(Vec::as_slice);
                    prop_assert_eq!(queue.peek().unwrap(), front);
                }
                Op::Pop => {
                    prop_assert_eq!(queue.pop().unwrap(), model.records.pop_front().is_some());
                }
                Op::Reopen => {
                    drop(queue);
                    queue = DiskQueue::open(dir.path(), options).unwrap();
                    prop_assert_eq!(queue.recovery(), &Default::default());
                    model.stats = Stats::default();
                }
            }
            model.stats.records = model.records.len() as u64;
            model.stats.bytes = model.bytes();
            prop_assert_eq!(queue.stats(), model.stats);
            prop_assert!(segments(dir.path()).len() <= 1 + (options.max_bytes / 100) as usize);
        }
        let left: Vec<_> = model.records.into_iter().collect();
        prop_assert_eq!(drain(&mut queue), left);
    }
}
