//! `/metrics` with 100k series: the time to render the store as
//! Prometheus text (the target is under 200 ms), as sent and through a
//! mapping file.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use statkit_agg::{Aggregator, Table};
use statkit_encode::prometheus::{render, Exposition, Format, Mapping};
use statkit_store::{Options, Store};

/// 100k series: 60k counters (a third tagged), 20k gauges, 20k timers.
fn store() -> Store {
    let bounds: Arc<[f64]> = Arc::from([1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0]);
    let options = statkit_agg::Options {
        buckets: bounds.clone(),
        ..statkit_agg::Options::default()
    };
    let mut aggregator = Aggregator::new(options.clone());
    let mut table = Table::new(statkit_agg::TableOptions {
        max_series: 2_000_000,
        ..options.table
    });
    let mut lines = String::new();
    for i in 0..100_000 {
        lines.clear();
        match i % 5 {
            0 | 1 => lines.push_str(&format!("app.requests.{i}:1|c")),
            2 => lines.push_str(&format!("app.hits.{i}:2|c|#env:prod,host:h{}", i % 50)),
            3 => lines.push_str(&format!("app.load.{i}:{i}|g")),
            _ => lines.push_str(&format!("app.latency.{i}:{}|ms", i % 700)),
        }
        table.ingest(lines.as_bytes());
    }
    aggregator.absorb(&mut table);
    let mut store = Store::new(Options {
        max_series: 200_000,
        bounds,
        ..Options::default()
    });
    store.ingest(&aggregator.flush(1_700_000_000));
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
