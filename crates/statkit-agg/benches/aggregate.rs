//! Aggregation cost: lines per second into a receiver's table (parsing
//! included, as the receive loop does it), and the cost of a flush.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use statkit_agg::{Aggregator, Options, Table, TableOptions};

#[path = "common/traffic.rs"]
mod common;
use common::traffic;

fn ingest(c: &mut Criterion) {
    let lines = 100_000;
    let datagrams = traffic(1_000, 0..lines);
    let mut group = c.benchmark_group("table_ingest");
    group.throughput(Throughput::Elements(lines as u64));
    group.bench_function("mixed_1000_names", |b| {
        let mut table = Table::new(TableOptions::default());
        let mut aggregator = Aggregator::new(Options::default());
        b.iter(|| {
            for d in &datagrams {
                table.ingest(d);
            }
            // Drain like a flush would, so timer vectors do not grow forever.
            aggregator.absorb(&mut table);
        })
    });
    let datagram: Vec<u8> = (0..80)
        .flat_map(|n| format!("bench.c.{n}:1|c\n").into_bytes())
        .collect();
    group.throughput(Throughput::Elements(80));
    group.bench_function("counters_only", |b| {
        let mut table = Table::new(TableOptions::default());
        b.iter(|| table.ingest(&datagram));
    });
    group.finish();
}

fn flush(c: &mut Criterion) {
    let datagrams = traffic(10_000, 0..200_000);
    let mut group = c.benchmark_group("flush");
    group.bench_function("mixed_10000_names", |b| {
        b.iter_batched(
            || {
                let mut aggregator = Aggregator::new(Options::default());
                let mut table = Table::new(TableOptions::default());
                for d in &datagrams {
                    table.ingest(d);
                }
                aggregator.absorb(&mut table);
                aggregator
            },
            |mut aggregator| aggregator.flush(1),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, ingest, flush);
criterion_main!(benches);
