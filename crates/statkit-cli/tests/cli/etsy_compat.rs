//! The differential test: `statkit serve` against the real etsy statsd 0.9.0.
//!
//! statkit promises etsy's Graphite output exactly, by default. Rather than
//! trust hand-written expectations, both servers run side by side with the
//! same settings, each get the same burst of statsd traffic right after one
//! of their flushes, and the flush that follows is compared name by name and
//! value string by value string. Timestamps are ignored, and so are the
//! values (not the names) of the few series that measure time.
//!
//! statkit may publish more about itself than etsy does, but only under the
//! server's own namespace; everything etsy publishes, statkit must publish
//! with the same value. Each scenario also compares the flush before the
//! burst (the server's own series at rest) and, where the settings delete
//! idle series, the idle flush after it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::util::{self, GraphiteReceiver, Process, Statkit, TIMEOUT};

/// The traffic, one datagram per entry, sent in this order. It opens and
/// closes with a sentinel counter: both must be in the compared flush, or
/// the burst straddled a flush and the attempt is repeated.
const BURST: &[&str] = &[
    "compat.burst.begin:1|c",
    // Counters: integers, decimals that do not add up exactly in binary,
    // negative steps, exponents, sample rates (gunicorn writes `|@1.0`).
    "compat.requests:1|c\ncompat.requests:2|c\ncompat.requests:0.5|c",
    "compat.decimal:0.1|c\ncompat.decimal:0.2|c\ncompat.decimal:0.1|c",
    "compat.sampled:1|c|@0.1\ncompat.sampled:3|c|@0.5\ncompat.sampled:2.5|c|@0.3",
    "compat.negative:-3|c\ncompat.negative:1|c",
    "compat.rate_one:1|c|@1\ncompat.rate_one:1|c|@1.0",
    "compat.exponent:1e3|c",
    // Gauges: absolute values, +/- deltas, a delta with no prior value, a
    // delta onto zero, a sample rate (ignored).
    "compat.gauge.abs:10|g\ncompat.gauge.abs:+5|g\ncompat.gauge.abs:-2.5|g",
    "compat.gauge.fresh:-4|g",
    "compat.gauge.decimal:0.1|g\ncompat.gauge.decimal:+0.2|g",
    "compat.gauge.replaced:5|g\ncompat.gauge.replaced:3|g",
    "compat.gauge.from_zero:0|g\ncompat.gauge.from_zero:+7|g",
    "compat.gauge.sampled:4|g|@0.5",
    // Timers: enough values for every threshold, decimals, a zero, sampled
    // ones, one and two values (thresholds that round to no value at all),
    // values small enough to print with an exponent.
    "compat.timer:100|ms\ncompat.timer:200|ms\ncompat.timer:0.5|ms\ncompat.timer:12.25|ms\ncompat.timer:7|ms",
    "compat.timer:7|ms\ncompat.timer:3|ms\ncompat.timer:450.125|ms\ncompat.timer:0|ms\ncompat.timer:19|ms\ncompat.timer:64|ms",
    "compat.timer.sampled:10|ms|@0.5\ncompat.timer.sampled:20|ms|@0.5\ncompat.timer.sampled:35|ms|@0.1",
    "compat.timer.single:42|ms",
    "compat.timer.pair:3|ms\ncompat.timer.pair:1|ms",
    "compat.timer.tiny:1e-05|ms\ncompat.timer.tiny:2.5e-3|ms",
    // Timers with histogram bins (see `HISTOGRAMS`): a value on a bin's
    // edge, values past the last bin.
    "compat.hist:0.5|ms\ncompat.hist:1|ms\ncompat.hist:5.5|ms\ncompat.hist:7|ms\ncompat.hist:10|ms\ncompat.hist:250|ms",
    "compat.capped_hist:0.25|ms\ncompat.capped_hist:50|ms\ncompat.capped_hist:100|ms\ncompat.capped_hist:1000|ms",
    "compat.timer.histo:1|ms\ncompat.timer.histo:3|ms",
    // Sets: repeats, an empty member, members equal as numbers but not as text.
    "compat.set:a|s\ncompat.set:b|s\ncompat.set:a|s\ncompat.set:|s",
    "compat.set.numbers:1|s\ncompat.set.numbers:1.0|s\ncompat.set.numbers:1|s",
    // etsy's multi-value lines: each value has its own type (and rate).
    "compat.multi:1|c:2|ms:3|g",
    "compat.multi.counts:5|c:7|c|@0.5",
    // DogStatsD tags, which etsy 0.9 turns into Graphite tags.
    "compat.tagged:1|c|#env:prod,canary\ncompat.tagged:2|c|#env:prod,canary",
    "compat.tagged.timer:5|ms|#env:prod\ncompat.tagged.timer:15|ms|@0.5|#env:prod",
    "compat.tagged.gauge:3|g|#region:eu-west,az:b",
    "compat.tagged.odd:1|c|#path:/a b,ver:1.2,k:v:w",
    "compat.tagged.multi:1|c:4|ms|#env:dev",
    // Keys that need sanitizing.
    "we ird/key!:1|c",
    "sp  aces\ttoo:2|c",
    "unicod\u{e9}.key:1|ms",
    "a/b/c:3|g",
    // Malformed lines: counted in bad_lines_seen, otherwise ignored; the
    // good line among them still counts.
    "compat.bad.nocolon\ncompat.bad.notype:1\ncompat.bad.number:abc|c\ncompat.good:1|c",
    "compat.bad.timer:-5|ms\ncompat.bad.rate:1|c|@0.5x\ncompat.bad.negrate:1|c|@-0.5\ncompat.bad.gauge:x|g\ncompat.bad.empty:|c",
    // Empty lines are skipped, not counted.
    "\ncompat.blank:1|c\n\n",
    // Sums whose result depends on the order of the steps (1e16 + 1 is
    // 1e16 in binary floating point), one step per datagram, so that they
    // come from different sockets (see `SENDERS`).
    "compat.order:1e16|c",
    "compat.order:1|c",
    "compat.order:-1e16|c",
    "compat.order:1|c",
    "compat.gauge.order:10|g",
    "compat.gauge.order:+1|g",
    "compat.gauge.order:20|g",
    "compat.gauge.order:+2|g",
    "compat.burst.end:1|c",
];

/// How many client sockets share the burst, datagram by datagram in turn.
/// etsy handles datagrams in arrival order whatever their source; a server
/// with several receiving sockets (SO_REUSEPORT spreads sources over them)
/// has to give the same result.
const SENDERS: usize = 4;

/// Histogram bins, as (metric substring, bins): etsy uses the first entry
/// whose metric is part of the timer's key (so `compat.timer.histo` gets
/// the last one, and `compat.hist` the first although `hist` matches too).
const HISTOGRAMS: &[(&str, &str)] = &[
    ("compat.hist", r#"[1, 5.5, 10, "inf"]"#),
    ("capped_hist", "[0.5, 100]"),
    ("hist", "[2]"),
];

/// Series whose values measure time; only their names are compared.
const TIMING_STEMS: &[&str] = &[
    "processing_time",
    "graphiteStats.calculationtime",
    "graphiteStats.flush_time",
    "graphiteStats.last_flush",
    "graphiteStats.flush_length",
    "graphiteStats.last_exception",
    "timestamp_lag",
];

/// One set of settings, given to both servers in their own syntax.
struct Scenario {
    name: &'static str,
    flush_ms: u64,
    /// `percentThreshold` / `percent_thresholds`, as a list literal both
    /// JavaScript and TOML read.
    thresholds: &'static str,
    /// More etsy settings (JavaScript object members).
    etsy: &'static str,
    /// More statkit settings: top-level keys, then tables.
    statkit_keys: &'static str,
    statkit_tables: &'static str,
    /// Where the server's own series live; statkit may add series there.
    own_namespaces: &'static [&'static str],
    /// The Graphite names under which the sentinels show a value of 1 (the
    /// raw count, or the rate when the interval is one second).
    sentinels: [&'static str; 2],
    /// Also compare the flush after the burst's, which has no traffic.
    idle_flush: bool,
}

/// etsy's defaults: the legacy namespace, nothing deleted.
const DEFAULTS: Scenario = Scenario {
    name: "etsy defaults",
    flush_ms: 1500,
    thresholds: "[90, 50, -10]",
    etsy: "",
    statkit_keys: "",
    statkit_tables: "",
    own_namespaces: &[
        "stats.statsd.",
        "stats_counts.statsd.",
        "stats.gauges.statsd.",
    ],
    sentinels: [
        "stats_counts.compat.burst.begin",
        "stats_counts.compat.burst.end",
    ],
    idle_flush: false,
};

/// The other naming layout with every prefix set, idle series deleted.
const RENAMED_AND_DELETING: Scenario = Scenario {
    name: "non-legacy names, deleteIdleStats",
    flush_ms: 1000,
    thresholds: "[99.5, -33.3, 75]",
    etsy: r#"
  prefixStats: "daemon",
  deleteIdleStats: true,
  graphite: {
    legacyNamespace: false, globalPrefix: "app", prefixCounter: "cnt", prefixTimer: "tmr",
    prefixGauge: "gge", prefixSet: "st", globalSuffix: "host1"
  },"#,
    statkit_keys: r#"
prefix_stats = "daemon"
delete_idle_stats = true
"#,
    statkit_tables: r#"
[graphite_names]
legacy_namespace = false
global_prefix = "app"
prefix_counter = "cnt"
prefix_timer = "tmr"
prefix_gauge = "gge"
prefix_set = "st"
global_suffix = "host1"
"#,
    own_namespaces: &["app.daemon.", "app.cnt.daemon.", "app.gge.daemon."],
    sentinels: [
        "app.cnt.compat.burst.begin.count.host1",
        "app.cnt.compat.burst.end.count.host1",
    ],
    idle_flush: true,
};

/// The per-kind deletion switches, no raw counts, keys left as sent (etsy
/// then cleans only the name part of a Graphite path, not its tags), and
/// one percent threshold.
const PER_KIND_OPTIONS: Scenario = Scenario {
    name: "deleteCounters/deleteSets, flush_counts false, keyNameSanitize false",
    flush_ms: 1000,
    thresholds: "[95]",
    etsy: r#"
  deleteCounters: true,
  deleteSets: true,
  deleteTimers: false,
  deleteGauges: false,
  flush_counts: false,
  keyNameSanitize: false,"#,
    statkit_keys: r#"
delete_counters = true
delete_sets = true
delete_timers = false
delete_gauges = false
key_sanitize = false
"#,
    statkit_tables: r#"
[graphite_names]
flush_counts = false
"#,
    own_namespaces: &[
        "stats.statsd.",
        "stats_counts.statsd.",
        "stats.gauges.statsd.",
    ],
    // No raw counts here; with a 1 s interval the rate is the count.
    sentinels: ["stats.compat.burst.begin", "stats.compat.burst.end"],
    idle_flush: true,
};

#[test]
fn same_graphite_output_as_etsy_with_defaults() {
    check_scenario(&DEFAULTS);
}

#[test]
fn same_graphite_output_as_etsy_with_renamed_series_and_idle_deletion() {
    check_scenario(&RENAMED_AND_DELETING);
}

#[test]
fn same_graphite_output_as_etsy_with_per_kind_options() {
    check_scenario(&PER_KIND_OPTIONS);
}

/// A server under test and where its flushes go.
struct Server {
    name: &'static str,
    process: Process,
    udp: SocketAddr,
    graphite: GraphiteReceiver,
}

fn start_etsy(scenario: &Scenario, dir: &util::Dir) -> Server {
    let graphite = GraphiteReceiver::start();
    let port = util::free_udp_port();
    let histograms: Vec<String> = HISTOGRAMS
        .iter()
        .map(|(metric, bins)| format!("{{ metric: {metric:?}, bins: {bins} }}"))
        .collect();
    let config = format!(
        r#"{{
  address: "127.0.0.1",
  port: {port},
  mgmt_address: "127.0.0.1",
  mgmt_port: {mgmt},
  graphiteHost: "127.0.0.1",
  graphitePort: {graphite_port},
  flushInterval: {flush},
  percentThreshold: {thresholds},
  histogram: [{histograms}],
  automaticConfigReload: false,{extra}
}}
"#,
        mgmt = util::free_tcp_port(),
        graphite_port = graphite.addr().port(),
        flush = scenario.flush_ms,
        thresholds = scenario.thresholds,
        histograms = histograms.join(", "),
        extra = scenario.etsy,
    );
    let config = dir.write("etsy-config.js", &config);
    let etsy = util::etsy_dir();
    let mut command = Command::new(util::node());
    command
        .arg(etsy.join("stats.js"))
        .arg(config)
        .current_dir(&etsy);
    let process = Process::spawn("etsy statsd", command);
    Server {
        name: "etsy",
        process,
        udp: SocketAddr::from(([127, 0, 0, 1], port)),
        graphite,
    }
}

fn start_statkit(scenario: &Scenario, dir: &util::Dir) -> Server {
    let graphite = GraphiteReceiver::start();
    let mut config = format!(
        "flush_interval = {:?}\npercent_thresholds = {}\ngraphite = [\"{}\"]\n{}{}",
        scenario.flush_ms as f64 / 1000.0,
        scenario.thresholds,
        graphite.addr(),
        scenario.statkit_keys,
        scenario.statkit_tables,
    );
    for (metric, bins) in HISTOGRAMS {
        let _ = write!(
            config,
            "\n[[histogram]]\nmetric = {metric:?}\nbins = {bins}\n"
        );
    }
    let config = dir.write("statkit.toml", &config);
    let statkit = Statkit::start(&["--config", config.to_str().unwrap()]);
    Server {
        name: "statkit",
        udp: statkit.udp,
        process: statkit.process,
        graphite,
    }
}

/// Waits for flush `index`, failing early if the server has exited.
fn flush(server: &mut Server, index: usize, scenario: &Scenario) -> util::Flush {
    let deadline = Instant::now() + TIMEOUT + Duration::from_millis(2 * scenario.flush_ms);
    loop {
        if let Some(status) = server.process.try_wait() {
            panic!(
                "{} exited ({status}) before flush #{index}:\n{}",
                server.name,
                server.process.log()
            );
        }
        let slice = Duration::from_millis(200);
        if let Ok(flush) = server.graphite.poll(slice, |f| f.get(index).cloned()) {
            return flush;
        }
        if Instant::now() >= deadline {
            panic!(
                "{} sent no flush #{index} within {TIMEOUT:?}; its output:\n{}\nGraphite got:\n{:#?}",
                server.name,
                server.process.log(),
                server.graphite.flushes()
            );
        }
    }
}

/// One server's part: its first flush, the burst, the flush with the burst
/// and, if the scenario wants it, the idle flush after that.
fn drive(server: &mut Server, scenario: &Scenario) -> Vec<util::Flush> {
    let mut flushes = vec![flush(server, 0, scenario)];
    let senders: Vec<UdpSocket> = (0..SENDERS)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind UDP socket"))
        .collect();
    for (datagram, sender) in BURST.iter().zip(senders.iter().cycle()) {
        sender
            .send_to(datagram.as_bytes(), server.udp)
            .expect("send UDP datagram");
    }
    flushes.push(flush(server, 1, scenario));
    if scenario.idle_flush {
        flushes.push(flush(server, 2, scenario));
    }
    flushes
}

/// Whether both sentinels are in the burst's flush with a count of 1.
fn burst_in_one_flush(scenario: &Scenario, flushes: &[util::Flush]) -> bool {
    scenario
        .sentinels
        .iter()
        .all(|name| flushes[1].value(name) == Some(1.0))
}

fn check_scenario(scenario: &Scenario) {
    const ATTEMPTS: usize = 3;
    for attempt in 1..=ATTEMPTS {
        let dir = util::Dir::new("etsy-compat");
        let mut etsy = start_etsy(scenario, &dir);
        let mut statkit = start_statkit(scenario, &dir);
        // Side by side, so the scenario costs one server's time, not two.
        let (etsy_flushes, statkit_flushes) = thread::scope(|s| {
            let etsy = s.spawn(|| drive(&mut etsy, scenario));
            let statkit = s.spawn(|| drive(&mut statkit, scenario));
            let join = |h: thread::ScopedJoinHandle<'_, Vec<util::Flush>>| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (join(etsy), join(statkit))
        });
        let straddled = !burst_in_one_flush(scenario, &etsy_flushes)
            || !burst_in_one_flush(scenario, &statkit_flushes);
        if straddled && attempt < ATTEMPTS {
            eprintln!(
                "{}: the burst straddled a flush (attempt {attempt}); again",
                scenario.name
            );
            continue;
        }
        let labels = [
            "first flush (no traffic yet)",
            "flush with the burst",
            "idle flush after it",
        ];
        let mut failures = String::new();
        for (i, (e, s)) in etsy_flushes.iter().zip(&statkit_flushes).enumerate() {
            if let Err(report) = compare(scenario, e, s) {
                let _ = write!(failures, "\n=== {}: {}\n{report}", scenario.name, labels[i]);
            }
        }
        if !failures.is_empty() {
            if straddled {
                failures.push_str("\n(note: the burst's sentinels were not both in one flush)\n");
            }
            panic!("statkit's Graphite output differs from etsy statsd 0.9.0:{failures}");
        }
        return;
    }
}

/// Compares one flush of each server; the error is a readable report.
fn compare(scenario: &Scenario, etsy: &util::Flush, statkit: &util::Flush) -> Result<(), String> {
    let etsy = etsy
        .values()
        .map_err(|e| format!("etsy's flush is malformed: {e}"))?;
    let statkit = statkit
        .values()
        .map_err(|e| format!("statkit's flush is malformed: {e}"))?;
    let own = |name: &str| {
        scenario
            .own_namespaces
            .iter()
            .any(|ns| name.starts_with(ns))
    };
    let timing = |name: &str| own(name) && TIMING_STEMS.iter().any(|stem| name.contains(stem));
    let masked = |values: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        values
            .iter()
            .map(|(name, value)| {
                let value = if timing(name) {
                    "<timing>".to_string()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    };
    let expected = masked(&etsy);
    let mut got = masked(&statkit);
    let extra: Vec<String> = got
        .keys()
        .filter(|name| !expected.contains_key(*name) && own(name))
        .cloned()
        .collect();
    for name in &extra {
        got.remove(name);
    }
    if expected == got {
        return Ok(());
    }
    let expected_lines: Vec<String> = util::render(&expected).lines().map(String::from).collect();
    let got_lines: Vec<String> = util::render(&got).lines().map(String::from).collect();
    // Sorted by name, so unchanged lines give no context worth reading.
    let diff = util::diff_lines(&expected_lines, &got_lines);
    let changed: Vec<&str> = diff.lines().filter(|l| !l.starts_with("  ")).collect();
    let mut report = format!(
        "{} of {} etsy series agree; `-` etsy's line, `+` statkit's (name value):\n{}\n",
        expected
            .iter()
            .filter(|(k, v)| got.get(*k) == Some(v))
            .count(),
        expected.len(),
        changed.join("\n")
    );
    if !extra.is_empty() {
        let _ = writeln!(
            report,
            "statkit's own series that etsy lacks (allowed, left out above): {}",
            extra.join(", ")
        );
    }
    Err(report)
}
