//! The mapping's cost per name with 1,000 glob rules (statsd_exporter's
//! FSM-plus-cache case): a name that matches and one that does not, asked
//! of the rules directly (a cache miss) and through a warm cache (a hit).
//!
//! `cargo bench -p statkit-mapping --bench mapping`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use statkit_mapping::{Cache, Mapper, MetricKind};

/// 1,000 rules shaped like real files: a service, a `*` for the host, an
/// operation, a `*` for the outcome.
fn rules() -> Mapper {
    let mut yaml = String::from("mappings:\n");
    for i in 0..1000 {
        yaml.push_str(&format!(
            "- match: svc{}.*.op{}.*\n  name: svc_op_{i}_total\n  labels:\n    host: $1\n    outcome: $2\n",
            i % 100,
            i / 100
        ));
    }
    Mapper::from_yaml(&yaml).expect("the bench's rules load")
}

fn mapping(c: &mut Criterion) {
    let mapper = rules();
    let matched = b"svc42.web-7.op9.success";
    let unmatched = b"svc42.web-7.op99.success";
    let mut group = c.benchmark_group("map_1000_globs");
    group.bench_function("miss_matched", |b| {
        b.iter(|| mapper.map(black_box(matched), MetricKind::Counter))
    });
    group.bench_function("miss_unmatched", |b| {
        b.iter(|| mapper.map(black_box(unmatched), MetricKind::Counter))
    });
    let mut cache = Cache::new(10_000);
    group.bench_function("hit_matched", |b| {
        b.iter(|| {
            matches!(
                cache.map(&mapper, black_box(matched), MetricKind::Counter),
                statkit_mapping::Mapped::Metric(_)
            )
        })
    });
    group.bench_function("hit_unmatched", |b| {
        b.iter(|| {
            matches!(
                cache.map(&mapper, black_box(unmatched), MetricKind::Counter),
                statkit_mapping::Mapped::Unmapped
            )
        })
    });
    group.finish();
}

criterion_group!(benches, mapping);
criterion_main!(benches);
