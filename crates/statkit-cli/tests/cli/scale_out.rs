//! The pushing sinks against real databases: three `statkit serve` agents,
//! each with its own `--label host=`, push a known workload with
//! Prometheus remote-write into one VictoriaMetrics (Debian's
//! `victoria-metrics`), and its query API must give back what was sent,
//! summed over the hosts: counters (sampled ones at their weight), the
//! timers' histogram counts, and `histogram_quantile` over all three
//! within the bucket that holds the exact quantile of the union. The same
//! counters go through a real Prometheus' remote-write receiver.

mod influx;
mod otlp;
mod outage;
mod servers;

use std::net::SocketAddr;

use crate::prometheus::query;
use crate::util::{self, poll_until, send_tcp, Statkit};

/// The timers' bucket bounds every agent uses.
const BOUNDS: [f64; 7] = [10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0];

/// What one agent receives.
struct Workload {
    host: &'static str,
    /// statsd lines.
    lines: Vec<String>,
    /// `(value, weight)` of every timer value sent (weight: 1 / rate).
    timings: Vec<(f64, f64)>,
    /// `sc.req` and `sc.sampled` as they should count.
    requests: f64,
    sampled: f64,
    temperature: f64,
}

impl Workload {
    fn new(host: &'static str) -> Self {
        Workload {
            host,
            lines: Vec::new(),
            timings: Vec::new(),
            requests: 0.0,
            sampled: 0.0,
            temperature: 0.0,
        }
    }

    fn count(&mut self, times: usize, line: &str, counts: f64) {
        self.lines
            .extend(std::iter::repeat_n(line.to_owned(), times));
        self.requests += if line.starts_with("sc.req") {
            counts * times as f64
        } else {
            0.0
        };
        self.sampled += if line.starts_with("sc.sampled") {
            counts * times as f64
        } else {
            0.0
        };
    }

    fn time(&mut self, value: f64, rate: f64) {
        let suffix = if rate < 1.0 {
            format!("|@{rate}")
        } else {
            String::new()
        };
        self.lines.push(format!("sc.lat:{value}|ms{suffix}"));
        self.timings.push((value, 1.0 / rate));
    }

    fn gauge(&mut self, value: f64) {
        self.lines.push(format!("sc.temp:{value}|g"));
        self.temperature = value;
    }
}

/// Three hosts, three shapes of latency: uniform and fast, narrow and
/// slow, long-tailed with sampled values.
fn workloads() -> [Workload; 3] {
    let mut a = Workload::new("a");
    a.count(100, "sc.req:1|c", 1.0);
    a.count(20, "sc.sampled:1|c|@0.1", 10.0);
    for v in 1..=200 {
        a.time(f64::from(v), 1.0);
    }
    a.gauge(21.0);

    let mut b = Workload::new("b");
    b.count(50, "sc.req:2|c", 2.0);
    b.count(10, "sc.sampled:1|c|@0.5", 2.0);
    for v in 400..500 {
        b.time(f64::from(v), 1.0);
    }
    b.gauge(-3.5);

    let mut c = Workload::new("c");
    c.count(10, "sc.req:3|c", 3.0);
    c.count(7, "sc.req;code=500:1|c", 1.0);
    for i in 0..150 {
        // An exponential distribution's quantiles, mean 60 ms.
        let p = (f64::from(i) + 0.5) / 150.0;
        c.time((-60.0 * (1.0 - p).ln()).round(), 1.0);
    }
    for _ in 0..10 {
        c.time(40.0, 0.5);
    }
    c.gauge(7.0);
    [a, b, c]
}

/// An agent with `host`'s label pushing with `flag` (`--influx`) to `url`
/// every second.
fn agent_pushing(host: &str, flag: &str, url: &str) -> Statkit {
    let bounds = BOUNDS.map(|b| b.to_string()).join(",");
    let label = format!("host={host}");
    Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--http",
        "off",
        // etsy's mode leaves a sampled timer's mean unweighted, so its
        // `_sum` (mean times count) is not the weighted sum this test
        // expects; the weighted mode weighs every statistic.
        "--sample-rates",
        "weighted",
        "--prometheus-buckets",
        &bounds,
        flag,
        url,
        "--label",
        &label,
    ])
}

/// Sends a workload over TCP (which loses nothing on the way).
fn feed(agent: &Statkit, workload: &Workload) {
    for chunk in workload.lines.chunks(100) {
        send_tcp(agent.tcp, &(chunk.join("\n") + "\n"));
    }
}

/// Three agents, one per workload, pushing to one database, each fed its
/// workload.
struct Fleet {
    workloads: [Workload; 3],
    agents: Vec<Statkit>,
}

impl Fleet {
    /// The agents push with `flag` (`--remote-write`) to `url`.
    fn start(flag: &str, url: &str) -> Fleet {
        let workloads = workloads();
        let agents: Vec<Statkit> = (workloads.iter())
            .map(|w| agent_pushing(w.host, flag, url))
            .collect();
        for (agent, workload) in agents.iter().zip(&workloads) {
            feed(agent, workload);
        }
        Fleet { workloads, agents }
    }

    /// The database's log and the agents', for a failure's message.
    fn log(&self, database: &servers::Server) -> String {
        let agents: Vec<String> = self.agents.iter().map(|a| a.process.log()).collect();
        format!(
            "database:\n{}\nagents:\n{}",
            database.process.log(),
            agents.join("\n")
        )
    }

    /// `of` summed over the workloads.
    fn sum(&self, of: fn(&Workload) -> f64) -> f64 {
        self.workloads.iter().map(of).sum()
    }

    /// Every timer value sent, with its weight.
    fn union(&self) -> Vec<(f64, f64)> {
        (self.workloads.iter())
            .flat_map(|w| w.timings.clone())
            .collect()
    }
}

/// The weight of the values at most `bound`.
fn at_most(values: &[(f64, f64)], bound: f64) -> f64 {
    values
        .iter()
        .filter(|(v, _)| *v <= bound)
        .map(|(_, w)| w)
        .sum()
}

/// Waits until every bucket of `sc_lat` at `database`, summed over the
/// hosts, counts the values of `union` at most its bound.
fn expect_buckets(database: SocketAddr, union: &[(f64, f64)], log: &dyn Fn() -> String) {
    for bound in BOUNDS {
        let promql = format!(r#"sum(sc_lat_bucket{{le="{bound:.1}"}})"#);
        expect(database, &promql, at_most(union, bound), log);
    }
}

/// Waits until `promql` gives `want` at `database`.
fn expect(database: SocketAddr, promql: &str, want: f64, log: &dyn Fn() -> String) {
    let got = poll_until(util::TIMEOUT, || {
        query(database, promql).filter(|v| (v - want).abs() <= 1e-9 * want.abs())
    });
    assert_eq!(
        got,
        Some(want),
        "{promql} never gave {want}; last answer {:?}\n{}",
        query(database, promql),
        log()
    );
}

/// The exact `q` quantile of weighted values: the smallest value whose
/// values at most it weigh at least `q` of the whole.
fn exact_quantile(values: &[(f64, f64)], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|(_, w)| w).sum();
    let mut seen = 0.0;
    for (value, weight) in &sorted {
        seen += weight;
        if seen >= q * total {
            return *value;
        }
    }
    f64::NAN
}

#[test]
fn three_agents_merge_in_victoria_metrics() {
    let vm = servers::victoria_metrics();
    let fleet = Fleet::start("--remote-write", &vm.url("/api/v1/write"));
    let log = || fleet.log(&vm);

    expect(
        vm.address,
        "sum(sc_req_total)",
        fleet.sum(|w| w.requests),
        &log,
    );
    expect(
        vm.address,
        "sum(sc_sampled_total)",
        fleet.sum(|w| w.sampled),
        &log,
    );
    expect(vm.address, r#"sc_req_total{code="500"}"#, 7.0, &log);
    for w in &fleet.workloads {
        let gauge = format!(r#"sc_temp{{host="{}"}}"#, w.host);
        expect(vm.address, &gauge, w.temperature, &log);
        let mine = format!(r#"sc_lat_count{{host="{}"}}"#, w.host);
        expect(vm.address, &mine, at_most(&w.timings, f64::INFINITY), &log);
    }

    let union = fleet.union();
    let count = at_most(&union, f64::INFINITY);
    let total: f64 = union.iter().map(|(v, w)| v * w).sum();
    expect(vm.address, "sum(sc_lat_count)", count, &log);
    expect(vm.address, "sum(sc_lat_sum)", total, &log);
    expect_buckets(vm.address, &union, &log);
    expect(vm.address, r#"sum(sc_lat_bucket{le="+Inf"})"#, count, &log);

    for q in [0.5, 0.9, 0.99] {
        let exact = exact_quantile(&union, q);
        let upper = BOUNDS
            .into_iter()
            .find(|b| *b >= exact)
            .expect("within the bounds");
        let lower = BOUNDS.into_iter().rev().find(|b| *b < upper).unwrap_or(0.0);
        let promql = format!("histogram_quantile({q}, sum by (le) (sc_lat_bucket))");
        let got = query(vm.address, &promql).unwrap_or(f64::NAN);
        assert!(
            (lower..=upper).contains(&got),
            "{promql} = {got}, not in the bucket ({lower}, {upper}] of the exact {exact}"
        );
    }
}

#[test]
fn prometheus_takes_the_counters_through_remote_write() {
    let prometheus = servers::prometheus_receiver();
    let fleet = Fleet::start("--remote-write", &prometheus.url("/api/v1/write"));
    let log = || fleet.log(&prometheus);
    let at = prometheus.address;
    expect(at, "sum(sc_req_total)", fleet.sum(|w| w.requests), &log);
    expect(at, "sum(sc_sampled_total)", fleet.sum(|w| w.sampled), &log);
    expect(at, r#"sc_req_total{host="c",code="500"}"#, 7.0, &log);
    expect(at, "count(sc_lat_count)", 3.0, &log);
}

#[test]
fn refused_pushes_are_counted_and_logged_once() {
    // Another statkit's HTTP server has no remote-write route: it answers
    // 404, which no retry would change.
    let refuser = Statkit::start(&["--console=false"]);
    let url = format!("http://{}/api/v1/write", refuser.http.expect("HTTP"));
    let pusher = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--remote-write",
        &url,
    ]);
    let http = pusher.http.expect("HTTP");
    let counted = poll_until(util::TIMEOUT, || {
        let text = util::http_get(http, "/metrics", "").body;
        let line = text
            .lines()
            .find(|l| l.starts_with("statsd_push_rejected_total"))?;
        let n: f64 = line.rsplit(' ').next()?.parse().ok()?;
        (n >= 2.0).then_some(n)
    });
    assert!(
        counted.is_some(),
        "no refusals counted:\n{}",
        pusher.process.log()
    );
    let log = pusher.process.log();
    assert_eq!(log.matches("endpoint refused a flush").count(), 1, "{log}");
    assert!(log.contains("status=404"), "{log}");
}
