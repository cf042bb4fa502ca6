//! The disk queue's throughput: a push (written and synced) and a pop
//! (the cursor replaced and synced) of a 1 MB record, about one flush of
//! 100k series; and opening a queue of 64 MiB (every record read and its
//! CRC checked), what a restart costs.
//!
//! The queues live under the target folder, on the disk the build is on
//! (not a tmpfs, where syncs cost nothing).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use statkit_queue::{DiskQueue, Options};

const RECORD: usize = 1_000_000;

fn data() -> Vec<u8> {
    (0..RECORD).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn push_pop(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a folder for the queue");
    let mut queue = DiskQueue::open(dir.path(), Options::default()).expect("the queue opens");
    let data = data();
    let mut group = c.benchmark_group("queue");
    group.throughput(Throughput::Bytes(RECORD as u64));
    group.sample_size(20);
    group.bench_function("push+pop 1 MB", |b| {
        b.iter(|| {
            queue.push(&data).expect("push");
            let peeked = queue.peek().expect("peek").map(<[u8]>::len);
            assert_eq!(peeked, Some(RECORD));
            assert!(queue.pop().expect("pop"));
        })
    });
    group.finish();
}

fn open(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a folder for the queue");
    let data = data();
    let mut queue = DiskQueue::open(dir.path(), Options::default()).expect("the queue opens");
    for _ in 0..64 {
        queue.push(&data).expect("push");
    }
    let bytes = queue.bytes();
    drop(queue);
    let mut group = c.benchmark_group("queue");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("open 64 MiB", |b| {
        b.iter(|| {
            let queue = DiskQueue::open(dir.path(), Options::default()).expect("the queue opens");
            assert_eq!(queue.len(), 64);
        })
    });
    group.finish();
}

criterion_group!(benches, push_pop, open);
criterion_main!(benches);
