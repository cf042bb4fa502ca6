//! An outage: VictoriaMetrics stops, the agent goes on flushing into its
//! disk queue, is restarted meanwhile, and VictoriaMetrics comes back.
//! Every increment must arrive and none twice: the series VictoriaMetrics
//! ends with rises, flush by flush, to exactly what was sent, with no
//! reset, and holds the values flushed while it was down (the agent's
//! disk queue replays them).

use std::path::Path;

use serde_json::Value;

use super::{expect, servers};
use crate::util::{self, poll_until, send_tcp, Dir, Statkit};

/// The agent, keeping its state (checkpoints, disk queues) in `state`.
fn agent(state: &Path, url: &str) -> Statkit {
    Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--state-dir",
        state.to_str().expect("a UTF-8 temp path"),
        "--checkpoint-interval",
        "0.2",
        "--sink-replay-rate",
        "50",
        "--remote-write",
        url,
        "--label",
        "host=a",
    ])
}

/// Sends `n` increments of `sc_out` over TCP.
fn increments(agent: &Statkit, n: usize) {
    send_tcp(agent.tcp, &"sc.out:1|c\n".repeat(n));
}

/// Waits until the agent's own `/metrics` counts `total`.
fn counted(agent: &Statkit, total: u32) {
    let http = agent.http.expect("an HTTP address");
    let line = format!("sc_out_total{{host=\"a\"}} {total}");
    let seen = poll_until(util::TIMEOUT, || {
        util::http_get(http, "/metrics", "")
            .body
            .contains(&line)
            .then_some(())
    });
    assert!(
        seen.is_some(),
        "the agent never counted {total}:\n{}",
        agent.process.log()
    );
}

/// Every sample of `sc_out_total` VictoriaMetrics holds, in time order.
fn samples(vm: &servers::Server) -> Vec<(i64, f64)> {
    let url = vm.url("/api/v1/export?match[]=sc_out_total");
    let Ok(mut answer) = ureq::get(&url).call() else {
        return Vec::new();
    };
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    let Some(line) = text.lines().next() else {
        return Vec::new();
    };
    let series: Value = serde_json::from_str(line).expect("VictoriaMetrics' export is JSON");
    let values: Vec<f64> = serde_json::from_value(series["values"].clone()).unwrap();
    let times: Vec<i64> = serde_json::from_value(series["timestamps"].clone()).unwrap();
    times.into_iter().zip(values).collect()
}

#[test]
fn every_increment_arrives_once_across_an_outage_and_a_restart() {
    let state = Dir::new("outage-state");
    let vm = servers::victoria_metrics();
    let url = vm.url("/api/v1/write");
    let first = agent(state.path(), &url);
    increments(&first, 100);
    let log = || vm.process.log();
    expect(vm.address, r#"sc_out_total{host="a"}"#, 100.0, &log);

    // Down: the agent flushes 150 into its queue, stops, starts again
    // from its checkpoint and counts on to 175.
    let (data, port) = vm.stop();
    increments(&first, 50);
    counted(&first, 150);
    drop(first);
    let second = agent(state.path(), &url);
    increments(&second, 25);
    counted(&second, 175);

    let vm = servers::victoria_metrics_in(data, port);
    let log = || format!("{}\nagent:\n{}", vm.process.log(), second.process.log());
    expect(vm.address, r#"sc_out_total{host="a"}"#, 175.0, &log);
    let samples = poll_until(util::TIMEOUT, || {
        let samples = samples(&vm);
        samples.iter().any(|(_, v)| *v == 150.0).then_some(samples)
    })
    .unwrap_or_else(|| {
        panic!(
            "the flushes of the outage never arrived: {:?}\n{}",
            samples(&vm),
            log()
        )
    });
    // A flush delivered twice (the final flush at a stop can fall in the
    // second of the one before, a checkpoint's copy can be put back after
    // a restart) repeats a sample exactly: same time, same value, which a
    // database stores once. Anything else out of step would be an
    // increment lost or counted twice.
    let in_step = |w: &[(i64, f64)]| {
        let (a, b) = (w[0], w[1]);
        a.1 <= b.1 && (a.0 < b.0 || a == b)
    };
    assert!(
        samples.windows(2).all(in_step),
        "not one rising series: {samples:?}"
    );
    assert_eq!(samples.last().map(|s| s.1), Some(175.0), "{samples:?}");
}
