//! `statkit serve` fed by real clients that nobody on this project wrote:
//! the PyPI `statsd` package (UDP and TCP), the DogStatsD client of the PyPI
//! `datadog` package, and gunicorn's built-in statsd instrumentation. Each
//! is driven by a short Python script run with the test venv's python
//! (`scripts/test.sh` installs it), and the test asserts the exact values
//! statkit then flushed to a loopback Graphite receiver.

use std::net::SocketAddr;
use std::process::Command;

use crate::util::{self, Flush, GraphiteReceiver, Process, Statkit, TIMEOUT};

/// Drives `statsd.StatsClient` / `statsd.TCPStatsClient`. Both clients
/// drop sampled calls at random; the script makes every call go out so the
/// counts are exact (the server still scales them by 1/rate).
const STATSD_CLIENT: &str = r#"
import random, sys
import statsd

random.random = lambda: 0.0
host, port, proto, p = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if proto == "udp":
    c = statsd.StatsClient(host, port, prefix=p)
else:
    c = statsd.TCPStatsClient(host, port, prefix=p, timeout=10)
c.incr("begin")
c.incr("hits")
c.incr("hits", 4)
c.decr("hits", 2)
c.incr("sampled", 3, rate=0.5)
c.gauge("level", 10)
c.gauge("level", 5, delta=True)
c.gauge("level", -3, delta=True)
c.gauge("below_zero", -4)
c.timing("latency", 12.5)
c.timing("latency", 7.5)
c.set("users", "alice")
c.set("users", "bob")
c.set("users", "alice")
with c.pipeline() as pipe:
    pipe.incr("piped")
    pipe.incr("piped", 2)
    pipe.timing("piped.t", 3)
    pipe.gauge("piped.g", 9)
c.incr("end")
c.close()
"#;

/// What statkit flushes for `STATSD_CLIENT` (flush interval 1 s, so rates
/// equal counts), with `{p}` for the prefix.
const STATSD_CLIENT_EXPECTED: &str = "\
stats.gauges.{p}.below_zero -4
stats.gauges.{p}.level 12
stats.gauges.{p}.piped.g 9
stats.sets.{p}.users.count 2
stats.timers.{p}.latency.count 2
stats.timers.{p}.latency.lower 7.5
stats.timers.{p}.latency.sum 20
stats.timers.{p}.latency.upper 12.5
stats.timers.{p}.piped.t.count 1
stats.timers.{p}.piped.t.lower 3
stats.timers.{p}.piped.t.sum 3
stats.timers.{p}.piped.t.upper 3
stats.{p}.hits 3
stats.{p}.piped 3
stats.{p}.sampled 6
stats_counts.statsd.bad_lines_seen 0
stats_counts.{p}.hits 3
stats_counts.{p}.piped 3
stats_counts.{p}.sampled 6
";

/// Drives the DogStatsD client of the `datadog` package: tags, sample
/// rates, histograms, distributions, events and service checks. Its
/// telemetry is off (it would add series of its own on its own schedule).
const DOGSTATSD_CLIENT: &str = r#"
import sys
import datadog.dogstatsd.base as base
from datadog.dogstatsd.base import DogStatsd

base.random = lambda: 0.0
host, port, p = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d = DogStatsd(host=host, port=port, namespace=p, disable_telemetry=True)
d.increment("begin")
d.increment("page.views", tags=["env:prod", "canary"])
d.increment("page.views", 2, tags=["env:prod", "canary"])
d.decrement("errors")
d.increment("sampled", 1, sample_rate=0.5)
d.gauge("temp", 21.5, tags=["room:lab"])
d.histogram("resp", 10)
d.histogram("resp", 30, sample_rate=0.5)
d.distribution("size", 5)
d.timing("db", 4.5)
d.set("visitors", "x")
d.set("visitors", "y")
d.event("Deploy", "v1.2 shipped", tags=["env:prod"])
d.service_check("app.up", DogStatsd.OK, tags=["env:prod"], message="fine")
d.increment("end")
d.flush()
d.close_socket()
"#;

/// What statkit flushes for `DOGSTATSD_CLIENT`. Histograms (`|h`) and
/// distributions (`|d`) are aggregated as timers; events and service checks
/// produce no series, and are not bad lines either.
const DOGSTATSD_CLIENT_EXPECTED: &str = "\
stats.gauges.{p}.temp;room=lab 21.5
stats.sets.{p}.visitors.count 2
stats.timers.{p}.db.count 1
stats.timers.{p}.db.lower 4.5
stats.timers.{p}.db.sum 4.5
stats.timers.{p}.db.upper 4.5
stats.timers.{p}.resp.count 3
stats.timers.{p}.resp.lower 10
stats.timers.{p}.resp.sum 40
stats.timers.{p}.resp.upper 30
stats.timers.{p}.size.count 1
stats.timers.{p}.size.lower 5
stats.timers.{p}.size.sum 5
stats.timers.{p}.size.upper 5
stats.{p}.errors -1
stats.{p}.page.views;env=prod;canary 3
stats.{p}.sampled 2
stats_counts.statsd.bad_lines_seen 0
stats_counts.{p}.errors -1
stats_counts.{p}.page.views;env=prod;canary 3
stats_counts.{p}.sampled 2
";

#[test]
fn pypi_statsd_client_over_udp() {
    let graphite = GraphiteReceiver::start();
    let statkit = start_statkit(&graphite);
    let [host, port] = host_port(statkit.udp);
    let args = [host, port, "udp".to_string()];
    run_client(&graphite, STATSD_CLIENT, &args, STATSD_CLIENT_EXPECTED);
}

#[test]
fn pypi_statsd_client_over_tcp() {
    let graphite = GraphiteReceiver::start();
    let statkit = start_statkit(&graphite);
    let [host, port] = host_port(statkit.tcp);
    let args = [host, port, "tcp".to_string()];
    run_client(&graphite, STATSD_CLIENT, &args, STATSD_CLIENT_EXPECTED);
}

#[test]
fn datadog_dogstatsd_client() {
    let graphite = GraphiteReceiver::start();
    let statkit = start_statkit(&graphite);
    let args = host_port(statkit.udp);
    run_client(
        &graphite,
        DOGSTATSD_CLIENT,
        &args,
        DOGSTATSD_CLIENT_EXPECTED,
    );
}

/// A tiny WSGI app for gunicorn to serve.
const WSGI_APP: &str = r#"
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"#;

/// Makes `count` GET requests to `url`, one at a time, each with a timeout,
/// and prints how many answered 200.
const LOAD: &str = r#"
import sys, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
ok = 0
for _ in range(count):
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
        ok += response.status == 200
print(ok)
"#;

#[test]
fn gunicorn_statsd_instrumentation() {
    const REQUESTS: usize = 25;
    let graphite = GraphiteReceiver::start();
    let statkit = start_statkit(&graphite);
    let dir = util::Dir::new("gunicorn");
    dir.write("app.py", WSGI_APP);
    let mut command = Command::new(util::python());
    command
        .args(["-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1"])
        .arg("--statsd-host")
        .arg(statkit.udp.to_string())
        .arg("--chdir")
        .arg(dir.path())
        .arg("app:app");
    let gunicorn = Process::spawn("gunicorn", command);
    let url = util::gunicorn_url(&gunicorn);

    let mut load = Command::new(util::python());
    load.args(["-c", LOAD, &url, &REQUESTS.to_string()]);
    let output = util::run_bounded(load, TIMEOUT);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.trim() == REQUESTS.to_string(),
        "the load script failed or got non-200 answers (stdout {stdout:?}):\n{}\ngunicorn:\n{}",
        String::from_utf8_lossy(&output.stderr),
        gunicorn.log()
    );

    // gunicorn reports a request after answering it, so the last reports may
    // trail the last response by a moment: wait until all have been flushed,
    // then one more flush, so that anything counted twice would show too.
    let series = [
        "stats_counts.gunicorn.requests",
        "stats_counts.gunicorn.request.status.200",
        "stats.timers.gunicorn.request.duration.count",
    ];
    let total = |flushes: &[Flush], name: &str| -> f64 {
        flushes.iter().filter_map(|f| f.value(name)).sum()
    };
    let seen = graphite.wait_until(
        &format!("{REQUESTS} requests in {series:?}"),
        TIMEOUT,
        |f| {
            series
                .iter()
                .all(|name| total(f, name) >= REQUESTS as f64)
                .then_some(f.len())
        },
    );
    let flushes = graphite.wait_until("one more flush", TIMEOUT, |f| {
        (f.len() > seen).then(|| f.to_vec())
    });
    let got: String = series
        .iter()
        .map(|name| format!("{name} {}\n", total(&flushes, name)))
        .collect();
    let expected: String = series
        .iter()
        .map(|name| format!("{name} {REQUESTS}\n"))
        .collect();
    util::assert_lines_eq("gunicorn's series summed over every flush", &expected, &got);
}

/// statkit with a 1 s flush interval (so rates equal counts) and the
/// default percent threshold, flushing to `graphite`.
fn start_statkit(graphite: &GraphiteReceiver) -> Statkit {
    Statkit::start(&[
        "--flush-interval",
        "1",
        "--graphite",
        &graphite.addr().to_string(),
    ])
}

/// A loopback address as the two script arguments `host port`.
fn host_port(addr: SocketAddr) -> [String; 2] {
    [addr.ip().to_string(), addr.port().to_string()]
}

/// Runs a client `script` right after a flush, with `args` and then a
/// metric prefix, and checks the flush that holds what it sent against
/// `expected` (`name value` lines in any order, `{p}` standing for the
/// prefix).
///
/// Each script sends `<prefix>.begin` first and `<prefix>.end` last, within
/// milliseconds, right after a flush; if a flush still fell between them,
/// the run is repeated under a new prefix (a few times at most).
fn run_client(graphite: &GraphiteReceiver, script: &str, args: &[String], expected: &str) {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let prefix = format!("client{attempt}");
        let start = graphite.flush_count();
        graphite.wait_for_flush(start, TIMEOUT);
        let mut command = Command::new(util::python());
        command.arg("-c").arg(script).args(args).arg(&prefix);
        let output = util::run_bounded(command, TIMEOUT);
        assert!(
            output.status.success(),
            "client script failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let begin = format!("stats_counts.{prefix}.begin");
        let end = format!("stats_counts.{prefix}.end");
        let flush = graphite.wait_until(&format!("a flush with {end}"), TIMEOUT, |flushes| {
            flushes
                .iter()
                .skip(start + 1)
                .find(|f| f.value(&end) == Some(1.0))
                .cloned()
        });
        if flush.value(&begin) != Some(1.0) && attempt < ATTEMPTS {
            eprintln!("the client's traffic straddled a flush (attempt {attempt}); again");
            continue;
        }
        // Both sorted the same way, so `expected` can be written in any order.
        let got = util::sort_lines(&client_series(&flush, &prefix));
        let expected = util::sort_lines(&expected.replace("{p}", &prefix));
        util::assert_lines_eq(
            &format!("flush after the client ran (prefix {prefix})"),
            &expected,
            &got,
        );
        return;
    }
}

/// The lines of `flush` that came from the client (prefix `prefix`, minus
/// the begin/end markers) or say whether any of its lines were rejected, as
/// sorted `name value` lines. Timers keep only the statistics that follow
/// from the values directly; the etsy differential test covers the rest.
fn client_series(flush: &Flush, prefix: &str) -> String {
    let values = flush
        .values()
        .unwrap_or_else(|e| panic!("malformed flush: {e}\n{flush:#?}"));
    let timer_stats = ["count", "sum", "lower", "upper"];
    let kept = values.into_iter().filter(|(name, _)| {
        if name == "stats_counts.statsd.bad_lines_seen" {
            return true;
        }
        let base = name.split(';').next().unwrap_or_default();
        let parts: Vec<&str> = base.split('.').collect();
        if !parts.contains(&prefix) || parts.contains(&"begin") || parts.contains(&"end") {
            return false;
        }
        parts[..2] != ["stats", "timers"] || timer_stats.contains(parts.last().unwrap())
    });
    util::render(&kept.collect())
}
