//! The server over real loopback connections: routing, error shapes, and
//! every limit that protects it from clients.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use statkit_testkit::http::Answer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{router, serve, Allow, Context, Limits};
use crate::allow::AllowList;
use crate::pipeline::Intake;
use crate::sink::Fanout;

/// The longest any wait here may take; passing tests never come close.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Limits short enough for tests to see them act.
fn short_limits() -> Limits {
    Limits {
        header_read: Duration::from_millis(300),
        handler: Duration::from_millis(300),
        write_stall: Duration::from_millis(300),
        max_connections: 4,
        shutdown_grace: Duration::from_millis(500),
    }
}

/// A server on a loopback port, stopped (and waited for) on drop.
struct Server {
    addr: SocketAddr,
    context: Arc<Context>,
    intake: Intake,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        Self::start_allowing(limits, Allow::default()).await
    }

    async fn start_allowing(limits: Limits, allow: Allow) -> Server {
        let (context, intake) = crate::testing::context(Fanout::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(
            listener,
            router(context.clone(), limits),
            limits,
            allow,
            stop_rx,
        ));
        Server {
            addr,
            context,
            intake,
            stop,
            task: Some(task),
        }
    }

    /// Stops the server and waits for it to return.
    async fn stop(mut self) -> Duration {
        let started = Instant::now();
        let _ = self.stop.send(true);
        let task = self.task.take().expect("running");
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic");
        started.elapsed()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Answers read whole, and their JSON.
trait Json {
    fn json(&self) -> Value;
}

impl Json for Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(Answer::request(method, path).as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .expect("the answer arrives in time")
        .unwrap();
    Answer::parse(&raw)
}

/// Waits until the server closes `stream` (a read returns end of file or an
/// error), and returns how long that took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Err(_) => panic!("the connection was still open after {limit:?}"),
            Ok(Ok(0) | Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn health_follows_the_admin_status() {
    let server = Server::start(Limits::default()).await;
    let up = request(server.addr, "GET", "/health").await;
    assert_eq!((up.status, up.json()), (200, json!({"status": "up"})));
    assert_eq!(up.header("content-type"), Some("application/json"));
    assert_eq!(up.header("cache-control"), Some("no-store"));
    server.context.status.set_healthy(false);
    let down = request(server.addr, "GET", "/health").await;
    assert_eq!((down.status, down.json()), (503, json!({"status": "down"})));
    let report = request(server.addr, "GET", "/api/v1/health").await;
    assert_eq!(report.status, 200, "the report answers even when down");
    assert_eq!(report.json()["status"], "down");
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_other_methods_get_json_errors() {
    let server = Server::start(Limits::default()).await;
    let missing = request(server.addr, "GET", "/nope?x=1").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("content-type"), Some("application/json"));
    assert_eq!(
        missing.json(),
        json!({"error": "not found", "path": "/nope"})
    );
    for path in ["/health", "/api/v1/health"] {
        let post = request(server.addr, "POST", path).await;
        assert_eq!(post.status, 405, "POST {path}");
        assert_eq!(post.header("allow"), Some("GET, HEAD"));
        assert_eq!(
            post.json(),
            json!({"error": "method POST not allowed; use GET, HEAD", "path": path})
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn head_answers_without_a_body() {
    let server = Server::start(Limits::default()).await;
    let head = request(server.addr, "HEAD", "/api/v1/health").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.body, "");
    let missing = request(server.addr, "HEAD", "/nope").await;
    assert_eq!((missing.status, missing.body.as_str()), (404, ""));
    server.stop().await;
}

#[tokio::test]
async fn a_client_slow_to_send_its_header_is_cut_off() {
    let server = Server::start(short_limits()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let took = closed_within(&mut stream, TIMEOUT).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let server = Server::start(short_limits()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(TIMEOUT, stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "));
    closed_within(&mut stream, TIMEOUT).await;
    server.stop().await;
}

#[tokio::test]
async fn a_handler_that_cannot_answer_in_time_gets_a_503() {
    let server = Server::start(short_limits()).await;
    // Hold the aggregator's lock, as a long flush would, on a thread of
    // its own until the test lets go.
    let (locked_tx, locked) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let pipeline = server.context.pipeline.clone();
    let holder = std::thread::spawn(move || {
        pipeline.read(|_| {
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(TIMEOUT);
        });
    });
    locked.recv_timeout(TIMEOUT).unwrap();
    let answer = request(server.addr, "GET", "/api/v1/health").await;
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.json(),
        json!({"error": "no answer within 300ms", "path": "/api/v1/health"})
    );
    // The quick route does not need the lock and still answers.
    assert_eq!(request(server.addr, "GET", "/health").await.status, 200);
    release.send(()).unwrap();
    holder.join().unwrap();
    // With the lock free again, the report answers.
    assert_eq!(
        request(server.addr, "GET", "/api/v1/health").await.status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once() {
    let limits = Limits {
        max_connections: 1,
        header_read: Duration::from_secs(5),
        ..short_limits()
    };
    let server = Server::start(limits).await;
    // The first connection holds the only slot (idle, within its header time).
    let _first = TcpStream::connect(server.addr).await.unwrap();
    // Give the server the moment it needs to accept it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    closed_within(&mut second, Duration::from_secs(2)).await;
    server.stop().await;
}

#[tokio::test]
async fn stopping_closes_open_connections_within_the_grace() {
    let limits = Limits {
        header_read: Duration::from_secs(30),
        ..short_limits()
    };
    let server = Server::start(limits).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let took = server.stop().await;
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    closed_within(&mut idle, Duration::from_secs(5)).await;
}

/// Feeds the server's store one flush at `time` of `lines`, as the flusher
/// would.
fn feed(server: &Server, time: u64, lines: &str) {
    server.intake.fill(|table| table.ingest(lines.as_bytes()));
    let snapshot = server.context.pipeline.flush(time, None, false).snapshot;
    server.context.history.write().ingest(&snapshot);
}

fn now() -> u64 {
    crate::support::unix_now()
}

#[tokio::test]
async fn metrics_list_pages_and_filters() {
    let server = Server::start(Limits::default()).await;
    feed(
        &server,
        now(),
        "app.req:5|c|#env:prod\napp.load:2.5|g\napp.lat:10|ms\nother:1|c",
    );
    let all = request(server.addr, "GET", "/api/v1/metrics?filter=app.").await;
    assert_eq!(all.status, 200);
    let body = all.json();
    assert_eq!(body["matching"], 3);
    assert_eq!(body["next_offset"], Value::Null);
    assert_eq!(body["pct"], "90");
    let names: Vec<&str> = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    // Counters first, then gauges, timers, sets; by name within a kind.
    assert_eq!(names, vec!["app.req;env=prod", "app.load", "app.lat"]);
    let req = &body["metrics"][0];
    assert_eq!(req["name"], "app.req");
    assert_eq!(req["kind"], "counter");
    assert_eq!(req["tags"], json!({"env": "prod"}));
    assert_eq!(req["last"], json!({"rate": 0.5}));
    assert_eq!(req["total"], 5.0);
    assert_eq!(body["metrics"][1]["last"], json!({"value": 2.5}));
    let page = request(
        server.addr,
        "GET",
        "/api/v1/metrics?filter=app.&limit=2&offset=1",
    )
    .await;
    let page = page.json();
    assert_eq!(page["metrics"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_offset"], Value::Null);
    let first = request(server.addr, "GET", "/api/v1/metrics?filter=app.&limit=1").await;
    assert_eq!(first.json()["next_offset"], 1);
    let mine = request(server.addr, "GET", "/api/v1/metrics?own=false").await;
    assert_eq!(
        mine.json()["matching"],
        4,
        "etsy's statsd.* counters left out"
    );
    let everything = request(server.addr, "GET", "/api/v1/metrics").await;
    assert!(everything.json()["matching"].as_u64().unwrap() > 4);
    let gauges = request(server.addr, "GET", "/api/v1/metrics?kind=gauge").await;
    assert_eq!(gauges.json()["matching"], 1, "app.load");
    let bad = request(server.addr, "GET", "/api/v1/metrics?kind=histo").await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("histo"));
}

#[tokio::test]
async fn history_comes_as_columns() {
    let server = Server::start(Limits::default()).await;
    let t = now();
    feed(&server, t - 20, "g:1|g\nt:10|ms\nt:30|ms");
    feed(&server, t - 10, "g:2|g");
    let g = request(server.addr, "GET", "/api/v1/history?kind=gauge&name=g").await;
    assert_eq!(g.status, 200);
    assert_eq!(
        g.json(),
        json!({"key": "g", "kind": "gauge", "resolution": "flush", "fields": ["value"],
               "t": [t - 20, t - 10], "value": [1.0, 2.0]})
    );
    let since = format!("/api/v1/history?kind=timer&name=t&since={}", t - 15);
    let timer = request(server.addr, "GET", &since).await.json();
    // The second flush had no timer values: rate 0, the rest null.
    assert_eq!(timer["t"], json!([t - 10]));
    assert_eq!(timer["rate"], json!([0.0]));
    assert_eq!(timer["upper"], json!([null]));
    let all = request(server.addr, "GET", "/api/v1/history?kind=timer&name=t").await;
    assert_eq!(all.json()["upper"], json!([30.0, null]));
    let minute = request(
        server.addr,
        "GET",
        "/api/v1/history?kind=gauge&name=g&resolution=minute",
    )
    .await;
    assert_eq!(minute.json()["resolution"], "minute");
    let missing = request(server.addr, "GET", "/api/v1/history?kind=gauge&name=nope").await;
    assert_eq!(missing.status, 404);
    let no_kind = request(server.addr, "GET", "/api/v1/history?name=g").await;
    assert_eq!(no_kind.status, 400);
    let bad = request(
        server.addr,
        "GET",
        "/api/v1/history?kind=gauge&name=g&resolution=hour",
    )
    .await;
    assert_eq!(bad.status, 400);
}

/// `GET /metrics` as a scraper asking for OpenMetrics.
async fn openmetrics(addr: SocketAddr) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let ask = "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text;version=1.0.0\r\nConnection: close\r\n\r\n";
    stream.write_all(ask.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    Answer::parse(&raw)
}

#[tokio::test]
async fn prometheus_text_or_openmetrics_by_accept() {
    let server = Server::start(Limits::default()).await;
    feed(&server, now(), "hits:3|c|#code:200\nlat:7|ms");
    let text = request(server.addr, "GET", "/metrics").await;
    assert_eq!(text.status, 200);
    assert_eq!(
        text.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(text
        .body
        .contains("# TYPE hits_total counter\nhits_total{code=\"200\"} 3\n"));
    assert!(text.body.contains("lat_bucket{le=\"10.0\"} 1\n"));
    assert!(text.body.contains("lat_count 1\n"));
    let om = openmetrics(server.addr).await;
    assert!(om
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(om.body.contains("# TYPE hits counter\n"));
    assert!(om.body.ends_with("# EOF\n"));
}

/// `/metrics` up to the families read at each scrape (`process_*`).
fn store_part(body: &str) -> &str {
    &body[..body.find("# HELP statkit_build_info").unwrap_or(body.len())]
}

/// Answers are reused between flushes, never past one.
#[tokio::test]
async fn repeated_answers_follow_every_flush() {
    let server = Server::start(Limits::default()).await;
    let t = now();
    feed(&server, t, "before:1|c");
    let first = request(server.addr, "GET", "/metrics").await.body;
    let again = request(server.addr, "GET", "/metrics").await.body;
    assert_eq!(store_part(&again), store_part(&first));
    assert!(
        again.contains("\nprocess_resident_memory_bytes "),
        "{again}"
    );
    assert_eq!(
        request(server.addr, "GET", "/load/1").await.json()["Stat"]["before"],
        1.0
    );
    feed(&server, t, "after:2|c");
    let second = request(server.addr, "GET", "/metrics").await.body;
    assert!(!first.contains("after_total") && second.contains("after_total 2\n"));
    assert_eq!(
        request(server.addr, "GET", "/load/1").await.json()["Stat"]["after"],
        2.0
    );
    let om = openmetrics(server.addr).await;
    assert!(
        om.body.ends_with("# EOF\n"),
        "each format keeps its own answer"
    );
}

#[tokio::test]
async fn load_windows_on_both_routers() {
    let server = Server::start(Limits::default()).await;
    let t = now();
    feed(&server, t, "t:10|ms\nt:20|ms\nt:30|ms\nc:3|c");
    feed(&server, t, "t:5|ms\nc:1|c");
    let answer = request(server.addr, "GET", "/load/1").await;
    assert_eq!(answer.status, 200);
    let body = answer.json();
    assert_eq!(body["last_frame_time"], t / 60 * 60);
    assert_eq!(body["Stat"]["c"], 4.0);
    assert_eq!(body["Stat"]["stats.timers.t.count"], 4);
    assert_eq!(body["Stat"]["stats.timers.t.upper"], 30.0);
    assert_eq!(body["Stat"]["stats.timers.t.lower"], 5.0);
    assert_eq!(body["Stat"]["stats.timers.t.mean"], 12.5);
    // The current frame is never full.
    let full = request(server.addr, "GET", "/load/1/full").await.json();
    assert_eq!(full, json!({"last_frame_time": t / 60 * 60}));
    for bad in ["/load/0", "/load/16", "/load/x", "/load/1/half"] {
        assert_eq!(request(server.addr, "GET", bad).await.status, 404, "{bad}");
    }
    // gstatsd's own paths on a listener of their own.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let limits = Limits::default();
    let task = tokio::spawn(serve(
        listener,
        super::load_router(server.context.clone(), limits),
        limits,
        Allow::default(),
        stop_rx,
    ));
    for path in ["/", "/1", "/15"] {
        let gstatsd = request(addr, "GET", path).await.json();
        assert_eq!(gstatsd["Stat"]["c"], 4.0, "{path}");
    }
    assert_eq!(request(addr, "GET", "/metrics").await.status, 404);
    let _ = stop.send(true);
    task.await.unwrap();
}

#[tokio::test]
async fn dashboard_is_embedded_and_nothing_else_is_served() {
    let server = Server::start(Limits::default()).await;
    let page = request(server.addr, "GET", "/").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("/assets/dashboard.js"));
    let js = request(server.addr, "GET", "/assets/dashboard.js").await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.body.contains("/api/v1/metrics"));
    let css = request(server.addr, "GET", "/assets/dashboard.css").await;
    assert_eq!(css.status, 200);
    for path in [
        "/assets/../Cargo.toml",
        "/assets/%2e%2e%2fCargo.toml",
        "/assets/index.html",
        "/etc/passwd",
    ] {
        let answer = request(server.addr, "GET", path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(answer.json()["error"].is_string());
    }
    let post = request(server.addr, "POST", "/metrics").await;
    assert_eq!(post.status, 405);
}

#[tokio::test]
async fn clients_outside_http_allow_get_403() {
    let elsewhere = Allow::new(AllowList::parse(["10.0.0.0/8"]).unwrap());
    let server = Server::start_allowing(Limits::default(), elsewhere).await;
    for path in ["/", "/metrics", "/api/v1/health", "/nope"] {
        let answer = request(server.addr, "GET", path).await;
        assert_eq!(answer.status, 403, "{path}");
        let message = answer.json()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains("127.0.0.1") && message.contains("--http-allow"),
            "{message}"
        );
    }
    drop(server);
    let loopback = Allow::new(AllowList::parse(["10.0.0.0/8", "127.0.0.0/8"]).unwrap());
    let server = Server::start_allowing(Limits::default(), loopback).await;
    assert_eq!(request(server.addr, "GET", "/health").await.status, 200);
}
