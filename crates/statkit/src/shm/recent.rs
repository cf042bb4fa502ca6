//! The last N values recorded into a histogram, for statvent's pipe
//! statistics (`median`, `95th`, `99th`, `100th` and `mean` of the last 100
//! values). They live in process memory, not in the stats file.
//!
//! Recording is a load and two stores: no lock, no read-modify-write, no
//! division, never a wait (a `fetch_add` and a `%` cost three times the
//! rest of a histogram record in the bench). The price: two threads that
//! record at the same instant may take the same slot, and the ring then
//! holds one value fewer of the newest ones for a while; a value is never
//! torn. A reader takes the slots as they are (never-written ones hold NaN
//! and are skipped).
//!
//! The ring's lines are written by every thread that records, so threads
//! recording one histogram at once pass them back and forth (tens of
//! nanoseconds a record). Rings are therefore fed only once a pipe
//! publisher reads them (`feeding`, one flag per registry that nothing
//! writes until then): without one, a record never touches its ring.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::Arc;

/// A fixed ring of the last values, shared by every thread.
#[derive(Debug)]
pub(crate) struct Recent {
    feeding: Arc<AtomicBool>,
    next: AtomicU64,
    values: Box<[AtomicU64]>,
}

impl Recent {
    /// A ring of `size` values (at least 1), fed while `feeding` is set.
    pub fn new(size: u32, feeding: Arc<AtomicBool>) -> Recent {
        let empty = f64::NAN.to_bits();
        Recent {
            feeding,
            next: AtomicU64::new(0),
            values: (0..size.max(1)).map(|_| AtomicU64::new(empty)).collect(),
        }
    }

    /// Keeps `value`, replacing the oldest once the ring is full; nothing
    /// while no publisher reads the rings.
    #[inline]
    pub fn push(&self, value: f64) {
        if !self.feeding.load(Relaxed) {
            return;
        }
        let at = self.next.load(Relaxed) as usize;
        let at = if at < self.values.len() { at } else { 0 };
        self.next.store(at as u64 + 1, Relaxed);
        self.values[at].store(value.to_bits(), Relaxed);
    }

    /// The values held now, in no particular order.
    pub fn values(&self) -> Vec<f64> {
        self.values
            .iter()
            .map(|v| f64::from_bits(v.load(Relaxed)))
            .filter(|v| !v.is_nan())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    use std::sync::Arc;

    use super::Recent;

    #[test]
    fn keeps_the_last_values() {
        let ring = Recent::new(3, Arc::new(AtomicBool::new(true)));
        assert!(ring.values().is_empty());
        for v in 1..=5 {
            ring.push(v as f64);
        }
        let mut held = ring.values();
        held.sort_by(f64::total_cmp);
        assert_eq!(held, [3.0, 4.0, 5.0]);
    }

    #[test]
    fn an_unread_ring_stays_empty() {
        let feeding = Arc::new(AtomicBool::new(false));
        let ring = Recent::new(3, feeding.clone());
        ring.push(1.0);
        assert!(ring.values().is_empty());
        feeding.store(true, Relaxed);
        ring.push(2.0);
        assert_eq!(ring.values(), [2.0]);
    }

    #[test]
    fn threads_fill_the_ring_and_stay_inside_it() {
        let ring = Arc::new(Recent::new(100, Arc::new(AtomicBool::new(true))));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || (0..1000).for_each(|i| ring.push((t * 1000 + i) as f64)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let held = ring.values();
        assert_eq!(held.len(), 100);
        assert!(held.iter().all(|&v| (0.0..4000.0).contains(&v)));
    }
}
