//! What the request view costs the flush: every series of every table is
//! shown to it once per drain. Most names are not the view's, so the cost
//! that matters is rejecting them; a request name's cost is measured too.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use statkit_requests::names::Durations;
use statkit_requests::{Reading, RequestView, Settings};

fn observe(c: &mut Criterion) {
    let others: Vec<Vec<u8>> = (0..100_000)
        .map(|i| format!("api.shop.endpoint_{i}.response_time").into_bytes())
        .collect();
    let mut group = c.benchmark_group("request view");
    group.throughput(Throughput::Elements(others.len() as u64));
    group.bench_function("100k other names", |b| {
        let mut view = RequestView::new(Settings::default());
        b.iter(|| {
            for name in &others {
                view.observe(name, Reading::Counter(1.0), 1000);
            }
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("one request duration", |b| {
        let mut view = RequestView::new(Settings::default());
        let values = [12.5];
        b.iter(|| {
            let durations = Reading::Timer(Durations::Exact(&values));
            view.observe(b"statkit.requests.my_app.duration", durations, 1000)
        });
    });
    group.finish();
}

criterion_group!(benches, observe);
criterion_main!(benches);
