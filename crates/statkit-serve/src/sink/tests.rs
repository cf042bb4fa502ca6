use std::sync::{Arc, Mutex};

use statkit_agg::Snapshot;

use super::{Attempt, QueueOptions, Sink, SinkError, Sinks};

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
    let spy = Spy {
        failures: 2,
        delivered: Arc::clone(&delivered),
    };
    let mut sinks = Sinks::new(QueueOptions {
        capacity: 2,
        ..QueueOptions::default()
    });
    sinks.start("spy".into(), "spy", spy);
    let fanout = sinks.queues();
    // Four flushes into a queue of two before the sink runs: the two
    // oldest are dropped, and the first delivery (retried twice) says so.
    for t in 1..=4 {
        fanout.push(t, snap(t), None);
    }
    sinks.finish().await;
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered, [(3, 2), (4, 0)]);
    assert_eq!(fanout.drops().collect::<Vec<_>>(), [("spy", 2)]);
}

#[tokio::test]
async fn a_backend_down_at_shutdown_keeps_its_flushes_on_disk_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let options = QueueOptions {
        disk: Some((dir.path().to_owned(), 1 << 20)),
        replay_rate: 1000.0,
        ..QueueOptions::default()
    };
    let delivered = Arc::default();
    let down = Spy {
        failures: usize::MAX,
        delivered: Arc::clone(&delivered),
    };
    let mut sinks = Sinks::new(options.clone());
    sinks.start("down".into(), "backend", down);
    let fanout = sinks.queues();
    for t in 1..=3 {
        fanout.push(t, snap(t), None);
    }
    // The same flush twice in a row (a checkpoint's copy) is delivered once.
    fanout.push(3, snap(3), None);
    tokio::time::pause();
    sinks.finish().await;
    assert!(delivered.lock().unwrap().is_empty());
    assert_eq!(fanout.drops().collect::<Vec<_>>(), [("down", 0)]);

    tokio::time::resume();
    let mut sinks = Sinks::new(options);
    let up = Spy {
        failures: 0,
        delivered: Arc::clone(&delivered),
    };
    sinks.start("up".into(), "backend", up);
    sinks.finish().await;
    let delivered = delivered.lock().unwrap().clone();
    assert_eq!(delivered, [(1, 0), (2, 0), (3, 0)]);
}
