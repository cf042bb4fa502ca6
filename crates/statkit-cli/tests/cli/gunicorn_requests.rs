//! The request view with a real gunicorn: `examples/gunicorn.conf.py` and
//! the in-tree Python hooks time K requests to a tiny WSGI app; `statkit
//! ctl`, `/_status` and the munin plug-in all show them. Then statkit
//! stops, and gunicorn goes on answering as before.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{self, Process, Statkit, TIMEOUT};
use statkit_testkit::http::Answer;

const REQUESTS: usize = 40;

const WSGI_APP: &str = r#"
import time

def app(environ, start_response):
    time.sleep(0.002)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"#;

/// Makes `count` GET requests to `url`, one at a time, each with a timeout;
/// prints how many answered 200 and the slowest one's seconds.
const LOAD: &str = r#"
import sys, time, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
ok, slowest = 0, 0.0
for _ in range(count):
    started = time.monotonic()
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        ok += response.status == 200
    slowest = max(slowest, time.monotonic() - started)
print(ok, slowest)
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gunicorn(statsd: &str, dir: &util::Dir) -> Process {
    let mut command = Command::new(util::python());
    command
        .args(["-m", "gunicorn", "-c"])
        .arg(repo().join("examples/gunicorn.conf.py"))
        .arg("--chdir")
        .arg(dir.path())
        .arg("app:app")
        // The hooks of this tree, whatever the venv has installed.
        .env("PYTHONPATH", repo().join("python"))
        .env("STATKIT_STATSD", statsd)
        .env("STATKIT_PREFIX", "e2e")
        .env("GUNICORN_BIND", "127.0.0.1:0")
        .env("GUNICORN_WORKERS", "2");
    Process::spawn("gunicorn", command)
}

/// Runs the load; returns the slowest request's seconds.
fn load(url: &str, gunicorn: &Process) -> f64 {
    let mut command = Command::new(util::python());
    command.args(["-c", LOAD, url, &REQUESTS.to_string()]);
    let output = util::run_bounded(command, TIMEOUT * 4);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut words = stdout.split_whitespace();
    let ok: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    assert!(
        output.status.success() && ok == REQUESTS,
        "the load failed (stdout {stdout:?}):\n{}\ngunicorn:\n{}",
        String::from_utf8_lossy(&output.stderr),
        gunicorn.log()
    );
    words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN)
}

fn ctl(statkit: &Statkit, args: &[&str]) -> String {
    let mut command = util::statkit_command();
    command
        .args(["ctl", "--admin", &statkit.admin.to_string()])
        .args(args);
    let output = util::run_bounded(command, TIMEOUT);
    assert!(output.status.success(), "statkit ctl {args:?} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn status_page(statkit: &Statkit) -> String {
    let http = statkit.http.expect("an HTTP address");
    let mut stream = TcpStream::connect_timeout(&http, TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(Answer::request("GET", "/_status").as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let answer = Answer::parse(&raw);
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[test]
fn gunicorn_requests_through_the_hooks() {
    let mut statkit = Statkit::start(&["--console=false"]);
    let dir = util::Dir::new("gunicorn-hooks");
    dir.write("app.py", WSGI_APP);
    let gunicorn = gunicorn(&statkit.udp.to_string(), &dir);
    let url = util::gunicorn_url(&gunicorn);
    let with_statkit = load(&url, &gunicorn);

    // gunicorn runs post_request after the answer is sent: the last
    // durations may trail the last response by a moment.
    let done = format!("\"e2e\":{{\"started\":{REQUESTS},\"finished\":{REQUESTS},");
    let deadline = Instant::now() + TIMEOUT;
    let json = loop {
        let json = ctl(&statkit, &["--json", "stats"]);
        if json.contains(&done) {
            break json;
        }
        assert!(
            Instant::now() < deadline,
            "the view never showed {REQUESTS} requests: {json}\ngunicorn:\n{}",
            gunicorn.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let stats: serde_json::Value = serde_json::from_str(&json).unwrap();
    let avg = stats["e2e"]["processing_time"]["avg"].as_f64().unwrap();
    // The app sleeps 2 ms; a loaded machine may take far longer, never 0.
    assert!(
        (2.0..10_000.0).contains(&avg),
        "implausible average {avg} ms"
    );

    let text = ctl(&statkit, &["stats"]);
    assert!(
        text.contains(&format!(
            "e2e\n===\nRequests: started={REQUESTS}, finished={REQUESTS}, processing=0\n"
        )),
        "{text}"
    );
    assert_eq!(format!("{}\n", status_page(&statkit)), json);
    let mut munin = util::statkit_command();
    munin
        .args(["munin", "--name", "statkit_requests_e2e"])
        .env("status_addr", statkit.admin.to_string());
    let fetched = util::run_bounded(munin, TIMEOUT);
    assert_eq!(
        String::from_utf8_lossy(&fetched.stdout),
        format!("started.value {REQUESTS}\nfinished.value {REQUESTS}\n")
    );

    statkit.process.terminate();
    assert!(statkit.process.wait_timeout(TIMEOUT).is_some());
    let without_statkit = load(&url, &gunicorn);
    eprintln!(
        "slowest of {REQUESTS} requests: {with_statkit:.4} s with statkit, {without_statkit:.4} s without"
    );
    // Not a timing test: a generous bound that a blocking hook (the
    // original's flaw) would blow through.
    assert!(
        without_statkit < 5.0,
        "requests slowed to {without_statkit} s"
    );
}
