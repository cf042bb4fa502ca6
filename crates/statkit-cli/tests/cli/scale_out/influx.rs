//! The InfluxDB sink: three agents push line protocol into a real
//! InfluxDB 1.x (Debian's `influxdb`) and into VictoriaMetrics' `/write`,
//! and both give back the workload.

use std::net::SocketAddr;

use serde_json::Value;

use super::{at_most, expect, expect_buckets, servers, Fleet};
use crate::prometheus::encode_query;
use crate::util::{self, poll_until};

/// InfluxDB's answer to InfluxQL `query` in database `statkit` (it
/// answers in chunks: ureq reads them).
fn influx_answer(influx: SocketAddr, query: &str) -> Option<Value> {
    let url = format!("http://{influx}/query?db=statkit&q={}", encode_query(query));
    let text = ureq::get(&url)
        .call()
        .ok()?
        .body_mut()
        .read_to_string()
        .ok()?;
    serde_json::from_str(&text).ok()
}

/// The first value of the answer to `query`.
fn influx_query(influx: SocketAddr, query: &str) -> Option<f64> {
    influx_answer(influx, query)?["results"][0]["series"][0]["values"][0][1].as_f64()
}

/// The queries docs/scale-out.md gives, over all hosts: InfluxDB must
/// take them (their values need minutes of data, more than a test has).
const DOCUMENTED: [&str; 2] = [
    "SELECT sum(rate) FROM (SELECT non_negative_derivative(last(\"total\"), 1s) AS rate \
     FROM \"sc_req\" WHERE time > now() - 1h GROUP BY time(1m), \"host\") GROUP BY time(1m)",
    "SELECT sum(n) FROM (SELECT non_negative_difference(last(\"bucket\")) AS n FROM \"sc_lat\" \
     WHERE \"le\" = '100.0' AND time > now() - 1h GROUP BY time(1m), \"host\") GROUP BY time(1m)",
];

#[test]
fn influxdb_takes_every_series_of_every_host() {
    let influx = servers::influxdb();
    let fleet = Fleet::start("--influx", &influx.url("/write?db=statkit"));
    let log = || fleet.log(&influx);
    for w in &fleet.workloads {
        let host = w.host;
        let wanted = [
            ("last(total) FROM sc_sampled", "", w.sampled),
            ("last(value) FROM sc_temp", "", w.temperature),
            (
                "last(count) FROM sc_lat",
                "",
                at_most(&w.timings, f64::INFINITY),
            ),
            (
                "last(bucket) FROM sc_lat",
                " AND le='100.0'",
                at_most(&w.timings, 100.0),
            ),
        ];
        // Host c sends no sampled counter: it has no such series.
        for (what, and, want) in wanted.into_iter().filter(|(.., want)| *want != 0.0) {
            let query = format!("SELECT {what} WHERE host='{host}'{and}");
            let got = poll_until(util::TIMEOUT, || {
                influx_query(influx.address, &query).filter(|v| *v == want)
            });
            let last = influx_query(influx.address, &query);
            assert_eq!(got, Some(want), "{query}: last answer {last:?}\n{}", log());
        }
    }
    let code = "SELECT last(total) FROM sc_req WHERE host='c' AND code='500'";
    let got = poll_until(util::TIMEOUT, || {
        influx_query(influx.address, code).filter(|v| *v == 7.0)
    });
    assert_eq!(got, Some(7.0), "{code}\n{}", log());
    for query in DOCUMENTED {
        let answer = influx_answer(influx.address, query);
        let result = answer.as_ref().map(|a| &a["results"][0]);
        assert!(
            result.is_some_and(|r| r.is_object() && r.get("error").is_none()),
            "{query}: {answer:?}"
        );
    }
}

#[test]
fn victoria_metrics_reads_the_lines_as_the_metrics_names() {
    let vm = servers::victoria_metrics();
    let fleet = Fleet::start("--influx", &vm.url("/write"));
    let log = || fleet.log(&vm);
    expect(
        vm.address,
        "sum(sc_req_total)",
        fleet.sum(|w| w.requests),
        &log,
    );
    expect_buckets(vm.address, &fleet.union(), &log);
}
