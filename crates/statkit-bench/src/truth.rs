//! What a correct server must flush for the lines that were sent.
//!
//! The truth is kept per name, in the terms of etsy statsd's output: counter
//! sums, sampled counter sums scaled by `1/rate`, timer sample counts, the
//! last gauge value (deltas applied from 0, as etsy does for a gauge it has
//! not seen), and set cardinalities. Only lines that actually left the
//! sender are recorded: a datagram whose send failed is not the server's
//! loss.

use std::collections::HashSet;

use crate::{Event, Kind};

/// Per-name expected values for one run.
#[derive(Clone, Debug)]
pub struct Truth {
    names: u32,
    sample_rate: f64,
    lines: [u64; 5],
    /// Sum of increments per counter name.
    counters: Vec<u64>,
    /// Lines per sampled-counter name (each sends a count of 1).
    sampled: Vec<u64>,
    /// Samples per timer name.
    timers: Vec<u64>,
    /// Value per gauge name after every line; `None` if never sent.
    gauges: Vec<Option<i64>>,
    /// Distinct members per set name, with the `(name, member)` pairs seen.
    set_cards: Vec<u64>,
    set_members: HashSet<(u32, i64)>,
}

impl Truth {
    /// An empty truth for `names` names per kind and the sampled counters'
    /// `sample_rate`.
    pub fn new(names: u32, sample_rate: f64) -> Self {
        let n = names as usize;
        Self {
            names,
            sample_rate,
            lines: [0; 5],
            counters: vec![0; n],
            sampled: vec![0; n],
            timers: vec![0; n],
            gauges: vec![None; n],
            set_cards: vec![0; n],
            set_members: HashSet::new(),
        }
    }

    /// Names per kind this truth was sized for.
    pub fn names(&self) -> u32 {
        self.names
    }

    /// Records one line that was sent. Events naming an index outside
    /// `0..names` are ignored (the generator never makes them).
    pub fn record(&mut self, event: &Event) {
        let i = event.name as usize;
        if i >= self.names as usize {
            return;
        }
        self.lines[event.kind.index()] += 1;
        match event.kind {
            Kind::Counter => self.counters[i] += event.value.unsigned_abs(),
            Kind::Sampled => self.sampled[i] += event.value.unsigned_abs(),
            Kind::Timer => self.timers[i] += 1,
            Kind::Gauge => {
                let gauge = &mut self.gauges[i];
                *gauge = Some(if event.delta {
                    gauge.unwrap_or(0) + event.value
                } else {
                    event.value
                });
            }
            Kind::Set => {
                if self.set_members.insert((event.name, event.value)) {
                    self.set_cards[i] += 1;
                }
            }
        }
    }

    /// Lines recorded of one kind.
    pub fn lines(&self, kind: Kind) -> u64 {
        self.lines[kind.index()]
    }

    /// Lines recorded of all kinds.
    pub fn total_lines(&self) -> u64 {
        self.lines.iter().sum()
    }

    /// What the server must report for name `i` of `kind`, summed over all
    /// flushes (gauges: the last value; sets: the cardinality). `None` when
    /// no line was sent for that name.
    pub fn expected(&self, kind: Kind, i: u32) -> Option<f64> {
        let i = i as usize;
        if i >= self.names as usize {
            return None;
        }
        let nonzero = |n: u64| (n > 0).then_some(n as f64);
        match kind {
            Kind::Counter => nonzero(self.counters[i]),
            Kind::Sampled => nonzero(self.sampled[i]).map(|n| n * (1.0 / self.sample_rate)),
            Kind::Timer => nonzero(self.timers[i]),
            Kind::Gauge => self.gauges[i].map(|v| v as f64),
            Kind::Set => nonzero(self.set_cards[i]),
        }
    }

    /// How many units one line of `kind` adds to the flushed total: 1 for
    /// timers, `1/rate` for sampled counters. Used to express losses in lines.
    pub fn unit(&self, kind: Kind) -> f64 {
        match kind {
            Kind::Sampled => 1.0 / self.sample_rate,
            _ => 1.0,
        }
    }

    /// Sum of [`Truth::expected`] over every name of `kind`.
    pub fn total(&self, kind: Kind) -> f64 {
        (0..self.names).filter_map(|i| self.expected(kind, i)).sum()
    }

    /// Names of `kind` that were sent at least once.
    pub fn names_sent(&self, kind: Kind) -> u64 {
        (0..self.names)
            .filter(|&i| self.expected(kind, i).is_some())
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: Kind, name: u32, value: i64, delta: bool) -> Event {
        Event {
            kind,
            name,
            value,
            delta,
        }
    }

    #[test]
    fn sums_counters_and_scales_sampled() {
        let mut truth = Truth::new(3, 0.1);
        truth.record(&ev(Kind::Counter, 0, 2, false));
        truth.record(&ev(Kind::Counter, 0, 3, false));
        truth.record(&ev(Kind::Sampled, 1, 1, false));
        truth.record(&ev(Kind::Sampled, 1, 1, false));
        assert_eq!(truth.expected(Kind::Counter, 0), Some(5.0));
        assert_eq!(truth.expected(Kind::Counter, 1), None);
        assert_eq!(truth.expected(Kind::Sampled, 1), Some(20.0));
        assert_eq!(truth.total(Kind::Counter), 5.0);
        assert_eq!(truth.lines(Kind::Sampled), 2);
        assert_eq!(truth.total_lines(), 4);
    }

    #[test]
    fn gauge_keeps_last_value_and_applies_deltas_from_zero() {
        let mut truth = Truth::new(2, 1.0);
        truth.record(&ev(Kind::Gauge, 0, -4, true));
        assert_eq!(truth.expected(Kind::Gauge, 0), Some(-4.0));
        truth.record(&ev(Kind::Gauge, 0, 40, false));
        truth.record(&ev(Kind::Gauge, 0, 2, true));
        assert_eq!(truth.expected(Kind::Gauge, 0), Some(42.0));
        truth.record(&ev(Kind::Gauge, 1, 0, false));
        assert_eq!(truth.expected(Kind::Gauge, 1), Some(0.0));
    }

    #[test]
    fn set_counts_distinct_members_per_name() {
        let mut truth = Truth::new(2, 1.0);
        for (name, member) in [(0, 5), (0, 5), (0, 6), (1, 5)] {
            truth.record(&ev(Kind::Set, name, member, false));
        }
        assert_eq!(truth.expected(Kind::Set, 0), Some(2.0));
        assert_eq!(truth.expected(Kind::Set, 1), Some(1.0));
        assert_eq!(truth.names_sent(Kind::Set), 2);
    }

    #[test]
    fn timers_count_samples() {
        let mut truth = Truth::new(1, 1.0);
        truth.record(&ev(Kind::Timer, 0, 123, false));
        truth.record(&ev(Kind::Timer, 0, 0, false));
        assert_eq!(truth.expected(Kind::Timer, 0), Some(2.0));
    }

    #[test]
    fn ignores_names_out_of_range() {
        let mut truth = Truth::new(1, 1.0);
        truth.record(&ev(Kind::Counter, 1, 1, false));
        assert_eq!(truth.total_lines(), 0);
        assert_eq!(truth.expected(Kind::Counter, 1), None);
    }
}
