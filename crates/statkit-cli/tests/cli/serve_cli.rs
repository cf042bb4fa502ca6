//! `statkit serve` as a process: how it refuses bad flags and configuration
//! files, and how it stops.

use std::process::Output;

use crate::util::{self, GraphiteReceiver, Statkit, TIMEOUT};

/// Asserts exit code 2 and a message on stderr that mentions each of
/// `mentions` (what the user got wrong, so they can find it).
#[track_caller]
fn assert_usage_error(output: &Output, mentions: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "expected exit code 2 (usage error), got {}; stderr:\n{stderr}",
        output.status
    );
    for mention in mentions {
        assert!(
            stderr.contains(mention),
            "stderr does not mention {mention:?}:\n{stderr}"
        );
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let output = util::serve_refused(&["--no-such-flag"]);
    assert_usage_error(&output, &["--no-such-flag"]);
}

#[test]
fn flag_value_that_does_not_parse_is_a_usage_error() {
    let output = util::serve_refused(&["--flush-interval", "soon"]);
    assert_usage_error(&output, &["--flush-interval", "soon"]);
}

#[test]
fn config_file_that_is_not_toml_is_a_usage_error() {
    let dir = util::Dir::new("serve-cli");
    let config = dir.write("broken.toml", "flush_interval = [1,\ngraphite = \n");
    let output = util::serve_refused(&["--config", config.to_str().unwrap()]);
    assert_usage_error(&output, &["broken.toml"]);
}

#[test]
fn config_value_of_the_wrong_type_is_a_usage_error() {
    let dir = util::Dir::new("serve-cli");
    let config = dir.write("typed.toml", "flush_interval = \"soon\"\n");
    let output = util::serve_refused(&["--config", config.to_str().unwrap()]);
    assert_usage_error(&output, &["typed.toml", "flush_interval"]);
}

/// Data sent just before the signal must reach every sink in a final flush;
/// the flush interval is an hour, so no other flush can carry it.
fn final_flush_on(signal: libc::c_int, name: &str) {
    let graphite = GraphiteReceiver::start();
    let mut statkit = Statkit::start(&[
        "--flush-interval",
        "3600",
        "--graphite",
        &graphite.addr().to_string(),
    ]);
    let lines = format!("{name}.count:5|c\n{name}.gauge:42|g\n{name}.timer:7|ms\n{name}.set:a|s");
    util::send_udp(statkit.udp, &[&lines]);
    statkit
        .process
        .signal(signal)
        .expect("signal statkit serve");
    let status = statkit.process.wait_timeout(TIMEOUT);
    let log = statkit.process.log();
    let status = status.unwrap_or_else(|| {
        panic!("statkit serve still running {TIMEOUT:?} after signal {signal}:\n{log}")
    });
    assert!(
        status.success(),
        "statkit serve exited with {status} after signal {signal}:\n{log}"
    );
    // It has exited, so the final flush has been sent: no waiting needed
    // beyond the receiver reading what is already on its socket.
    let flush = graphite.wait_for_flush(0, TIMEOUT);
    let values = flush
        .values()
        .unwrap_or_else(|e| panic!("malformed flush: {e}"));
    let expected = [
        (format!("stats_counts.{name}.count"), "5"),
        (format!("stats.gauges.{name}.gauge"), "42"),
        (format!("stats.timers.{name}.timer.count"), "1"),
        (format!("stats.timers.{name}.timer.upper"), "7"),
        (format!("stats.sets.{name}.set.count"), "1"),
    ];
    let expected: String = expected.iter().map(|(n, v)| format!("{n} {v}\n")).collect();
    let got: String = expected
        .lines()
        .filter_map(|line| line.split(' ').next())
        .map(|n| {
            format!(
                "{n} {}\n",
                values.get(n).map_or("<missing>", String::as_str)
            )
        })
        .collect();
    util::assert_lines_eq("the final flush", &expected, &got);
}

/// A shutdown ends the interval early: the last flush's rates divide by the
/// time that passed, not by the whole (hour-long) interval.
#[test]
fn the_final_flush_divides_rates_by_the_time_that_passed() {
    let graphite = GraphiteReceiver::start();
    let mut statkit = Statkit::start(&[
        "--flush-interval",
        "3600",
        "--graphite",
        &graphite.addr().to_string(),
    ]);
    util::send_udp(statkit.udp, &["short.count:10|c"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    statkit
        .process
        .signal(libc::SIGTERM)
        .expect("signal statkit serve");
    assert!(statkit
        .process
        .wait_timeout(TIMEOUT)
        .is_some_and(|s| s.success()));
    let values = graphite
        .wait_for_flush(0, TIMEOUT)
        .values()
        .expect("a whole flush");
    let rate: f64 = values["stats.short.count"].parse().unwrap();
    // 10 over at most the test's whole run; an hour would give 0.0028.
    assert!(rate > 10.0 / TIMEOUT.as_secs_f64(), "rate {rate}");
    assert_eq!(values["stats_counts.short.count"], "10");
}

#[test]
fn sigterm_flushes_what_was_sent_then_exits_0() {
    final_flush_on(libc::SIGTERM, "term");
}

#[test]
fn sigint_flushes_what_was_sent_then_exits_0() {
    final_flush_on(libc::SIGINT, "int");
}

/// The admin port answers etsy's `health` command the way etsy does.
#[test]
fn admin_port_reports_and_sets_health() {
    let statkit = Statkit::start(&[]);
    let health = |command: &str| util::admin(statkit.admin, command);
    util::assert_lines_eq("health", "health: up\n", &health("health"));
    util::assert_lines_eq("health down", "health: down\n", &health("health down"));
    util::assert_lines_eq("health afterwards", "health: down\n", &health("health"));
    util::assert_lines_eq("health up", "health: up\n", &health("health up"));
}
