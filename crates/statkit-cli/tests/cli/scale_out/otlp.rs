//! The OTLP sink: an agent pushes to a loopback receiver that decodes
//! each request with the official `opentelemetry-proto` package from PyPI
//! (`otlp_receiver.py`), and the decoded request must hold the workload:
//! the host label as the resource, counters as monotonic cumulative Sums,
//! timers as cumulative Histograms with the bucket bounds, gauges.

use std::process::Command;
use std::time::Instant;

use serde_json::Value;

use super::{agent_pushing, feed, workloads, BOUNDS};
use crate::util::{self, poll_until, python, Dir, Process};

/// The receiver, and the port it prints.
fn receiver(dir: &Dir) -> (Process, u16) {
    let script = dir.write("otlp_receiver.py", include_str!("otlp_receiver.py"));
    let mut command = Command::new(python());
    command.arg("-u").arg(script);
    let process = Process::spawn("otlp receiver", command);
    let line = process
        .next_stdout_line(Instant::now() + util::TIMEOUT)
        .unwrap_or_else(|| panic!("the OTLP receiver did not start:\n{}", process.log()));
    let port = line
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a port: {line:?}\n{}", process.log()));
    (process, port)
}

/// The metric `name` of the last request received, once it has one.
fn last_metric(receiver: &Process, name: &str) -> Option<(Value, Value)> {
    let log = receiver.log();
    let line = log.lines().rev().find(|l| l.starts_with('{'))?;
    let request: Value = serde_json::from_str(line).ok()?;
    let resource = &request["resource_metrics"][0];
    let metrics = resource["scope_metrics"][0]["metrics"].as_array()?;
    let metric = metrics.iter().find(|m| m["name"] == name)?;
    Some((resource["resource"].clone(), metric.clone()))
}

/// A fixed64 as `MessageToDict` prints it (a string).
fn fixed(value: &Value) -> Option<f64> {
    value.as_str()?.parse().ok()
}

#[test]
fn an_otlp_receiver_decodes_the_workload() {
    let dir = Dir::new("otlp");
    let (receiver, port) = receiver(&dir);
    let [a, _, _] = workloads();
    let url = format!("http://127.0.0.1:{port}/v1/metrics");
    let agent = agent_pushing(a.host, "--otlp", &url);
    feed(&agent, &a);
    let log = || {
        format!(
            "receiver:\n{}\nagent:\n{}",
            receiver.log(),
            agent.process.log()
        )
    };

    let counted = |want: f64| {
        move |(_, m): (Value, Value)| {
            let point = &m["sum"]["data_points"][0];
            (point["as_double"].as_f64() == Some(want)).then_some(m)
        }
    };
    let requests = poll_until(util::TIMEOUT, || {
        last_metric(&receiver, "sc_req").and_then(counted(a.requests))
    })
    .unwrap_or_else(|| panic!("sc_req never reached {}\n{}", a.requests, log()));
    assert_eq!(requests["sum"]["is_monotonic"], true);
    assert_eq!(
        requests["sum"]["aggregation_temporality"],
        "AGGREGATION_TEMPORALITY_CUMULATIVE"
    );

    let count: f64 = a.timings.iter().map(|(_, w)| w).sum();
    let (resource, lat) = poll_until(util::TIMEOUT, || {
        last_metric(&receiver, "sc_lat")
            .filter(|(_, m)| fixed(&m["histogram"]["data_points"][0]["count"]) == Some(count))
    })
    .unwrap_or_else(|| panic!("sc_lat never counted {count}\n{}", log()));
    let host = &resource["attributes"][0];
    assert_eq!(host["key"], "host", "{}", log());
    assert_eq!(host["value"]["string_value"], "a", "{}", log());
    assert_eq!(lat["unit"], "ms");
    let point = &lat["histogram"]["data_points"][0];
    let bounds: Vec<f64> = serde_json::from_value(point["explicit_bounds"].clone()).unwrap();
    assert_eq!(bounds, BOUNDS);
    let buckets: Vec<f64> = point["bucket_counts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(fixed)
        .collect();
    let mut below = f64::NEG_INFINITY;
    let mut want = Vec::new();
    for bound in BOUNDS.into_iter().chain([f64::INFINITY]) {
        let n: f64 = a
            .timings
            .iter()
            .filter(|(v, _)| *v > below && *v <= bound)
            .map(|(_, w)| w)
            .sum();
        want.push(n);
        below = bound;
    }
    assert_eq!(buckets, want, "{}", log());
    let sum: f64 = a.timings.iter().map(|(v, w)| v * w).sum();
    assert_eq!(point["sum"].as_f64(), Some(sum));

    let (_, temp) = last_metric(&receiver, "sc_temp").expect("a gauge");
    let value = temp["gauge"]["data_points"][0]["as_double"].as_f64();
    assert_eq!(value, Some(a.temperature), "{}", log());
}
