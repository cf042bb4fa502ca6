//! A program's `describe_*` calls (the `metrics` crate, recorded into a
//! stats file) reach `statkit serve`'s `/metrics` as `# HELP` and, in
//! OpenMetrics, `# UNIT`; `promtool check metrics` (beside Debian's
//! prometheus) reads the exposition.

use std::process::Command;

use statkit::shm::{Options, Registry};

use crate::util::{self, http_get, poll_until, Statkit};

const OPENMETRICS: &str = "Accept: application/openmetrics-text\r\n";

#[test]
fn describe_calls_reach_metrics_as_help_and_unit() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "described".into(),
        ..Options::default()
    })
    .unwrap();
    let (jobs, wait) = metrics::with_local_recorder(&registry, || {
        metrics::describe_counter!("jobs_done", "jobs finished, by \"queue\"");
        let jobs = metrics::counter!("jobs_done", "queue" => "mail");
        metrics::gauge!("queue_bytes").set(512.0);
        // Described after the metric exists.
        metrics::describe_gauge!("queue_bytes", metrics::Unit::Bytes, "bytes waiting");
        metrics::describe_histogram!("wait", metrics::Unit::Seconds, "time in the queue");
        (jobs, metrics::histogram!("wait"))
    });
    let folder = dir.path().to_str().unwrap();
    let server = Statkit::start(&[
        "--stats-dir",
        folder,
        "--stats-scan-interval",
        "0.05",
        "--flush-interval",
        "0.2",
        "--console=false",
    ]);
    let http = server.http.expect("an HTTP address");
    // Counters and histograms show what changed after the scanner's
    // first look, so the program keeps working while the test waits.
    let text = poll_until(util::TIMEOUT, || {
        jobs.increment(1);
        wait.record(0.25);
        let text = http_get(http, "/metrics", "").body;
        text.contains("shm_host_wait_p99").then_some(text)
    })
    .expect("the scanned file's metrics never reached /metrics");
    let stem = format!("described_{}", std::process::id());
    for line in [
        "# HELP shm_host_jobs_done_total jobs finished, by \"queue\"\n",
        &format!("# HELP shm_{stem}_jobs_done_total jobs finished, by \"queue\"\n"),
        "# HELP shm_host_queue_bytes bytes waiting\n",
        "# HELP shm_host_wait_count_total time in the queue (values recorded)\n",
        "# HELP shm_host_wait_p99 time in the queue (p99 of the values since the last scan)\n",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    assert!(!text.contains("# UNIT"), "{text}");
    let open = http_get(http, "/metrics", OPENMETRICS).body;
    for line in [
        "# HELP shm_host_jobs_done jobs finished, by \\\"queue\\\"\n",
        "# UNIT shm_host_queue_bytes bytes\n",
        &format!("# UNIT shm_{stem}_queue_bytes bytes\n"),
    ] {
        assert!(open.contains(line), "no {line:?} in:\n{open}");
    }
    // The unit of the p99 gauge is seconds, which its name does not end with.
    assert_eq!(open.matches("# UNIT").count(), 2, "{open}");
    promtool_check(&text);
    drop(registry);
}

/// `promtool check metrics` over a text format exposition: it must parse
/// and lint clean, and say nothing about the described families.
fn promtool_check(text: &str) {
    let promtool = util::prometheus().with_file_name("promtool");
    let dir = tempfile::tempdir().unwrap();
    let exposition = dir.path().join("metrics.txt");
    std::fs::write(&exposition, text).unwrap();
    // promtool reads the exposition on its standard input.
    let mut command = Command::new("sh");
    command
        .args(["-c", "exec \"$0\" check metrics < \"$1\""])
        .arg(&promtool)
        .arg(&exposition);
    let output = util::run_bounded(command, util::TIMEOUT);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool refused the exposition ({:?}): {said}\n{text}",
        output.status
    );
    assert!(
        !said
            .lines()
            .any(|l| l.contains("jobs_done") || l.contains("queue_bytes")),
        "promtool on the described families: {said}"
    );
}
