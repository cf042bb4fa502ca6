//! The dashboard in a real browser: headless Chromium (Debian's
//! `chromium`) opens `/` of a `statkit serve` fed known traffic, runs the
//! page's script, and the rendered DOM must show the series' names, their
//! values, the server's health and a drawn chart for each, and the process
//! table a row for a stats file the statkit library writes in this test.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::util::{self, chromium, http_get, poll_until, run_bounded, send_udp, Dir, Statkit};

/// Chromium headless with a profile of its own in `dir`, its scripts given
/// `budget` of virtual time (fetches included) before it writes its output.
fn headless(dir: &Dir, budget: Duration) -> Command {
    let mut command = Command::new(chromium());
    command
        .arg("--headless")
        // Tests run as root in CI, where Chromium's sandbox cannot start.
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--no-first-run")
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--virtual-time-budget={}", budget.as_millis()));
    command
}

/// The same datagram every 100 ms (several per flush, so every flush
/// reports the same gauge, set members and timer percentiles) until
/// dropped.
struct Traffic {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Traffic {
    fn start(to: SocketAddr) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            // Bounded: at most ten minutes, though the test stops it sooner.
            for _ in 0..6000 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                send_udp(to, &[DATAGRAM]);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Traffic {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

const DATAGRAM: &str = "dash.req:5|c|#env:prod\ndash.load:42|g\ndash.lat:7|ms\ndash.lat:70|ms\ndash.users:ann|s\ndash.users:bob|s";

/// Waits until the store holds a few flushes of the traffic.
fn wait_for_traffic(http: SocketAddr) {
    let fed = poll_until(util::TIMEOUT, || {
        let list = http_get(http, "/api/v1/metrics?filter=dash.&own=false", "").body;
        // Two seconds of the timer: a chart with a line, not a dot.
        let body: serde_json::Value = serde_json::from_str(&list).ok()?;
        let lat = body["metrics"]
            .as_array()?
            .iter()
            .find(|m| m["key"] == "dash.lat")?;
        (body["matching"] == 4 && lat["total"].as_f64()? >= 30.0).then_some(())
    });
    assert!(
        fed.is_some(),
        "statkit never stored the dashboard's traffic"
    );
}

#[test]
fn the_dashboard_renders_names_values_health_and_charts() {
    // A stats folder and a pipe folder of the test's own: one process, this
    // one, publishing through the statkit library.
    let files = Dir::new("dashboard-stats");
    let pipes = Dir::new("dashboard-pipes");
    let published = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: files.path().to_owned(),
        program: "dashtest".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    published.counter("jobs_done", &[]).unwrap().add(17);
    let statkit = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
    ]);
    let http = statkit.http.expect("an HTTP address");
    let _traffic = Traffic::start(statkit.udp);
    wait_for_traffic(http);
    let dir = Dir::new("chromium");
    let mut dump = headless(&dir, Duration::from_secs(5));
    dump.arg("--dump-dom")
        .arg(format!("http://{http}/?filter=dash."));
    let output = run_bounded(dump, Duration::from_secs(90));
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && dom.contains("data-loaded=\"true\""),
        "the page never finished loading (status {:?}):\n{dom}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The filter came from the URL: four cards, the names and kinds.
    assert_eq!(dom.matches("<section class=\"card\"").count(), 4, "{dom}");
    for card in [
        "data-key=\"dash.req;env=prod\" data-kind=\"counter\"",
        "data-key=\"dash.load\" data-kind=\"gauge\"",
        "data-key=\"dash.lat\" data-kind=\"timer\"",
        "data-key=\"dash.users\" data-kind=\"set\"",
    ] {
        assert!(dom.contains(card), "no card {card} in:\n{dom}");
    }
    assert!(dom.contains("<h2>dash.req</h2>"), "{dom}");
    assert!(dom.contains("counter · env:prod"), "{dom}");
    // The newest flush's values: a gauge of 42, a set of two members, a
    // timer's p90.
    assert!(dom.contains("<div class=\"value\">42</div>"), "{dom}");
    assert!(dom.contains("<div class=\"value\">2</div>"), "{dom}");
    assert!(
        dom.contains("<div class=\"value\">70 ms p90</div>"),
        "{dom}"
    );
    // Every card drew a chart with points; the timer three lines.
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 4, "{dom}");
    assert!(!dom.contains("data-points=\"0\""), "{dom}");
    for field in ["rate", "value", "members", "median", "pct", "upper"] {
        let line = format!("data-field=\"{field}\"");
        assert!(dom.contains(&line), "no {field} line in:\n{dom}");
    }
    assert!(!dom.contains("points=\"\""), "an empty line in:\n{dom}");
    // The server's own health, read from /api/v1/health.
    assert!(dom.contains("<dt>status</dt><dd>up</dd>"), "{dom}");
    assert!(dom.contains("<dt>bad lines</dt><dd>0</dd>"), "{dom}");
    assert!(!dom.contains("<dt>packets</dt><dd>0</dd>"), "{dom}");
    // The process table: this test process, its program and its counter.
    assert!(dom.contains("data-processes=\"true\""), "{dom}");
    let row = format!(
        "<tr data-pid=\"{}\" data-format=\"statkit\" data-state=\"alive\"><td>{}</td><td>dashtest</td>",
        std::process::id(),
        std::process::id()
    );
    assert!(dom.contains(&row), "no process row {row} in:\n{dom}");
    assert!(dom.contains("jobs_done 17"), "{dom}");

    // A screenshot of the same page is a real PNG.
    let png = dir.path().join("dashboard.png");
    let mut shot = headless(&dir, Duration::from_secs(5));
    shot.arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,800")
        .arg(format!("http://{http}/?filter=dash."));
    let output = run_bounded(shot, Duration::from_secs(90));
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000);
}
