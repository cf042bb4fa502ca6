//! `metrics::counter!` increments sent to statsd: through statkit's
//! `StatsdRecorder` (lines formatted on the calling thread into the
//! `Client`'s buffer, one non-blocking `send` per full datagram) and through
//! its peer, `metrics-exporter-statsd` (cadence: a line formatted into a
//! new `String` per call, queued to a background thread that packs and
//! sends). Both send to the same loopback UDP socket, drained by a thread
//! of the bench, with datagrams of at most 1432 bytes and the same prefix.
//!
//!   cargo bench -p statkit --bench statsd_recorder
//!
//! Figures are the calling thread's time per macro call: the exporter's
//! packing and sending happen on its own thread and are not in them (on a
//! loaded machine that thread also competes for the cores).

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use metrics::Recorder;
use statkit::client::StatsdRecorder;
use statkit::Client;

/// A loopback socket standing in for a statsd server, read by a thread
/// until it is dropped.
struct Server {
    socket: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    drain: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Self {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").expect("a loopback port"));
        // Bounds each read, so the drain thread sees `stop` soon.
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let stop = Arc::new(AtomicBool::new(false));
        let drain = std::thread::spawn({
            let socket = Arc::clone(&socket);
            let stop = Arc::clone(&stop);
            move || {
                let mut buf = [0; 65536];
                while !stop.load(Relaxed) {
                    let _ = socket.recv(&mut buf);
                }
            }
        });
        Self {
            socket,
            stop,
            drain: Some(drain),
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("bound").port()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

fn statkit_recorder(port: u16) -> StatsdRecorder {
    let client = Client::builder(format!("127.0.0.1:{port}"))
        .prefix("app")
        .max_datagram(1432)
        .build()
        .expect("client builds");
    StatsdRecorder::new(client)
}

fn exporter_recorder(port: u16) -> metrics_exporter_statsd::StatsdRecorder {
    metrics_exporter_statsd::StatsdBuilder::from("127.0.0.1", port)
        .with_client_udp_host("127.0.0.1")
        .with_buffer_size(1432)
        .build(Some("app"))
        .expect("exporter builds")
}

fn counters(c: &mut Criterion, name: &str, recorder: &dyn Recorder) {
    let mut group = c.benchmark_group(name);
    metrics::with_local_recorder(recorder, || {
        group.bench_function("counter!(name).increment(1)", |b| {
            b.iter(|| metrics::counter!("requests").increment(1));
        });
        group.bench_function("counter!(name, 2 labels).increment(1)", |b| {
            b.iter(|| {
                metrics::counter!("requests", "route" => "/api/users", "code" => "200")
                    .increment(1);
            });
        });
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let server = Server::start();
    let statkit = statkit_recorder(server.port());
    counters(c, "statkit StatsdRecorder", &statkit);
    let stats = statkit.client().stats();
    eprintln!(
        "statkit client: {} datagrams sent, {} dropped",
        stats.sent, stats.dropped
    );
    let exporter = exporter_recorder(server.port());
    counters(c, "metrics-exporter-statsd", &exporter);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
