//! A real Prometheus server (Debian's `prometheus`) scrapes `statkit
//! serve`'s `/metrics` on loopback, and its query API must return what
//! statkit was fed: counter totals, a gauge, a timer's histogram, tags as
//! labels.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::util::{
    self, free_tcp_port, http_get, poll_until, prometheus, send_udp, Dir, Process, Statkit,
};
use serde_json::Value;

/// Percent-encodes a PromQL query for a URL.
fn encode(query: &str) -> String {
    query
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value Prometheus gives for an instant `query`, if it has one.
fn query(prometheus: SocketAddr, query: &str) -> Option<f64> {
    let answer = http_get(
        prometheus,
        &format!("/api/v1/query?query={}", encode(query)),
        "",
    );
    if answer.status != 200 {
        return None;
    }
    let body: Value = serde_json::from_str(&answer.body).ok()?;
    let result = body["data"]["result"].as_array()?;
    let [sample] = result.as_slice() else {
        return None;
    };
    sample["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_what_statkit_was_fed() {
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.5",
        "--console=false",
        "--prometheus-bucket",
        "10,100",
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(
        statkit.udp,
        &[
            "ptest.req:5|c|#env:prod\nptest.req:5|c|#env:prod\nptest.req:1|c|#env:dev",
            "ptest.load:42|g",
            "ptest.lat:7|ms\nptest.lat:70|ms\nptest.lat:700|ms",
        ],
    );
    // Wait until a flush has carried everything into the store.
    let exposed = poll_until(util::TIMEOUT, || {
        let text = http_get(http, "/metrics", "").body;
        text.contains("ptest_lat_count 3").then_some(text)
    });
    assert!(exposed.is_some(), "statkit never exposed the timer");

    let expected = [
        ("up{job=\"statkit\"}", 1.0),
        ("ptest_req_total{env=\"prod\"}", 10.0),
        ("ptest_req_total{env=\"dev\"}", 1.0),
        ("ptest_load", 42.0),
        ("ptest_lat_count", 3.0),
        ("ptest_lat_sum", 777.0),
        ("ptest_lat_bucket{le=\"10.0\"}", 1.0),
        ("ptest_lat_bucket{le=\"100.0\"}", 2.0),
        ("ptest_lat_bucket{le=\"+Inf\"}", 3.0),
    ];
    scraped_by_prometheus(http, &expected);
}

/// Starts Debian's Prometheus scraping `http` every second and waits (a
/// bounded time) until each PromQL query of `expected` gives its value.
pub(crate) fn scraped_by_prometheus(http: SocketAddr, expected: &[(&str, f64)]) {
    let dir = Dir::new("prometheus");
    let config = dir.write(
        "prometheus.yml",
        &format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: statkit\n    static_configs:\n      - targets: ['{http}']\n"
        ),
    );
    let port = free_tcp_port();
    let mut command = Command::new(prometheus());
    command
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let mut server = Process::spawn("prometheus", command);
    let address: SocketAddr = ([127, 0, 0, 1], port).into();

    for &(promql, want) in expected {
        let got = poll_until(util::TIMEOUT, || {
            // Connection refused while Prometheus starts: try again.
            std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).ok()?;
            query(address, promql).filter(|v| *v == want)
        });
        assert_eq!(
            got,
            Some(want),
            "Prometheus never gave {promql} = {want}; last answer {:?}\nprometheus log:\n{}",
            query(address, promql),
            server.log()
        );
    }
    server.stop();
}
