//! `--series-ttl` end to end: a series idle that long leaves the
//! aggregation (Graphite stops getting it), the history store (the
//! dashboard's API) and `/metrics`; one that keeps getting samples stays.

use std::time::Duration;

use crate::util::{http_get, poll_until, send_udp, GraphiteReceiver, Statkit, TIMEOUT};

#[test]
fn an_idle_series_leaves_graphite_the_store_and_metrics() {
    let graphite = GraphiteReceiver::start();
    let address = graphite.addr().to_string();
    let statkit = Statkit::start(&[
        "--flush-interval",
        "0.5",
        "--console=false",
        "--graphite",
        &address,
        "--series-ttl",
        "2",
    ]);
    let http = statkit.http.expect("an HTTP address");
    send_udp(statkit.udp, &["idle.c:1|c\nidle.g:3|g\nbusy.c:1|c"]);
    let has = |body: &str, name: &str| body.lines().any(|l| l.starts_with(name));
    let shown = poll_until(TIMEOUT, || {
        let body = http_get(http, "/metrics", "").body;
        let listed = http_get(http, "/api/v1/metrics", "")
            .body
            .contains("\"idle.c\"");
        (has(&body, "idle_c_total ") && has(&body, "idle_g ") && listed).then_some(())
    });
    assert!(shown.is_some(), "{}", statkit.process.log());
    // Keep one series busy while the other goes idle: gone from /metrics
    // and the store's list within the ttl and a few flushes.
    let gone = poll_until(TIMEOUT, || {
        send_udp(statkit.udp, &["busy.c:1|c"]);
        std::thread::sleep(Duration::from_millis(200));
        let body = http_get(http, "/metrics", "").body;
        let list = http_get(http, "/api/v1/metrics", "").body;
        let idle_gone = !has(&body, "idle_c_total ") && !has(&body, "idle_g ");
        let listed = list.contains("\"idle.c\"") || list.contains("\"idle.g\"");
        (idle_gone && !listed && has(&body, "busy_c_total ")).then_some(())
    });
    assert!(
        gone.is_some(),
        "the idle series stayed:\n{}",
        http_get(http, "/metrics", "").body
    );
    // Graphite's latest flush has the busy counter and not the idle one.
    let flushes = graphite.flushes();
    let last = flushes.last().expect("flushes");
    assert!(last.value("stats_counts.busy.c").is_some());
    assert!(
        last.value("stats_counts.idle.c").is_none(),
        "{:?}",
        last.lines
    );
    assert!(last.value("stats.gauges.idle.g").is_none());
    // The first flushes had it.
    assert!(flushes
        .iter()
        .any(|f| f.value("stats_counts.idle.c") == Some(1.0)));
}
