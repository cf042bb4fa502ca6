//! `statkit conformance` plays the suite in `conformance/` against real
//! servers over the network: the `statkit serve` binary, which must give
//! statkit's documented answer to every case it can be asked, and etsy
//! statsd 0.9.0 run with node, which must give etsy's documented answer
//! (`--dialect etsy`). The in-process run is `cargo test -p
//! statkit-conformance`; here it is only checked that the command runs it.
//!
//! Both servers flush every 300 ms and delete idle series, as the runner
//! asks of a target; every wait is bounded by the runner's `--flush-wait`
//! and the whole command by `run_bounded`, and the servers are stopped
//! when their handles drop.

mod util;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use util::{Process, Statkit};

/// The longest a whole run of the suite over the network may take: about
/// 200 cases at a flush or two of 300 ms each, on a busy machine.
const SUITE_TIMEOUT: Duration = Duration::from_secs(480);

/// The flush interval of both servers, in milliseconds.
const FLUSH_MS: u64 = 300;

fn suite_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

/// Runs `statkit conformance` with `args`, bounded in time.
fn conformance(args: &[&str]) -> Output {
    let mut command = util::statkit_command();
    command
        .arg("conformance")
        .arg("--suite")
        .arg(suite_dir())
        .args(args);
    util::run_bounded(command, SUITE_TIMEOUT)
}

/// The run's report, checked: it exited 0, printed a `N passed, 0 failed`
/// summary and no FAIL line. Returns stdout.
fn successful(output: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        output.status.success() && failures.is_empty(),
        "{what}: exit {:?}, {} failing cases:\n{}\nstderr:\n{stderr}\nsummary: {}",
        output.status,
        failures.len(),
        failures.join("\n"),
        stdout.lines().last().unwrap_or_default()
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" passed, 0 failed"),
        "{what}: no summary line: {summary:?}"
    );
    stdout
}

/// How many cases a run played (passed or differing as documented).
fn played(stdout: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.starts_with("pass ") || l.starts_with("differs as documented"))
        .count()
}

#[test]
fn the_command_runs_the_suite_in_process() {
    let stdout = successful(&conformance(&["--in-process"]), "in process");
    assert!(played(&stdout) >= 150, "{stdout}");
    let filtered = successful(
        &conformance(&["--in-process", "--filter", "packing/"]),
        "filtered",
    );
    assert!(
        filtered
            .lines()
            .filter(|l| l.starts_with("pass "))
            .all(|l| l.contains("packing/")),
        "{filtered}"
    );
}

#[test]
fn statkit_serve_gives_statkits_answers_over_graphite() {
    let port = util::free_tcp_port();
    let graphite = format!("127.0.0.1:{port}");
    let statkit = Statkit::start(&[
        "--graphite",
        &graphite,
        "--flush-interval",
        &format!("{}", FLUSH_MS as f64 / 1000.0),
        "--delete-idle-stats",
        "--http",
        "off",
    ]);
    let target = statkit.udp.to_string();
    let output = conformance(&[
        "--target",
        &target,
        "--graphite-listen",
        &graphite,
        "--flush-wait",
        "10",
    ]);
    let stdout = successful(&output, "statkit serve");
    let documented: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("differs as documented"))
        .collect();
    assert!(
        documented.is_empty(),
        "statkit serve gave another dialect's answer:\n{}",
        documented.join("\n")
    );
    assert!(played(&stdout) >= 150, "too few cases played:\n{stdout}");
    drop(statkit);
}

#[test]
fn etsy_statsd_gives_its_documented_answers() {
    let port = util::free_tcp_port();
    let statsd_port = util::free_udp_port();
    let dir = util::Dir::new("conformance-etsy");
    let config = dir.write(
        "etsy-config.js",
        &format!(
            r#"{{
  address: "127.0.0.1",
  port: {statsd_port},
  mgmt_address: "127.0.0.1",
  mgmt_port: {mgmt},
  graphiteHost: "127.0.0.1",
  graphitePort: {port},
  flushInterval: {FLUSH_MS},
  deleteIdleStats: true,
  automaticConfigReload: false
}}
"#,
            mgmt = util::free_tcp_port(),
        ),
    );
    let etsy_dir = util::etsy_dir();
    let mut command = Command::new(util::node());
    command
        .arg(etsy_dir.join("stats.js"))
        .arg(config)
        .current_dir(&etsy_dir);
    let mut etsy = Process::spawn("etsy statsd", command);
    let target = SocketAddr::from(([127, 0, 0, 1], statsd_port)).to_string();
    let graphite = format!("127.0.0.1:{port}");
    let output = conformance(&[
        "--target",
        &target,
        "--graphite-listen",
        &graphite,
        "--flush-wait",
        "10",
        "--dialect",
        "etsy",
    ]);
    if !output.status.success() {
        eprintln!("etsy statsd's output:\n{}", etsy.log());
    }
    let stdout = successful(&output, "etsy statsd 0.9.0");
    assert!(played(&stdout) >= 150, "too few cases played:\n{stdout}");
    let (status, killed) = etsy.stop();
    assert!(!killed, "etsy statsd did not stop on SIGTERM ({status})");
}
