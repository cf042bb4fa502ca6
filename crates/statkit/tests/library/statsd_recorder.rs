//! The `metrics` facade through `StatsdRecorder`, received on a real
//! loopback UDP socket standing in for a statsd server.

use std::net::UdpSocket;
use std::time::Duration;

use metrics::Unit;
use statkit::client::{HistogramType, StatsdRecorder};
use statkit::Client;

/// A loopback socket standing in for a statsd server; reads give up after
/// a few seconds instead of hanging a broken test.
fn server() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

/// A recorder whose client packs everything into one datagram until it is
/// flushed, so a test reads all its lines at once.
fn recorder(server: &UdpSocket, kind: HistogramType) -> StatsdRecorder {
    let client = Client::builder(server.local_addr().unwrap().to_string())
        .prefix("app")
        .tag("env", "test")
        .max_datagram(1400)
        .build()
        .unwrap();
    StatsdRecorder::new(client).histograms(kind)
}

/// Flushes the recorder's client and returns the one datagram it sent.
fn receive(recorder: &StatsdRecorder, server: &UdpSocket) -> String {
    recorder.client().flush();
    let mut buf = [0; 2048];
    let n = server
        .recv(&mut buf)
        .expect("a datagram within the read timeout");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn macros_arrive_as_statsd_lines() {
    let server = server();
    let recorder = recorder(&server, HistogramType::Timer);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("db.query", Unit::Seconds, "time in the database");
        metrics::counter!("requests").increment(1);
        metrics::counter!("requests", "route" => "/home", "code" => "200").increment(3);
        metrics::gauge!("queue.depth").set(17.0);
        metrics::gauge!("queue.depth").increment(2.5);
        metrics::gauge!("queue.depth").decrement(4.0);
        metrics::gauge!("balance").set(-3.0);
        metrics::histogram!("db.query", "table" => "users").record(0.0125);
        metrics::histogram!("render").record(7.0);
    });
    assert_eq!(
        receive(&recorder, &server),
        "app.requests:1|c|#env:test\n\
         app.requests:3|c|#env:test,route:/home,code:200\n\
         app.queue.depth:17|g|#env:test\n\
         app.queue.depth:+2.5|g|#env:test\n\
         app.queue.depth:-4|g|#env:test\n\
         app.balance:0|g|#env:test\n\
         app.balance:-3|g|#env:test\n\
         app.db.query:12.5|ms|#env:test,table:users\n\
         app.render:7|ms|#env:test"
    );
    assert_eq!(
        recorder.description("db.query"),
        Some(("time in the database".to_owned(), Some(Unit::Seconds)))
    );
    let stats = recorder.client().stats();
    assert_eq!((stats.sent, stats.dropped, stats.invalid), (1, 0, 0));
}

#[test]
fn histograms_as_distributions() {
    let server = server();
    let recorder = recorder(&server, HistogramType::Distribution);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("latency", Unit::Seconds, "request latency");
        metrics::histogram!("latency", "pod" => "a|b,c#d").record(0.25);
    });
    assert_eq!(
        receive(&recorder, &server),
        "app.latency:0.25|d|#env:test,pod:a_b_c_d"
    );
}
