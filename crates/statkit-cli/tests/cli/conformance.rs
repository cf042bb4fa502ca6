//! `statkit conformance` plays the suite in `conformance/` against real
//! servers over the network: the `statkit serve` binary, which must give
//! statkit's documented answer to every case it can be asked, and etsy
//! statsd 0.9.0 run with node, which must give etsy's documented answer
//! (`--dialect etsy`). The in-process run is `cargo test -p
//! statkit-conformance`; here it is only checked that the command runs it.
//!
//! Both servers flush every 300 ms and delete idle series, as the runner
//! asks of a target. Each is started once per set of settings the suite's
//! cases need (percentiles, histograms, key sanitizing, statkit's limits),
//! and told with `--target-settings` which settings it runs, so that every
//! case that can be played over the network is. Every wait is bounded by
//! the runner's `--flush-wait` and each command by `run_bounded`, and the
//! servers are stopped when their handles drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::util::{self, Process, Statkit};
use statkit_conformance::case::{BinBound, HistogramSetting, SampleRates, Settings, ETSY};
use statkit_conformance::graphite::unplayable;
use statkit_conformance::load_suite;

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

/// Keeps a network run's report for `scripts/conformance-table.sh`, which
/// sets `STATKIT_CONFORMANCE_REPORTS` to a folder: the published table is
/// made from what these tests saw, not copied by hand.
fn keep_report(name: &str, stdout: &str) {
    let Some(dir) = std::env::var_os("STATKIT_CONFORMANCE_REPORTS") else {
        return;
    };
    let path = Path::new(&dir).join(format!("{name}.txt"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    std::io::Write::write_all(&mut file, stdout.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
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

/// The settings the suite's cases need over the network, each once, with
/// the defaults first: for etsy only what etsy can be told.
fn settings_groups(for_dialect: Option<&str>) -> Vec<Settings> {
    let cases = load_suite(&suite_dir()).unwrap_or_else(|e| panic!("the suite does not load: {e}"));
    let mut groups = vec![Settings::default()];
    for case in &cases {
        let settings = match for_dialect {
            Some(_) => case.settings.dialect_visible(),
            None => case.settings.clone(),
        };
        let settings = Settings {
            flush_interval: None,
            ..settings
        };
        if !groups.contains(&settings) && unplayable(case, &settings, for_dialect).is_none() {
            groups.push(settings);
        }
    }
    groups
}

/// `settings` in the suite's own TOML (a case's `[settings]` keys), for
/// `--target-settings`, and the statkit configuration file that runs them:
/// the two share every key but the percentiles'.
fn settings_toml(settings: &Settings, percentiles_key: &str) -> String {
    let mut out = String::new();
    if let Some(p) = &settings.percentiles {
        out.push_str(&format!("{percentiles_key} = {p:?}\n"));
    }
    if let Some(rates) = settings.sample_rates {
        let name = match rates {
            SampleRates::Etsy => "etsy",
            SampleRates::Weighted => "weighted",
        };
        out.push_str(&format!("sample_rates = {name:?}\n"));
    }
    if let Some(sanitize) = settings.key_sanitize {
        out.push_str(&format!("key_sanitize = {sanitize}\n"));
    }
    for (key, value) in [
        ("max_key_bytes", settings.max_key_bytes),
        ("max_set_members", settings.max_set_members),
        ("max_series", settings.max_series),
        ("timer_exact_limit", settings.timer_exact_limit),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("{key} = {value}\n"));
        }
    }
    for h in &settings.histogram {
        out.push_str(&format!(
            "[[histogram]]\nmetric = {:?}\nbins = [{}]\n",
            h.metric,
            bins(h, "\"inf\"")
        ));
    }
    out
}

/// A histogram setting's bins as a list literal, `inf` written as given.
fn bins(setting: &HistogramSetting, inf: &str) -> String {
    let bins: Vec<String> = setting
        .bins
        .iter()
        .map(|b| match b {
            BinBound::Number(n) => format!("{n}"),
            BinBound::Word(_) => inf.to_owned(),
        })
        .collect();
    bins.join(", ")
}

/// The `statkit conformance` arguments for a target with `settings`.
fn target_args(target: &str, graphite: &str, settings_file: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--target",
        target,
        "--graphite-listen",
        graphite,
        "--flush-wait",
        "10",
    ]
    .map(String::from)
    .to_vec();
    if let Some(file) = settings_file {
        args.extend(["--target-settings".to_owned(), file.display().to_string()]);
    }
    args
}

#[test]
fn statkit_serve_gives_statkits_answers_over_graphite() {
    let dir = util::Dir::new("conformance-statkit");
    let mut played_total = 0;
    for (i, settings) in settings_groups(None).iter().enumerate() {
        let port = util::free_tcp_port();
        let graphite = format!("127.0.0.1:{port}");
        let config = dir.write(
            &format!("statkit-{i}.toml"),
            &format!(
                "graphite = [{graphite:?}]\nflush_interval = {}\ndelete_idle_stats = true\n{}",
                FLUSH_MS as f64 / 1000.0,
                settings_toml(settings, "percent_thresholds")
            ),
        );
        let statkit = Statkit::start(&[
            "--config",
            config.to_str().expect("UTF-8 path"),
            "--http",
            "off",
        ]);
        let settings_file = (i > 0).then(|| {
            dir.write(
                &format!("target-{i}.toml"),
                &settings_toml(settings, "percentiles"),
            )
        });
        let args = target_args(
            &statkit.udp.to_string(),
            &graphite,
            settings_file.as_deref(),
        );
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let what = format!("statkit serve with {settings:?}");
        let stdout = successful(&conformance(&args), &what);
        let documented: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("differs as documented"))
            .collect();
        assert!(
            documented.is_empty(),
            "{what} gave another dialect's answer:\n{}",
            documented.join("\n")
        );
        played_total += played(&stdout);
        keep_report("statkit-serve", &stdout);
        drop(statkit);
    }
    assert!(played_total >= 150, "only {played_total} cases played");
}

#[test]
fn etsy_statsd_gives_its_documented_answers() {
    let dir = util::Dir::new("conformance-etsy");
    let mut played_total = 0;
    for (i, settings) in settings_groups(Some(ETSY)).iter().enumerate() {
        let port = util::free_tcp_port();
        let statsd_port = util::free_udp_port();
        let mut extra = String::new();
        if let Some(p) = &settings.percentiles {
            extra.push_str(&format!("  percentThreshold: {p:?},\n"));
        }
        if let Some(sanitize) = settings.key_sanitize {
            extra.push_str(&format!("  keyNameSanitize: {sanitize},\n"));
        }
        if !settings.histogram.is_empty() {
            let entries: Vec<String> = settings
                .histogram
                .iter()
                .map(|h| {
                    format!(
                        "{{ metric: {:?}, bins: [{}] }}",
                        h.metric,
                        bins(h, "\"inf\"")
                    )
                })
                .collect();
            extra.push_str(&format!("  histogram: [{}],\n", entries.join(", ")));
        }
        let config = dir.write(
            &format!("etsy-{i}.js"),
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
{extra}  automaticConfigReload: false
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
        let settings_file = (i > 0).then(|| {
            dir.write(
                &format!("target-{i}.toml"),
                &settings_toml(settings, "percentiles"),
            )
        });
        let target = SocketAddr::from(([127, 0, 0, 1], statsd_port)).to_string();
        let mut args = target_args(
            &target,
            &format!("127.0.0.1:{port}"),
            settings_file.as_deref(),
        );
        args.extend(["--dialect".to_owned(), ETSY.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = conformance(&args);
        if !output.status.success() {
            eprintln!("etsy statsd's output:\n{}", etsy.log());
        }
        let stdout = successful(&output, &format!("etsy statsd 0.9.0 with {settings:?}"));
        played_total += played(&stdout);
        keep_report("etsy", &stdout);
        let (status, killed) = etsy.stop();
        assert!(!killed, "etsy statsd did not stop on SIGTERM ({status})");
    }
    assert!(played_total >= 150, "only {played_total} cases played");
}

/// etsy's other Graphite layout (`legacyNamespace: false`) maps back to
/// the same answers; the tags cases cover every kind of series.
#[test]
fn the_new_namespace_maps_back_to_the_same_answers() {
    let dir = util::Dir::new("conformance-new-namespace");
    let port = util::free_tcp_port();
    let graphite = format!("127.0.0.1:{port}");
    let config = dir.write(
        "statkit.toml",
        &format!(
            "graphite = [{graphite:?}]\nflush_interval = {}\ndelete_idle_stats = true\n\
             [graphite_names]\nlegacy_namespace = false\n",
            FLUSH_MS as f64 / 1000.0
        ),
    );
    let statkit = Statkit::start(&[
        "--config",
        config.to_str().expect("UTF-8 path"),
        "--http",
        "off",
    ]);
    let mut args = target_args(&statkit.udp.to_string(), &graphite, None);
    args.extend(["--namespace", "new", "--filter", "tags/"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let stdout = successful(&conformance(&args), "statkit serve, new namespace");
    assert!(played(&stdout) >= 15, "too few cases played:\n{stdout}");
    drop(statkit);
}
