//! `/metrics` with 100k series: the time to render the store as
//! Prometheus text (the target is under 200 ms), as sent and through a
//! mapping file.

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use statkit_encode::prometheus::{render, Exposition, Format, Mapping};
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
            render(&store, Format::Text, Exposition::default(), &mut out);
            out
        })
    });
    // The same store through a mapping file whose rules map every name
    // (a glob per shape), the cache warm as from one scrape to the next.
    let mapper = statkit_mapping::Mapper::from_yaml(RULES).expect("the bench's rules load");
    let mut cache = statkit_mapping::Cache::new(200_000);
    group.bench_function("render_100k_series_mapped", |b| {
        b.iter(|| {
            let mut out = String::with_capacity(16 << 20);
            let mapping = Mapping {
                mapper: &mapper,
                cache: &mut cache,
            };
            render(
                &store,
                Format::Text,
                Exposition {
                    mapping: Some(mapping),
                    ..Exposition::default()
                },
                &mut out,
            );
            out
        })
    });
    group.finish();
}

const RULES: &str = "mappings:
- match: app.requests.*
  name: app_requests_total
  labels: {id: $1}
- match: app.hits.*
  name: app_hits_total
  labels: {id: $1}
- match: app.load.*
  name: app_load
  labels: {id: $1}
- match: app.latency.*
  name: app_latency_seconds
  observer_type: histogram
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1]
  labels: {id: $1}
";

criterion_group!(benches, bench);
criterion_main!(benches);
