//! statsd_exporter's mapping files through the real binary: the corpus in
//! `tests/mapping/` (a mapping file, statsd lines, the `/metrics` they must
//! give, checked by Debian's `promtool`), `statkit mapping check` and
//! `test`, a server refusing a bad file, and a real Prometheus scraping
//! mapped timers.
//!
//! `STATKIT_BLESS=1` rewrites the corpus' `expected.prom` files from what
//! the server gives (review the diff before committing).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{
    self, assert_lines_eq, http_get, poll_until, promtool, send_udp, serve_refused,
    statkit_command, Dir, Statkit,
};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mapping")
}

/// The case folders, by name.
fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("read tests/mapping")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// `/metrics` of a server with `mapping` once it has taken `lines` (sent
/// in one datagram, so one flush has them all).
fn scrape(mapping: &Path, lines: &str, accept: &str) -> String {
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.5",
        "--console=false",
        "--mapping-config",
        mapping.to_str().expect("a UTF-8 path"),
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(statkit.udp, &[lines]);
    let wanted = format!("statsd_metrics_received_total {}\n", lines.lines().count());
    poll_until(util::TIMEOUT, || {
        let text = http_get(http, "/metrics", accept).body;
        text.contains(&wanted).then_some(text)
    })
    .unwrap_or_else(|| {
        panic!(
            "the server never counted the lines: {}",
            statkit.process.log()
        )
    })
}

/// The text without the server's own families (`statsd_*`,
/// `statkit_build_info`, `process_*`).
fn without_own(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let name = l
                .strip_prefix("# HELP ")
                .or(l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            !["statsd_", "statkit_build_info", "process_"]
                .iter()
                .any(|own| name.starts_with(own))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Runs `promtool check metrics` on `text`; its exit status and output.
fn promtool_check(text: &str) -> (Option<i32>, String) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let deadline = Instant::now() + util::TIMEOUT;
    while child.try_wait().expect("wait for promtool").is_none() {
        assert!(
            Instant::now() < deadline,
            "promtool ran past {:?}",
            util::TIMEOUT
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("promtool's output");
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), said)
}

#[test]
fn the_corpus_gives_the_expected_metrics() {
    let cases = cases();
    assert!(cases.len() >= 4, "the corpus is missing: {cases:?}");
    for case in cases {
        let lines = std::fs::read_to_string(case.join("lines.statsd")).expect("lines.statsd");
        let text = scrape(&case.join("mapping.yml"), &lines, "");
        let (status, said) = promtool_check(&text);
        assert_eq!(
            status,
            Some(0),
            "{}: promtool check metrics: {said}\n{text}",
            case.display()
        );
        let got = without_own(&text);
        let expected_path = case.join("expected.prom");
        if std::env::var_os("STATKIT_BLESS").is_some() {
            std::fs::write(&expected_path, &got).expect("write expected.prom");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).expect("expected.prom");
        assert_lines_eq(&case.display().to_string(), &expected, &got);
    }
}

#[test]
fn openmetrics_counters_get_total_once() {
    let case = corpus().join("dispatcher");
    let lines = std::fs::read_to_string(case.join("lines.statsd")).expect("lines.statsd");
    let accept = "Accept: application/openmetrics-text;version=1.0.0\r\n";
    let text = scrape(&case.join("mapping.yml"), &lines, accept);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    assert!(
        text.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total "),
        "{text}"
    );
    assert!(
        text.contains("# TYPE dispatch_events counter\n"),
        "the family drops `_total`: {text}"
    );
    assert!(
        text.contains("dispatch_events_total{action=\"send\",job=\"dispatch\",outcome=\"ok\",worker=\"MailWorker\"} 5\n"),
        "{text}"
    );
}

#[test]
fn prometheus_scrapes_mapped_timers() {
    let case = corpus().join("timers");
    let lines = std::fs::read_to_string(case.join("lines.statsd")).expect("lines.statsd");
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.5",
        "--console=false",
        "--mapping-config",
        case.join("mapping.yml").to_str().expect("a UTF-8 path"),
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(statkit.udp, &[&lines]);
    crate::prometheus::scraped_by_prometheus(
        http,
        &[
            ("api_latency_seconds_count{route=\"users\"}", 4.0),
            (
                "api_latency_seconds_bucket{route=\"users\",le=\"0.1\"}",
                2.0,
            ),
            ("api_latency_seconds_sum{route=\"orders\"}", 0.02),
            ("db_query_seconds_bucket{table=\"users\",le=\"0.002\"}", 1.0),
            // The target's own `job` label wins: the series' is `exported_job`.
            (
                "job_duration_seconds{exported_job=\"report\",quantile=\"0.5\"}",
                0.25,
            ),
            ("job_duration_seconds_count{exported_job=\"report\"}", 4.0),
        ],
    );
}

#[test]
fn label_sets_past_the_per_name_limit_fold_into_an_overflow_series() {
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.5",
        "--console=false",
        "--max-series-per-name",
        "2",
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(
        statkit.udp,
        &["hits:1|c|#user:a\nhits:2|c|#user:b\nhits:3|c|#user:c\nhits:4|c|#user:d\nmisc:1|c|#user:a"],
    );
    let text = poll_until(util::TIMEOUT, || {
        let text = http_get(http, "/metrics", "").body;
        text.contains("statsd_metrics_received_total 5\n")
            .then_some(text)
    })
    .unwrap_or_else(|| panic!("the lines never arrived: {}", statkit.process.log()));
    for sample in [
        "hits_total{user=\"a\"} 1\n",
        "hits_total{user=\"b\"} 2\n",
        "hits_total{user=\"__overflow__\"} 7\n",
        "misc_total{user=\"a\"} 1\n",
        "# TYPE statkit_series_overflow_total counter\n",
        "statkit_build_info{version=\"",
        "process_resident_memory_bytes ",
        "process_start_time_seconds ",
    ] {
        assert!(text.contains(sample), "{sample:?} missing:\n{text}");
    }
    let (status, said) = promtool_check(&text);
    assert_eq!(status, Some(0), "promtool check metrics: {said}");
    // Scraped again: still one line in the log for the name.
    http_get(http, "/metrics", "");
    let logged = poll_until(util::TIMEOUT, || {
        let log = statkit.process.log();
        log.contains("max_series_per_name").then_some(log)
    })
    .expect("the overflow is logged");
    assert_eq!(
        logged.matches("reached max_series_per_name").count(),
        1,
        "{logged}"
    );
}

#[test]
fn idle_series_leave_metrics_after_their_ttl() {
    let dir = Dir::new("mapping-ttl");
    let rules = dir.write(
        "ttl.yml",
        "mappings:\n- match: brief.*\n  name: brief_total\n  ttl: 1s\n  labels: {k: $1}\n",
    );
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.3",
        "--console=false",
        "--series-ttl",
        "1h",
        "--mapping-config",
        rules.to_str().expect("a UTF-8 path"),
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(statkit.udp, &["brief.a:1|c\nlasting:1|c"]);
    let metrics = || http_get(http, "/metrics", "").body;
    let shown = poll_until(util::TIMEOUT, || {
        let text = metrics();
        text.contains("brief_total{k=\"a\"} 1\n").then_some(text)
    });
    assert!(shown.is_some(), "never shown: {}", statkit.process.log());
    // etsy keeps reporting the idle counter with zeros; after the rule's
    // 1 s without a count it leaves /metrics, the other (1 h) stays.
    let gone = poll_until(util::TIMEOUT, || {
        let text = metrics();
        (!text.contains("brief_total")).then_some(text)
    })
    .expect("the idle series never left /metrics");
    assert!(gone.contains("lasting_total 1\n"), "{gone}");
    // A new count brings it back, with its total.
    send_udp(statkit.udp, &["brief.a:2|c"]);
    let back = poll_until(util::TIMEOUT, || {
        metrics().contains("brief_total{k=\"a\"} 3\n").then_some(())
    });
    assert!(back.is_some(), "never back: {}", metrics());
}

/// Runs `statkit mapping ARGS`.
fn mapping(args: &[&str]) -> (Option<i32>, String, String) {
    let mut command = statkit_command();
    command.arg("mapping").args(args);
    let out = util::run_bounded(command, util::TIMEOUT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const BAD: &str = "mappings:\n- match: a b\n  name: x\n- match: ok.*\n  name: ok_$2\n- match: t\n  name: t\n  ttl: 60\n";

#[test]
fn check_reports_each_error_with_its_line() {
    let dir = Dir::new("mapping-check");
    let bad = dir.write("bad.yml", BAD);
    let (status, out, err) = mapping(&["check", bad.to_str().unwrap()]);
    assert_eq!(status, Some(2), "{out}{err}");
    for line in [
        "line 2: error: `match`: \"a b\" is not a glob",
        "line 4: error: the rule uses $2 but its `match` has 1 `*`",
        "line 8: error: `ttl`: \"60\" needs a unit",
    ] {
        assert!(err.contains(line), "{line:?} missing from:\n{err}");
    }
    let good = corpus().join("timers/mapping.yml");
    let (status, out, err) = mapping(&["check", good.to_str().unwrap()]);
    assert_eq!(status, Some(0), "{err}");
    assert!(
        out.ends_with("mapping.yml: 3 rules (3 glob, 0 regex), valid\n"),
        "{out}"
    );
    let (status, _, err) = mapping(&["check", "/nonexistent/mapping.yml"]);
    assert_eq!(status, Some(2));
    assert!(
        err.contains("cannot read /nonexistent/mapping.yml"),
        "{err}"
    );
}

#[test]
fn test_prints_what_lines_become() {
    let file = corpus().join("kinds_and_drops/mapping.yml");
    let lines = ["queue.mail.depth:7|g", "queue.debug.x:1|c", "other:1|c"];
    let (status, out, err) = mapping(&[&["test", file.to_str().unwrap()][..], &lines[..]].concat());
    assert_eq!(status, Some(0), "{err}");
    let expected = "\
queue.mail.depth:7|g
  rule at line 11: queue.*.depth
  # HELP queue_depth statsd gauge: mapped from queue.*.depth
  # TYPE queue_depth gauge
  queue_depth{queue=\"mail\"} 7
queue.debug.x:1|c
  dropped (action: drop)
other:1|c
  no rule matches: the name as sent
  # HELP other_total statsd counter, count since first seen: other
  # TYPE other_total counter
  other_total 1
";
    assert_lines_eq("statkit mapping test", expected, &out);
    let (status, _, err) = mapping(&["test", file.to_str().unwrap(), "not a line"]);
    assert_eq!(status, Some(2), "{err}");
}

#[test]
fn serve_refuses_a_bad_mapping_file() {
    let dir = Dir::new("mapping-serve");
    let bad = dir.write("bad.yml", BAD);
    let out = serve_refused(&["--mapping-config", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("mapping.config:"), "{err}");
    assert!(err.contains("line 2: error: `match`"), "{err}");
}
