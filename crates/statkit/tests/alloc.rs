//! Pins the promise that a metric call does not allocate once the client's
//! buffer has grown: formatting, packing, sending, dropping and counting.
//!
//! A counting global allocator records allocations per thread, so tests in
//! this file may run in parallel and each sees only its own.

use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use statkit::client::sink::Nop;
use statkit::Client;
use statkit_testkit::allocations_during;

#[global_allocator]
static GLOBAL: statkit_testkit::CountingAllocator = statkit_testkit::CountingAllocator;

/// Every kind of call, tagged and not, with enough lines that payloads fill
/// up and are sent in the middle of it.
fn every_call(client: &Client) {
    let tags = [("route", "/api"), ("status", "200")];
    for i in 0..50 {
        client.incr("requests");
        client.decr("in.flight");
        client.count("bytes", i * 1000);
        client.gauge("depth", i as f64 * 0.5);
        client.gauge("balance", -3.25);
        client.gauge_delta("depth", -1.0);
        client.timing("db", Duration::from_micros(1234));
        client.timing("db", 0.75);
        client.histogram("size", 1e21);
        client.distribution("latency", 0.001);
        client.set("users", i);
        client.set("names", "ann");
        client.tagged(&tags).incr("tagged");
        client.tagged(&tags).sampled(0.5).timing("sampled", 12u64);
        client.time("guarded").stop();
        drop(client.tagged(&tags).time("guarded"));
        client.gauge("refused", f64::NAN);
    }
    client.flush();
}

fn assert_no_allocations_after_warm_up(client: &Client) {
    every_call(client);
    let allocations = allocations_during(|| every_call(client));
    assert_eq!(
        allocations, 0,
        "metric calls allocated {allocations} times after warm-up"
    );
}

fn configured(builder: statkit::ClientBuilder) -> Client {
    builder
        .prefix("app")
        .tag("env", "test")
        .max_datagram(512)
        .build()
        .expect("client builds")
}

#[test]
fn formatting_and_packing_do_not_allocate() {
    assert_no_allocations_after_warm_up(&configured(Client::builder_with_sink(Nop)));
}

#[test]
fn sending_udp_to_a_listener_does_not_allocate() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = configured(Client::builder(server.local_addr().unwrap().to_string()));
    assert_no_allocations_after_warm_up(&client);
    assert!(client.stats().sent > 0);
}

#[test]
fn dropping_udp_datagrams_does_not_allocate() {
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = configured(Client::builder(format!("127.0.0.1:{port}")));
    assert_no_allocations_after_warm_up(&client);
    assert!(client.stats().dropped > 0, "{:?}", client.stats());
}

#[test]
fn dropping_while_tcp_is_down_does_not_allocate() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = configured(Client::builder(format!("127.0.0.1:{port}")).tcp());
    assert_no_allocations_after_warm_up(&client);
    assert!(client.stats().dropped > 0, "{:?}", client.stats());
}

/// The `metrics` macros through `StatsdRecorder`: after each key's first
/// use (which makes its handle), a call is a map lookup and a client call.
#[test]
fn metrics_macros_through_the_statsd_recorder_do_not_allocate() {
    use statkit::client::{HistogramType, StatsdRecorder};

    for kind in [HistogramType::Timer, HistogramType::Distribution] {
        let recorder =
            StatsdRecorder::new(configured(Client::builder_with_sink(Nop))).histograms(kind);
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_histogram!("db", metrics::Unit::Seconds, "database time");
        });
        let calls = || {
            metrics::with_local_recorder(&recorder, || {
                for i in 0..50 {
                    metrics::counter!("requests").increment(1);
                    metrics::counter!("requests", "route" => "/api").increment(2);
                    metrics::counter!("total").absolute(i * 10);
                    metrics::gauge!("depth").set(i as f64);
                    metrics::gauge!("depth", "queue" => "a").decrement(1.5);
                    metrics::histogram!("db", "table" => "users").record(0.0125);
                    metrics::histogram!("render").record(3.0);
                }
            });
            recorder.client().flush();
        };
        calls();
        let allocations = allocations_during(calls);
        assert_eq!(
            allocations, 0,
            "{kind:?}: {allocations} allocations after warm-up"
        );
    }
}
