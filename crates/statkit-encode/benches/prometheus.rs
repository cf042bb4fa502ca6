//! `/metrics` with 100k series: the time to render the store as
//! Prometheus text (the target is under 200 ms).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use statkit_encode::labels::HostLabels;
use statkit_encode::prometheus::{render, Format};
use statkit_store::{Options, Store};

/// The store after one flush of the 100k series.
fn store() -> Store {
    let mut store = Store::new(Options {
        max_series: 200_000,
        bounds: common::bounds(),
        ..Options::default()
    });
    store.ingest(&common::flush_100k());
    store
}

fn bench(c: &mut Criterion) {
    let store = store();
    let mut group = c.benchmark_group("prometheus");
    group.sample_size(10);
    group.bench_function("render_100k_series", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(16 << 20);
            render(&store, Format::Text, &HostLabels::default(), &mut out);
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
