//! The cost of a flush as bytes (what a sink's disk queue stores): encode
//! and decode of a 100k-series flush (50k counters, 20k timers of 5 values,
//! 20k gauges, 10k sets), in MB/s of encoded bytes; the size is printed.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use statkit_agg::{Aggregator, Options, Snapshot, Table};

fn flush_of_100k_series() -> Snapshot {
    let mut aggregator = Aggregator::new(Options::default());
    let mut table = Table::new(aggregator.options().table);
    let mut datagram = String::new();
    let mut line = |l: String| {
        if datagram.len() + l.len() > 1400 {
            table.ingest(datagram.as_bytes());
            datagram.clear();
        }
        datagram.push_str(&l);
    };
    for n in 0..50_000 {
        line(format!("app.requests.c{n}:{}|c\n", n % 7 + 1));
    }
    for n in 0..20_000 {
        for v in 0..5 {
            line(format!("app.latency.t{n}:{}|ms\n", n % 300 + v * 11));
        }
    }
    for n in 0..20_000 {
        line(format!("app.queue.g{n}:{}|g\n", n % 1000));
    }
    for n in 0..10_000 {
        line(format!("app.users.s{n}:{}|s\n", n % 50));
    }
    table.ingest(datagram.as_bytes());
    aggregator.absorb(&mut table);
    aggregator.flush(1_700_000_000)
}

fn codec(c: &mut Criterion) {
    let snapshot = flush_of_100k_series();
    // And the aggregator's own three counters.
    assert_eq!(snapshot.len(), 100_003);
    let mut bytes = Vec::new();
    snapshot.encode(&mut bytes);
    println!("a flush of 100k series encodes to {} bytes", bytes.len());
    let mut group = c.benchmark_group("snapshot");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("encode 100k series", |b| {
        let mut out = Vec::with_capacity(bytes.len());
        b.iter(|| {
            out.clear();
            snapshot.encode(&mut out);
        })
    });
    group.bench_function("decode 100k series", |b| {
        b.iter(|| Snapshot::decode(&bytes).expect("its own encoding decodes"))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
