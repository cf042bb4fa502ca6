use std::sync::{Arc, Mutex};

use statkit_agg::Snapshot;

use super::{Attempt, Sink, SinkError, Sinks};

/// Fails its first `failures` deliveries, then records what it delivers.
struct Spy {
    failures: usize,
    delivered: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl Sink for Spy {
    async fn deliver(
        &mut self,
        snapshot: &Arc<Snapshot>,
        attempt: Attempt,
    ) -> Result<(), SinkError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(std::io::Error::other("down").into());
        }
        self.delivered
            .lock()
            .unwrap()
            .push((snapshot.timestamp, attempt.dropped));
        Ok(())
    }
}

fn snap(timestamp: u64) -> Arc<Snapshot> {
    Arc::new(Snapshot::new(timestamp, 1000.0, Arc::from([])))
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_drops_are_reported_once() {
    let delivered = Arc::default();
    let mut sinks = Sinks::default();
    let spy = Spy {
        failures: 2,
        delivered: Arc::clone(&delivered),
    };
    sinks.start("spy".into(), 2, spy);
    let fanout = sinks.queues();
    // Four flushes into a queue of two before the sink runs: the two
    // oldest are dropped, and the first delivery (retried twice) says so.
    for t in 1..=4 {
        fanout.push(snap(t));
    }
    sinks.finish().await;
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered, [(3, 2), (4, 0)]);
    assert_eq!(fanout.drops().collect::<Vec<_>>(), [("spy", 2)]);
}
