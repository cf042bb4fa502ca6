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
//! Figures are the calling thread's time per macro call. statkit's include
//! its share of the `send` system calls (one per full datagram); the
//! exporter's packing and sending happen on its own thread and are not in
//! them (that thread competes for the same cores, and when it falls behind
//! its queue of 5,000 lines fills and further lines are dropped). So after
//! each recorder the bench prints how many of the lines it was asked to
//! send reached the server; the bench's one reading thread does not keep
//! up with either, so part of the loss is in its receive buffer.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use metrics::Recorder;
use statkit::client::StatsdRecorder;
use statkit::Client;

/// A loopback socket standing in for a statsd server, read (and its lines
/// counted) by a thread until it is dropped.
struct Server {
    socket: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    lines: Arc<AtomicU64>,
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
        let lines = Arc::new(AtomicU64::new(0));
        let drain = std::thread::spawn({
            let socket = Arc::clone(&socket);
            let stop = Arc::clone(&stop);
            let lines = Arc::clone(&lines);
            move || {
                let mut buf = [0; 65536];
                while !stop.load(Relaxed) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        let breaks = buf[..n].iter().filter(|&&b| b == b'\n').count();
                        // Datagrams end without a `\n` after their last line.
                        lines.fetch_add(breaks as u64 + 1, Relaxed);
                    }
                }
            }
        });
        Self {
            socket,
            stop,
            lines,
            drain: Some(drain),
        }
    }

    /// Lines received so far, once the count has stopped changing for
    /// 200 ms (or after 5 s): what was sent has arrived by then.
    fn settled_lines(&self) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = self.lines.load(Relaxed);
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let now = self.lines.load(Relaxed);
            if now == last || Instant::now() >= deadline {
                return now;
            }
            last = now;
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

/// Benchmarks both counter calls through `recorder`; returns how many
/// calls were made.
fn counters(c: &mut Criterion, name: &str, recorder: &dyn Recorder) -> u64 {
    let mut calls = 0;
    let mut group = c.benchmark_group(name);
    metrics::with_local_recorder(recorder, || {
        group.bench_function("counter!(name).increment(1)", |b| {
            b.iter_custom(|iters| {
                calls += iters;
                let start = Instant::now();
                for _ in 0..iters {
                    metrics::counter!("requests").increment(1);
                }
                start.elapsed()
            });
        });
        group.bench_function("counter!(name, 2 labels).increment(1)", |b| {
            b.iter_custom(|iters| {
                calls += iters;
                let start = Instant::now();
                for _ in 0..iters {
                    metrics::counter!("requests", "route" => "/api/users", "code" => "200")
                        .increment(1);
                }
                start.elapsed()
            });
        });
    });
    group.finish();
    calls
}

fn delivered(name: &str, calls: u64, lines: u64) {
    eprintln!(
        "{name}: {lines} of {calls} lines reached the server ({:.1}%)",
        lines as f64 * 100.0 / calls.max(1) as f64
    );
}

fn bench(c: &mut Criterion) {
    let server = Server::start();
    let statkit = statkit_recorder(server.port());
    let calls = counters(c, "statkit StatsdRecorder", &statkit);
    statkit.client().flush();
    let before = server.settled_lines();
    delivered("statkit StatsdRecorder", calls, before);
    // Lines the client sent but the server did not read were lost in the
    // server's receive buffer, not in the client.
    let stats = statkit.client().stats();
    eprintln!(
        "statkit client: {} datagrams sent, {} dropped",
        stats.sent, stats.dropped
    );

    let exporter = exporter_recorder(server.port());
    let calls = counters(c, "metrics-exporter-statsd", &exporter);
    // Dropping the exporter stops its sending thread, which sends what it
    // still holds.
    drop(exporter);
    delivered(
        "metrics-exporter-statsd",
        calls,
        server.settled_lines() - before,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
