//! The pushing sinks' encodings of one flush of 100k series (280k time
//! series once timers are buckets, sum and count): the time per flush of
//! the export (names and labels) and of each body, and the bodies' sizes
//! (printed once).

mod common;

use criterion::{criterion_group, criterion_main, Criterion};
use statkit_encode::export::Export;
use statkit_encode::labels::HostLabels;
use statkit_encode::{influx, otlp, remote_write};

fn bench(c: &mut Criterion) {
    let snapshot = common::flush_100k();
    let bounds = common::bounds();
    let host = HostLabels::parse(&["host=web1", "dc=eu1"]).expect("valid labels");
    let export = Export::new(&snapshot, &bounds, &host);
    let protobuf = prost::Message::encoded_len(&remote_write::write_request(&export));
    let body = remote_write::encode(&export).expect("encodes");
    eprintln!(
        "remote-write: {} time series, {protobuf} bytes of protobuf, {} bytes snappy; \
         OTLP {} bytes; line protocol {} bytes",
        remote_write::write_request(&export).timeseries.len(),
        body.len(),
        otlp::encode(&export, &host).len(),
        influx::encode(&export).len(),
    );
    let mut group = c.benchmark_group("push");
    group.sample_size(10);
    group.bench_function("export_100k_series", |b| {
        b.iter(|| Export::new(&snapshot, &bounds, &host))
    });
    group.bench_function("remote_write_100k_series", |b| {
        b.iter(|| remote_write::encode(&Export::new(&snapshot, &bounds, &host)))
    });
    group.bench_function("otlp_100k_series", |b| {
        b.iter(|| {
            otlp::encode(
                &Export::new(&snapshot, &bounds, &HostLabels::default()),
                &host,
            )
        })
    });
    group.bench_function("influx_100k_series", |b| {
        b.iter(|| influx::encode(&Export::new(&snapshot, &bounds, &host)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
