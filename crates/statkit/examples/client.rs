//! Sends a handful of metrics, as an application would.
//!
//! ```text
//! cargo run -p statkit --example client [HOST:PORT]
//! ```
//!
//! Start `statkit serve` (or `nc -ul 8125`) first to see them arrive; with no
//! server listening the program still runs to the end and reports the drops.

use std::time::Duration;

fn main() -> Result<(), statkit::BuildError> {
    let server = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8125".to_owned());
    let client = statkit::Client::builder(&server)
        .prefix("example")
        .tag("host", "demo")
        .flush_interval(Duration::from_secs(1))
        .build()?;

    for request in 0..20u32 {
        let timer = client.time("request.duration");
        let status = if request % 7 == 0 { "500" } else { "200" };
        client.tagged(&[("status", status)]).incr("requests");
        client
            .sampled(0.5)
            .histogram("response.bytes", f64::from(512 + request * 10));
        client.set("users", request % 5);
        std::thread::sleep(Duration::from_millis(5));
        timer.stop();
    }
    client.gauge("queue.depth", 3.0);
    client.gauge_delta("queue.depth", -1.0);
    client.flush();

    let stats = client.stats();
    println!(
        "sent {} datagrams to {server}, dropped {} ({} unexpected errors, last: {:?})",
        stats.sent, stats.dropped, stats.errors, stats.last_error
    );
    Ok(())
}
