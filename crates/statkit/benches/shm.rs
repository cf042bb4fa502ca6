//! Metric updates through statkit's shared-memory handles, side by side
//! with the `metrics` crate's default atomic storage (metrics-util's
//! `Registry::atomic()`: an `Arc<AtomicU64>` per counter and gauge, an
//! `AtomicBucket` per histogram, used through the `metrics` handles) and
//! the `prometheus` crate's `IntCounter`, `Gauge` and `Histogram`.
//!
//!   cargo bench -p statkit --bench shm
//!
//! Two-thread figures are per increment per thread: both threads increment
//! the same counter `iters` times and the slower one's time is reported.
//! The reading figures write 1,000 files of 100 metrics and read them all.
//! What a reader polling a writer's file costs the writer is `shm_polled`.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metrics::Key;
use statkit::shm::{Options, Registry};

/// The three peers' counters, behind one call.
trait Inc: Clone + Send + 'static {
    fn inc(&self);
}

impl Inc for statkit::shm::Counter {
    #[inline]
    fn inc(&self) {
        statkit::shm::Counter::inc(self);
    }
}

impl Inc for metrics::Counter {
    #[inline]
    fn inc(&self) {
        self.increment(1);
    }
}

impl Inc for prometheus::IntCounter {
    #[inline]
    fn inc(&self) {
        prometheus::IntCounter::inc(self);
    }
}

fn statkit_registry() -> Registry {
    Registry::in_memory(Options::default()).expect("anonymous memory")
}

/// A histogram without a ring of last values (`Options::recent = 0`).
fn no_ring_histogram() -> statkit::shm::Histogram {
    Registry::in_memory(Options {
        recent: 0,
        ..Options::default()
    })
    .expect("anonymous memory")
    .histogram("latency", &[])
    .expect("a new name")
}

/// A registry read by a pipe publisher (in a scratch folder), so that its
/// histograms feed their rings of last values. Keep all three alive.
fn publishing_registry() -> (Registry, statkit::pipe::Publisher, tempfile::TempDir) {
    let registry = statkit_registry();
    let dir = tempfile::tempdir().expect("scratch folder");
    let publisher = statkit::pipe::Publisher::start(
        &registry,
        statkit::pipe::Options {
            dir: dir.path().to_owned(),
        },
    )
    .expect("pipe publisher");
    (registry, publisher, dir)
}

fn metrics_registry() -> metrics_util::registry::Registry<Key, metrics_util::registry::AtomicStorage>
{
    metrics_util::registry::Registry::atomic()
}

fn counters() -> (
    statkit::shm::Counter,
    metrics::Counter,
    prometheus::IntCounter,
) {
    let statkit = statkit_registry().counter("hits", &[]).unwrap();
    let metrics = metrics_registry().get_or_create_counter(&Key::from_name("hits"), |c| {
        metrics::Counter::from_arc(c.clone())
    });
    let prometheus = prometheus::IntCounter::new("hits", "hits").unwrap();
    (statkit, metrics, prometheus)
}

fn counter_one_thread(c: &mut Criterion) {
    let (statkit, metrics, prometheus) = counters();
    let mut group = c.benchmark_group("counter_inc_1_thread");
    group.bench_function("statkit", |b| b.iter(|| black_box(&statkit).inc()));
    group.bench_function("metrics_atomic", |b| {
        b.iter(|| Inc::inc(black_box(&metrics)))
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| Inc::inc(black_box(&prometheus)))
    });
    group.finish();
}

/// Both threads increment the same counter `iters` times; the slower one's
/// time is the measurement.
fn two_threads<C: Inc>(counter: &C, iters: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (counter, barrier) = (counter.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(&counter).inc();
                }
                start.elapsed()
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().unwrap())
        .max()
        .unwrap()
}

fn counter_two_threads(c: &mut Criterion) {
    let (statkit, metrics, prometheus) = counters();
    let mut group = c.benchmark_group("counter_inc_2_threads_same_counter");
    group.bench_function("statkit", |b| {
        b.iter_custom(|iters| two_threads(&statkit, iters))
    });
    group.bench_function("metrics_atomic", |b| {
        b.iter_custom(|iters| two_threads(&metrics, iters))
    });
    group.bench_function("prometheus", |b| {
        b.iter_custom(|iters| two_threads(&prometheus, iters))
    });
    group.finish();
}

fn histogram_record(c: &mut Criterion) {
    let statkit = statkit_registry().histogram("latency", &[]).unwrap();
    let metrics = metrics_registry().get_or_create_histogram(&Key::from_name("latency"), |h| {
        metrics::Histogram::from_arc(h.clone())
    });
    let prometheus =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("latency", "latency"))
            .unwrap();
    // Values spread over several buckets, as real latencies are.
    let values: Vec<f64> = (0..1024)
        .map(|i| 0.0001 * f64::from(i % 97 + 1) * f64::from(i % 7 + 1))
        .collect();
    let mut group = c.benchmark_group("histogram_record");
    let mut at = 0;
    let mut next = move || {
        at = (at + 1) & 1023;
        values[at]
    };
    group.bench_function("statkit", |b| b.iter(|| statkit.record(black_box(next()))));
    // With a pipe publisher, records also feed the ring of last values it
    // reads (the ring's cost is the difference to the line above).
    let (publishing, _publisher, _dir) = publishing_registry();
    let fed = publishing.histogram("latency", &[]).unwrap();
    group.bench_function("statkit_publishing_pipe", |b| {
        b.iter(|| fed.record(black_box(next())))
    });
    // No ring at all (`Options::recent = 0`).
    let no_ring = no_ring_histogram();
    group.bench_function("statkit_no_ring", |b| {
        b.iter(|| no_ring.record(black_box(next())))
    });
    group.bench_function("metrics_atomic", |b| {
        b.iter(|| metrics.record(black_box(next())))
    });
    group.bench_function("prometheus", |b| {
        b.iter(|| prometheus.observe(black_box(next())))
    });
    group.finish();
}

impl Inc for statkit::shm::Histogram {
    #[inline]
    fn inc(&self) {
        self.record(0.012);
    }
}

/// Two threads record into one histogram: the cells are per thread, the
/// ring of last values a pipe publisher reads is shared.
fn histogram_two_threads(c: &mut Criterion) {
    let unfed = statkit_registry().histogram("latency", &[]).unwrap();
    let (publishing, _publisher, _dir) = publishing_registry();
    let ring = publishing.histogram("latency", &[]).unwrap();
    let no_ring = no_ring_histogram();
    let mut group = c.benchmark_group("histogram_record_2_threads");
    group.bench_function("statkit", |b| {
        b.iter_custom(|iters| two_threads(&unfed, iters))
    });
    group.bench_function("statkit_publishing_pipe", |b| {
        b.iter_custom(|iters| two_threads(&ring, iters))
    });
    group.bench_function("statkit_no_ring", |b| {
        b.iter_custom(|iters| two_threads(&no_ring, iters))
    });
    group.finish();
}

fn gauge_set(c: &mut Criterion) {
    let statkit = statkit_registry().gauge("queue", &[]).unwrap();
    let metrics = metrics_registry().get_or_create_gauge(&Key::from_name("queue"), |g| {
        metrics::Gauge::from_arc(g.clone())
    });
    let prometheus = prometheus::Gauge::new("queue", "queue").unwrap();
    let mut group = c.benchmark_group("gauge_set");
    group.bench_function("statkit", |b| b.iter(|| statkit.set(black_box(2.5))));
    group.bench_function("metrics_atomic", |b| b.iter(|| metrics.set(black_box(2.5))));
    group.bench_function("prometheus", |b| b.iter(|| prometheus.set(black_box(2.5))));
    group.finish();
}

/// 1,000 processes' files of 100 metrics each, as the library writes them,
/// read the way `statkit slurp` reads them.
fn read_files(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let registries: Vec<Registry> = (0..1000)
        .map(|i| {
            let registry = Registry::publish(Options {
                dir: dir.path().to_owned(),
                program: format!("bench{i}"),
                ..Options::default()
            })
            .unwrap();
            for m in 0..90 {
                registry
                    .counter(&format!("requests.{m}"), &[])
                    .unwrap()
                    .add(m);
            }
            for m in 0..10 {
                registry
                    .histogram(&format!("latency.{m}"), &[])
                    .unwrap()
                    .record(0.01);
            }
            registry
        })
        .collect();
    let mut group = c.benchmark_group("read");
    group.sample_size(10);
    group.bench_function("1000_files_of_100_metrics", |b| {
        b.iter(|| {
            let paths = statkit_scan::discover(&[dir.path().to_owned()]).unwrap();
            let mut totals = statkit_scan::Totals::default();
            for path in &paths {
                totals.add(&statkit_scan::read_file(path).unwrap());
            }
            assert_eq!(paths.len(), 1000);
            black_box(totals)
        })
    });
    group.finish();
    drop(registries);
}

criterion_group!(
    benches,
    counter_one_thread,
    counter_two_threads,
    histogram_record,
    histogram_two_threads,
    gauge_set,
    read_files
);

criterion_main!(benches);
