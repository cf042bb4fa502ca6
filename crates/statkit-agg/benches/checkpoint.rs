//! What checkpointing the open interval costs beside ingestion: capturing
//! an aggregator of 100k series (the benchmark mix) and two receivers'
//! pending tables, encoding the capture, and, for a restart, decoding and
//! restoring it. The checkpoint's size is printed once.
//!
//! ```sh
//! cargo bench -p statkit-agg --bench checkpoint
//! ```

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use statkit_agg::{Aggregator, Checkpoint, Options, Table, TableOptions};

#[path = "common/traffic.rs"]
mod common;
use common::traffic;

/// An interval well under way: 1M lines over 100k series absorbed (ten
/// values per timer, ten members per set), and two receivers holding
/// 20k lines each that the aggregator has not taken yet.
fn server() -> (Aggregator, Vec<Table>) {
    const NAMES: usize = 100_000;
    let mut aggregator = Aggregator::new(Options::default());
    let mut table = Table::new(TableOptions::default());
    for d in traffic(NAMES, 0..1_000_000) {
        table.ingest(&d);
    }
    aggregator.absorb(&mut table);
    let tables = (0..2)
        .map(|r| {
            let mut table = Table::new(TableOptions::default());
            for d in traffic(NAMES, 1_000_000 + r * 20_000..1_020_000 + r * 20_000) {
                table.ingest(&d);
            }
            table
        })
        .collect();
    (aggregator, tables)
}

fn checkpoint(c: &mut Criterion) {
    let (aggregator, tables) = server();
    let pending: Vec<&Table> = tables.iter().collect();
    let series = aggregator.series();
    let mut bytes = Vec::new();
    Checkpoint::capture(&aggregator, &pending).encode(&mut bytes);
    println!(
        "checkpoint of {series} series and {} tables: {} bytes ({:.1} per series)",
        tables.len(),
        bytes.len(),
        bytes.len() as f64 / series as f64
    );

    let mut group = c.benchmark_group("checkpoint");
    group.throughput(Throughput::Elements(series as u64));
    group.bench_function("capture_100k_series", |b| {
        b.iter(|| Checkpoint::capture(&aggregator, &pending))
    });
    let captured = Checkpoint::capture(&aggregator, &pending);
    let mut out = Vec::with_capacity(bytes.len());
    group.bench_function("encode_100k_series", |b| {
        b.iter(|| {
            out.clear();
            captured.encode(&mut out);
        })
    });
    group.bench_function("capture_and_encode_100k_series", |b| {
        b.iter(|| {
            out.clear();
            Checkpoint::capture(&aggregator, &pending).encode(&mut out);
        })
    });
    group.bench_function("decode_and_restore_100k_series", |b| {
        b.iter_batched(
            || {
                let aggregator = Aggregator::new(Options::default());
                let tables = vec![Table::default(), Table::default()];
                (aggregator, tables)
            },
            |(mut aggregator, mut tables)| {
                let mut tables: Vec<&mut Table> = tables.iter_mut().collect();
                Checkpoint::decode(&bytes)
                    .map(|c| c.restore(&mut aggregator, &mut tables))
                    .map(|left| left.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, checkpoint);
criterion_main!(benches);
