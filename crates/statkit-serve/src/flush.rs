//! The flusher: a thread that ends each interval on schedule.
//!
//! At every tick it drains the receivers' tables into the aggregator, takes
//! the interval's [`Snapshot`](statkit_agg::Snapshot), adds the server's own
//! counts, and hands it to every sink's queue. Ticks are anchored at start
//! (start + k * interval, as etsy anchors them), so a slow flush does not
//! shift the ones after it.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::source::{kernel, lock};
use crate::state::{unix_now, Shared};

/// Running totals whose per-interval differences become own metrics.
#[derive(Default)]
struct Totals {
    kernel_drops: u64,
    tcp_refused: u64,
}

/// Flushes every interval until `stop` receives or disconnects, then
/// flushes one last time and returns.
pub(crate) fn run(shared: Arc<Shared>, stop: Receiver<()>) {
    let interval = Duration::from_secs_f64(shared.config.aggregation.interval_ms / 1000.0);
    // The sockets are new, so every drop the kernel counted for them
    // happened since start: the first flush reports them all.
    let mut totals = Totals::default();
    let start = Instant::now();
    // u64: at a millisecond interval a u32 would wrap after 49 days.
    let mut ticks: u64 = 1;
    loop {
        let deadline = start + interval.mul_f64(ticks as f64);
        let stopping = match stop.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        flush_once(&shared, &mut totals);
        if stopping {
            return;
        }
        // Skip ticks that passed while this one ran late.
        let elapsed = start.elapsed();
        ticks = ticks.max((elapsed.as_secs_f64() / interval.as_secs_f64()) as u64) + 1;
    }
}

fn flush_once(shared: &Shared, totals: &mut Totals) {
    let now = unix_now();
    let mut snapshot = {
        let mut aggregator = lock(&shared.aggregator);
        shared.absorb_all(&mut aggregator);
        aggregator.flush(now)
    };
    shared.last_flush.store(now, Ordering::Relaxed);
    let kernel_drops = kernel::drops(&shared.udp_inodes).unwrap_or(totals.kernel_drops);
    let tcp_refused = shared.tcp_refused.load(Ordering::Relaxed);
    snapshot.own.extend([
        (
            "udp_kernel_drops",
            kernel_drops.saturating_sub(totals.kernel_drops) as f64,
        ),
        (
            "tcp_connections_refused",
            tcp_refused.saturating_sub(totals.tcp_refused) as f64,
        ),
    ]);
    *totals = Totals {
        kernel_drops,
        tcp_refused,
    };
    let snapshot = Arc::new(snapshot);
    for queue in &shared.queues {
        queue.push(snapshot.clone());
    }
}
