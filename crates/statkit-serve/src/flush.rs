//! The flusher: a thread that ends each interval on schedule.
//!
//! At every tick it asks the pipeline for the interval's
//! [`Snapshot`](statkit_agg::Snapshot), adds the server's own counts, and
//! hands it to every sink's queue. Ticks are anchored at start (start + k *
//! interval, as etsy anchors them), so a slow flush does not shift the
//! ones after it.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_agg::Snapshot;

use crate::checkpoint::Checkpointer;
use crate::pipeline::Pipeline;
use crate::sink::Fanout;
use crate::source::SourceCounts;
use crate::status::Status;
use crate::support::unix_now;

/// What the flusher reads and feeds.
pub(crate) struct Flusher {
    pub pipeline: Arc<Pipeline>,
    pub sinks: Fanout,
    pub counts: Arc<SourceCounts>,
    pub status: Arc<Status>,
    pub interval: Duration,
    /// With a state folder: each flush is one step with its checkpoint.
    pub checkpoints: Option<Arc<Checkpointer>>,
}

/// Running totals whose per-interval differences become own metrics.
#[derive(Default)]
struct Totals {
    kernel_drops: u64,
    tcp_refused: u64,
    files_refused: u64,
}

impl Flusher {
    /// Flushes every interval until `stop` receives or disconnects, then
    /// flushes one last time and returns.
    pub(crate) fn run(self, stop: Receiver<()>) {
        // The sockets are new, so every drop the kernel counted for them
        // happened since start: the first flush reports them all.
        let mut totals = Totals::default();
        let start = Instant::now();
        // u64: at a millisecond interval a u32 would wrap after 49 days.
        let mut ticks: u64 = 1;
        let mut last = start;
        loop {
            let deadline = start + self.interval.mul_f64(ticks as f64);
            let wait = deadline.saturating_duration_since(Instant::now());
            let stopping = match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => false,
                Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
            };
            // The last interval ends when the server stops: its rates use
            // the time it lasted (at least a millisecond).
            let lasted = last.elapsed().max(Duration::from_millis(1));
            self.flush_once(
                &mut totals,
                (stopping && lasted < self.interval).then_some(lasted),
            );
            last = Instant::now();
            if stopping {
                return;
            }
            // Skip ticks that passed while this one ran late.
            let elapsed = start.elapsed();
            ticks = ticks.max((elapsed.as_secs_f64() / self.interval.as_secs_f64()) as u64) + 1;
        }
    }

    fn flush_once(&self, totals: &mut Totals, cut_short: Option<Duration>) {
        let now = unix_now();
        let mut finish = |snapshot: &mut Snapshot| self.add_own(snapshot, totals);
        match &self.checkpoints {
            Some(checkpoints) => checkpoints.flush(now, cut_short, finish, &self.sinks),
            None => {
                let mut flushed = self.pipeline.flush(now, cut_short, false);
                finish(&mut flushed.snapshot);
                (self.sinks).push(flushed.number, Arc::new(flushed.snapshot), None);
            }
        }
        self.status.flushed(now);
    }

    /// The server's own counts since the last flush.
    fn add_own(&self, snapshot: &mut Snapshot, totals: &mut Totals) {
        let kernel_drops = self.counts.kernel_drops().unwrap_or(totals.kernel_drops);
        let tcp_refused = self.counts.tcp_refused();
        let files_refused = self.counts.files_refused();
        let since = |now: u64, before: u64| now.saturating_sub(before) as f64;
        snapshot.own.extend([
            ("udp_kernel_drops", since(kernel_drops, totals.kernel_drops)),
            (
                "tcp_connections_refused",
                since(tcp_refused, totals.tcp_refused),
            ),
            (
                "stats_files_refused",
                since(files_refused, totals.files_refused),
            ),
        ]);
        *totals = Totals {
            kernel_drops,
            tcp_refused,
            files_refused,
        };
    }
}
