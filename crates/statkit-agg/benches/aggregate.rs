//! Aggregation cost: lines per second into a receiver's table (parsing
//! included, as the receive loop does it), and the cost of a flush.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use statkit_agg::{Aggregator, Options, Table, TableOptions};

/// Datagrams of ~1400 bytes cycling over `names` names per kind, in the
/// benchmark mix: 50% counters, 10% sampled counters, 20% timers, 10%
/// gauges, 10% sets.
fn traffic(names: usize, lines: usize) -> Vec<Vec<u8>> {
    let mut datagrams = Vec::new();
    let mut current = Vec::new();
    for i in 0..lines {
        let n = i % names;
        let line = match i % 10 {
            0..=4 => format!("bench.c.{n}:1|c"),
            5 => format!("bench.sc.{n}:1|c|@0.1"),
            6 | 7 => format!("bench.ms.{n}:{}.{}|ms", i % 500, i % 10),
            8 => format!("bench.g.{n}:{}|g", i % 100),
            _ => format!("bench.s.{n}:{}|s", i % 100),
        };
        if current.len() + line.len() + 1 > 1400 {
            datagrams.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(line.as_bytes());
        current.push(b'\n');
    }
    datagrams.push(current);
    datagrams
}

fn ingest(c: &mut Criterion) {
    let lines = 100_000;
    let datagrams = traffic(1_000, lines);
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
    let datagrams = traffic(10_000, 200_000);
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
