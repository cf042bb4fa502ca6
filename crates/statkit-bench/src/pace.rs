//! Pacing: holding the sender to a target rate in lines per second.
//!
//! The sender asks, before each write, how long to wait so that the lines
//! already sent do not run ahead of `start + sent / rate`. Lateness is never
//! repaid by waiting less later, nor banked: when the sender falls behind
//! (a slow `sleep`, a busy core) it sends without waiting until it is back
//! on schedule, so the average rate holds while single gaps stay short.

use std::time::{Duration, Instant};

use crate::Error;

/// Schedules writes so that `sent` lines go out no earlier than
/// `start + sent / rate`.
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    /// Lines per second; `None` sends as fast as the socket takes them.
    rate: Option<f64>,
    start: Instant,
}

impl Pacer {
    /// A pacer starting now. `rate` of `None` (or the caller's `0`) means
    /// unlimited; a rate must be finite and positive.
    pub fn new(rate: Option<f64>, start: Instant) -> Result<Self, Error> {
        if let Some(r) = rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(Error::Config(format!(
                    "rate {r} lines/s is not a positive number"
                )));
            }
        }
        Ok(Self { rate, start })
    }

    /// When the line numbered `sent` (counting from 0) is due.
    pub fn due(&self, sent: u64) -> Option<Instant> {
        self.rate
            .map(|r| self.start + Duration::from_secs_f64(sent as f64 / r))
    }

    /// How long to wait at `now` before writing lines `sent..`; `None` when
    /// they are due already.
    pub fn wait(&self, sent: u64, now: Instant) -> Option<Duration> {
        let due = self.due(sent)?;
        let wait = due.checked_duration_since(now)?;
        (!wait.is_zero()).then_some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let start = Instant::now();
        let pacer = Pacer::new(None, start).unwrap();
        assert_eq!(pacer.wait(1_000_000, start), None);
        assert_eq!(pacer.due(5), None);
    }

    #[test]
    fn waits_until_the_lines_already_sent_are_due() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(50_000.0), start).unwrap();
        // 87 lines at 50k lines/s take 1.74 ms.
        assert_eq!(pacer.wait(87, start), Some(Duration::from_micros(1740)));
        assert_eq!(
            pacer.wait(87, start + Duration::from_micros(740)),
            Some(Duration::from_millis(1))
        );
        assert_eq!(pacer.wait(0, start), None);
    }

    #[test]
    fn late_sender_does_not_wait() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(10_000.0), start).unwrap();
        assert_eq!(pacer.wait(10, start + Duration::from_millis(5)), None);
        assert_eq!(pacer.wait(50, start + Duration::from_millis(5)), None);
        assert_eq!(
            pacer.wait(51, start + Duration::from_millis(5)),
            Some(Duration::from_micros(100))
        );
    }

    #[test]
    fn a_second_of_lines_is_due_after_a_second() {
        let start = Instant::now();
        let pacer = Pacer::new(Some(1_600_000.0), start).unwrap();
        assert_eq!(pacer.due(1_600_000), Some(start + Duration::from_secs(1)));
        assert_eq!(pacer.due(400_000), Some(start + Duration::from_millis(250)));
    }

    #[test]
    fn rejects_non_positive_rates() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Pacer::new(Some(rate), Instant::now()).is_err(), "{rate}");
        }
    }
}
