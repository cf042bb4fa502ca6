//! `statkit serve`'s HTTP server, end to end: plain HTTP/1.1 over loopback
//! to the real binary, checking every status, header and JSON body.
//!
//! The bodies are compared as whole strings: the server writes compact JSON
//! with its fields in a fixed order, so the exact text is the exact shape.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant, SystemTime};

use crate::util::{self, admin, send_udp, Statkit, TIMEOUT};
use statkit_testkit::http::Answer;

/// What these tests check of every JSON answer.
trait JsonAnswer {
    fn assert_json(&self);
}

impl JsonAnswer for Answer {
    /// Asserts the answer is JSON whose length the headers give right.
    #[track_caller]
    fn assert_json(&self) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let length = self.header("content-length").and_then(|l| l.parse().ok());
        assert_eq!(length, Some(self.body.len()), "{self:?}");
    }
}

/// Sends `METHOD PATH` over a fresh connection and reads the answer up to
/// the server closing it (the request asks it to).
fn request(to: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect to the HTTP port");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(Answer::request(method, path).as_bytes())
        .expect("write the request");
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("no complete answer to {method} {path} within {TIMEOUT:?}: {raw:?}")
        }
        Err(e) => panic!("reading the answer to {method} {path}: {e}"),
    }
    Answer::parse(&raw)
}

fn get(to: SocketAddr, path: &str) -> Answer {
    request(to, "GET", path)
}

/// The HTTP address of a server started with the harness's `--http`.
fn http(statkit: &Statkit) -> SocketAddr {
    statkit
        .http
        .unwrap_or_else(|| panic!("no `listening http ADDR` line:\n{}", statkit.process.log()))
}

/// The text of `"name":VALUE` in compact JSON: up to the next `,` or `}`
/// (so for numbers, `null` and plain strings).
fn field<'a>(body: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = body
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + key.len();
    let rest = &body[start..];
    &rest[..rest.find([',', '}']).unwrap_or(rest.len())]
}

fn number(body: &str, name: &str) -> u64 {
    let text = field(body, name);
    text.parse()
        .unwrap_or_else(|_| panic!("{name} is not a whole number: {text:?} in {body}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn http_address_is_printed_before_ready() {
    let statkit = Statkit::start(&["--http", "127.0.0.1:0"]);
    let addr = http(&statkit);
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let log = statkit.process.log();
    let admin_line = format!("listening admin {}\n", statkit.admin);
    let http_line = format!("listening http {addr}\n");
    let order: Vec<Option<usize>> = [admin_line.as_str(), &http_line, "ready\n"]
        .iter()
        .map(|line| log.find(line))
        .collect();
    assert!(
        order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]),
        "expected the admin line, then the http line, then ready:\n{log}"
    );
}

#[test]
fn http_off_starts_no_http_server() {
    let statkit = Statkit::start(&["--http", "off"]);
    assert_eq!(statkit.http, None, "{}", statkit.process.log());
    assert!(!statkit.process.log().contains("listening http"));
}

#[test]
fn an_http_port_in_use_is_an_error_at_start() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = util::serve_refused(&["--http", &addr]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for http on {addr}")),
        "stderr:\n{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("ready"),
        "it must not claim to be ready"
    );
}

#[test]
fn health_follows_the_admin_port() {
    let statkit = Statkit::start(&["--http", "127.0.0.1:0"]);
    let to = http(&statkit);
    let up = get(to, "/health");
    up.assert_json();
    assert_eq!((up.status, up.body.as_str()), (200, r#"{"status":"up"}"#));

    assert_eq!(admin(statkit.admin, "health down"), "health: down\n");
    let down = get(to, "/health");
    down.assert_json();
    assert_eq!(
        (down.status, down.body.as_str()),
        (503, r#"{"status":"down"}"#)
    );
    // The report still answers, and says so.
    let report = get(to, "/api/v1/health");
    assert_eq!(report.status, 200);
    assert_eq!(field(&report.body, "status"), r#""down""#);

    assert_eq!(admin(statkit.admin, "health up"), "health: up\n");
    assert_eq!(get(to, "/health").status, 200);
}

#[test]
fn api_health_counts_the_traffic_sent() {
    let before_start = unix_now();
    let statkit = Statkit::start(&["--http", "127.0.0.1:0", "--flush-interval", "3600"]);
    let to = http(&statkit);
    // Three datagrams: five lines, one of them bad, one event and one
    // service check; two series (a counter and a gauge).
    send_udp(
        statkit.udp,
        &[
            "http.hits:1|c\nhttp.depth:7|g",
            "http.bad:x|c",
            "_e{5,4}:title|text\n_sc|http.check|0",
        ],
    );
    // The receiver thread reads them on its own time: ask until all three
    // are counted.
    let deadline = Instant::now() + TIMEOUT;
    let body = loop {
        let answer = get(to, "/api/v1/health");
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.assert_json();
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        if number(&answer.body, "packets") >= 3 {
            break answer.body;
        }
        assert!(
            Instant::now() < deadline,
            "the three datagrams were not counted within {TIMEOUT:?}: {}",
            answer.body
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let started = number(&body, "started_unix");
    let uptime = number(&body, "uptime_seconds");
    assert!(
        (before_start.saturating_sub(1)..=unix_now() + 1).contains(&started),
        "started_unix {started} is not when the test started it ({before_start})"
    );
    assert!(uptime <= unix_now() + 1 - before_start, "uptime {uptime}");
    let expected = format!(
        concat!(
            r#"{{"status":"up","version":"{version}","uptime_seconds":{uptime},"#,
            r#""started_unix":{started},"last_flush_unix":null,"series":3,"#,
            r#""ingest":{{"packets":3,"lines":5,"bad_lines":1,"events":1,"service_checks":1,"#,
            r#""refused_series":0,"refused_samples":0,"oversized_datagrams":0,"udp_kernel_drops":0,"#,
            r#""tcp_connections_refused":0}},"#,
            r#""sinks":[{{"name":"console","dropped_flushes":0}},{{"name":"store","dropped_flushes":0}}]}}"#
        ),
        version = env!("CARGO_PKG_VERSION"),
        uptime = uptime,
        started = started,
    );
    // Series: before the first flush the aggregate holds only etsy's own
    // three counters (statsd.bad_lines_seen, packets_received,
    // metrics_received); the counter and the gauge sent join at the flush.
    util::assert_lines_eq(
        "/api/v1/health",
        &expected.replace(',', ",\n"),
        &body.replace(',', ",\n"),
    );
    // Asking again counts nothing twice.
    let again = get(to, "/api/v1/health").body;
    assert_eq!(
        field(&again, "lines"),
        "5",
        "a second report changed the totals: {again}"
    );
}

#[test]
fn api_health_shows_the_last_flush() {
    let statkit = Statkit::start(&["--http", "127.0.0.1:0", "--flush-interval", "0.2"]);
    let to = http(&statkit);
    let deadline = Instant::now() + TIMEOUT;
    let last_flush = loop {
        let body = get(to, "/api/v1/health").body;
        let value = field(&body, "last_flush_unix").to_owned();
        if value != "null" {
            break value;
        }
        assert!(
            Instant::now() < deadline,
            "no flush reported within {TIMEOUT:?}: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let last_flush: u64 = last_flush
        .parse()
        .unwrap_or_else(|_| panic!("last_flush_unix {last_flush:?} is not a number"));
    let now = unix_now();
    assert!(
        (now.saturating_sub(5)..=now + 1).contains(&last_flush),
        "last_flush_unix {last_flush} is not recent (now {now})"
    );
}

#[test]
fn unknown_paths_and_other_methods_get_json_errors() {
    let statkit = Statkit::start(&["--http", "127.0.0.1:0"]);
    let to = http(&statkit);
    let missing = get(to, "/no/such/page");
    missing.assert_json();
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (404, r#"{"error":"not found","path":"/no/such/page"}"#)
    );
    for (method, path) in [("POST", "/health"), ("DELETE", "/api/v1/health")] {
        let refused = request(to, method, path);
        refused.assert_json();
        assert_eq!(refused.status, 405, "{method} {path}: {refused:?}");
        assert_eq!(refused.header("allow"), Some("GET, HEAD"));
        assert_eq!(
            refused.body,
            format!(r#"{{"error":"method {method} not allowed; use GET, HEAD","path":"{path}"}}"#)
        );
    }
}

#[test]
fn head_answers_like_get_without_a_body() {
    let statkit = Statkit::start(&["--http", "127.0.0.1:0"]);
    let to = http(&statkit);
    let full = get(to, "/health");
    let head = request(to, "HEAD", "/health");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(
        head.header("content-length"),
        full.header("content-length"),
        "HEAD announces the length GET would send"
    );
    assert_eq!(head.body, "");
    let report = request(to, "HEAD", "/api/v1/health");
    assert_eq!((report.status, report.body.as_str()), (200, ""));
}

#[test]
fn sigterm_with_an_open_http_connection_still_exits_promptly() {
    let mut statkit = Statkit::start(&["--http", "127.0.0.1:0"]);
    let to = http(&statkit);
    // A kept-alive connection that has asked once and then sits idle.
    let mut idle = TcpStream::connect_timeout(&to, TIMEOUT).unwrap();
    idle.set_read_timeout(Some(TIMEOUT)).unwrap();
    idle.write_all(format!("GET /health HTTP/1.1\r\nHost: {to}\r\n\r\n").as_bytes())
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).expect("an answer");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 "), "{:?}", &buf[..n]);
    let started = Instant::now();
    statkit.process.terminate();
    let status = statkit.process.wait_timeout(TIMEOUT);
    let log = statkit.process.log();
    let status =
        status.unwrap_or_else(|| panic!("still running {TIMEOUT:?} after SIGTERM:\n{log}"));
    assert!(status.success(), "exit status {status}:\n{log}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?} to exit",
        started.elapsed()
    );
    // The server closed the idle connection on its way out.
    assert_eq!(idle.read(&mut buf).map_err(|e| e.kind()), Ok(0));
}

#[test]
fn gstatsd_load_api_on_its_own_listener() {
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.2",
        "--console=false",
        "--load-listen",
        "127.0.0.1:0",
    ]);
    let load = statkit.load.expect("a `listening load` line");
    send_udp(statkit.udp, &["lc:3|c\nlt:10|ms\nlt:30|ms"]);
    let answer = util::poll_until(TIMEOUT, || {
        let answer = get(load, "/1");
        answer.body.contains("\"lc\":3.0").then_some(answer)
    })
    .expect("the load API never showed the counter");
    answer.assert_json();
    assert!(
        answer.body.contains("\"stats.timers.lt.lower\":10.0"),
        "{answer:?}"
    );
    assert!(
        answer.body.contains("\"stats.timers.lt.upper\":30.0"),
        "{answer:?}"
    );
    // The main HTTP server has the same view under /load/.
    let main = get(http(&statkit), "/load/15");
    assert!(main.body.contains("\"lc\":3.0"), "{main:?}");
    assert_eq!(get(load, "/16").status, 404);
}

#[test]
fn http_allow_turns_other_clients_away() {
    let statkit = Statkit::start(&["--http-allow", "10.0.0.0/8,192.168.0.0/16"]);
    let answer = get(http(&statkit), "/health");
    assert_eq!(answer.status, 403, "{answer:?}");
    answer.assert_json();
    assert!(
        answer.body.contains("127.0.0.1 is not allowed"),
        "{answer:?}"
    );
    let open = Statkit::start(&["--http-allow", "127.0.0.1"]);
    assert_eq!(get(http(&open), "/health").status, 200);
}
