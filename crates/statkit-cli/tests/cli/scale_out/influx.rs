//! The InfluxDB sink: three agents push line protocol into a real
//! InfluxDB 1.x (Debian's `influxdb`) and into VictoriaMetrics' `/write`,
//! and both give back the workload.

use std::net::SocketAddr;

use serde_json::Value;

use super::{agent_pushing, expect, feed, servers, workloads, Workload, BOUNDS};
use crate::prometheus::encode_query;
use crate::util::{self, poll_until, Statkit};

/// The one value InfluxQL `query` gives in database `statkit` (InfluxDB
/// answers in chunks: ureq reads them).
fn influx_query(influx: SocketAddr, query: &str) -> Option<f64> {
    let url = format!("http://{influx}/query?db=statkit&q={}", encode_query(query));
    let text = ureq::get(&url)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    let body: Value = serde_json::from_str(&text).ok()?;
    body["results"][0]["series"][0]["values"][0][1].as_f64()
}

/// Starts an agent per workload pushing with `--influx` to `url`, and
/// feeds each its workload.
fn agents(url: &str, workloads: &[Workload]) -> Vec<Statkit> {
    let agents: Vec<Statkit> = workloads
        .iter()
        .map(|w| agent_pushing(w.host, "--influx", url))
        .collect();
    for (agent, workload) in agents.iter().zip(workloads) {
        feed(agent, workload);
    }
    agents
}

#[test]
fn influxdb_takes_every_series_of_every_host() {
    let influx = servers::influxdb();
    let workloads = workloads();
    let agents = agents(&influx.url("/write?db=statkit"), &workloads);
    let log = || {
        let agents: Vec<String> = agents.iter().map(|a| a.process.log()).collect();
        format!(
            "influxd:\n{}\nagents:\n{}",
            influx.process.log(),
            agents.join("\n")
        )
    };
    for w in &workloads {
        let host = w.host;
        let count: f64 = w.timings.iter().map(|(_, weight)| weight).sum();
        let at_most_100: f64 = w
            .timings
            .iter()
            .filter(|(v, _)| *v <= 100.0)
            .map(|(_, x)| x)
            .sum();
        let wanted = [
            (
                format!("SELECT last(total) FROM sc_sampled WHERE host='{host}'"),
                w.sampled,
            ),
            (
                format!("SELECT last(value) FROM sc_temp WHERE host='{host}'"),
                w.temperature,
            ),
            (
                format!("SELECT last(count) FROM sc_lat WHERE host='{host}'"),
                count,
            ),
            (
                format!("SELECT last(bucket) FROM sc_lat WHERE host='{host}' AND le='100.0'"),
                at_most_100,
            ),
        ];
        // Host c sends no sampled counter: it has no such series.
        for (query, want) in wanted.into_iter().filter(|(_, want)| *want != 0.0) {
            let got = poll_until(util::TIMEOUT, || {
                influx_query(influx.address, &query).filter(|v| *v == want)
            });
            assert_eq!(
                got,
                Some(want),
                "{query}: last answer {:?}\n{}",
                influx_query(influx.address, &query),
                log()
            );
        }
    }
    let code = "SELECT last(total) FROM sc_req WHERE host='c' AND code='500'";
    let got = poll_until(util::TIMEOUT, || {
        influx_query(influx.address, code).filter(|v| *v == 7.0)
    });
    assert_eq!(got, Some(7.0), "{code}\n{}", log());
}

#[test]
fn victoria_metrics_reads_the_lines_as_the_metrics_names() {
    let vm = servers::victoria_metrics();
    let workloads = workloads();
    let agents = agents(&vm.url("/write"), &workloads);
    let log = || {
        let agents: Vec<String> = agents.iter().map(|a| a.process.log()).collect();
        format!(
            "victoria-metrics:\n{}\nagents:\n{}",
            vm.process.log(),
            agents.join("\n")
        )
    };
    let requests: f64 = workloads.iter().map(|w| w.requests).sum();
    expect(vm.address, "sum(sc_req_total)", requests, &log);
    let union: Vec<(f64, f64)> = workloads.iter().flat_map(|w| w.timings.clone()).collect();
    for bound in BOUNDS {
        let at_most: f64 = union
            .iter()
            .filter(|(v, _)| *v <= bound)
            .map(|(_, w)| w)
            .sum();
        let promql = format!(r#"sum(sc_lat_bucket{{le="{bound:.1}"}})"#);
        expect(vm.address, &promql, at_most, &log);
    }
}
