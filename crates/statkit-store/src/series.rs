//! One series: its latest values, its running totals (what Prometheus
//! reads), its history at two resolutions, and its load frames.

use crate::frames::{FrameSample, Frames};
use crate::kind::{Combine, Kind};
use crate::ring::Ring;

/// Seconds the flush-resolution history spans.
pub const FINE_SPAN: u32 = 3600;
/// Rows the one-minute history holds: 24 hours.
pub const COARSE_ROWS: usize = 24 * 60;

/// The resolutions history is kept at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// One row per flush, for the last hour.
    Flush,
    /// One row per minute, for the last 24 hours.
    Minute,
}

/// How many rows each ring of a series of `kind` may hold, given a byte
/// budget per series and the flush interval: the flush-resolution ring
/// wants an hour of flushes, the minute ring a day of minutes; when the
/// budget is short each gets half of it (and what the other leaves).
pub fn capacities(kind: Kind, budget: usize, interval_s: f64) -> (usize, usize) {
    let rows = budget / Ring::row_bytes(kind.fields().len());
    let fine_wanted = (f64::from(FINE_SPAN) / interval_s.max(0.001)).ceil() as usize;
    let fine = fine_wanted.min(rows.saturating_sub(COARSE_ROWS).max(rows / 2));
    let coarse = COARSE_ROWS.min(rows - fine);
    (fine, coarse)
}

/// Flushes of the current minute, folded as each field's [`Combine`] says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Minute {
    pub index: u32,
    pub acc: Vec<f64>,
    pub seen: Vec<u32>,
}

impl Minute {
    fn new(width: usize) -> Self {
        Self {
            index: 0,
            acc: vec![0.0; width],
            seen: vec![0; width],
        }
    }

    fn is_empty(&self) -> bool {
        self.seen.iter().all(|&n| n == 0)
    }

    /// The finished minute's row.
    fn row(&self, kind: Kind) -> Vec<f64> {
        kind.fields()
            .iter()
            .zip(self.acc.iter().zip(&self.seen))
            .map(|(field, (&acc, &seen))| match (seen, field.combine) {
                (0, _) => f64::NAN,
                (n, Combine::Mean) => acc / f64::from(n),
                _ => acc,
            })
            .collect()
    }

    fn add(&mut self, kind: Kind, row: &[f64]) {
        for (i, field) in kind.fields().iter().enumerate() {
            let v = row[i];
            if v.is_nan() {
                continue;
            }
            let acc = &mut self.acc[i];
            *acc = match (self.seen[i], field.combine) {
                (0, _) | (_, Combine::Last) => v,
                (_, Combine::Mean) => *acc + v,
                (_, Combine::Min) => acc.min(v),
                (_, Combine::Max) => acc.max(v),
            };
            self.seen[i] += 1;
        }
    }

    fn reset(&mut self, index: u32) {
        self.index = index;
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        self.seen.iter_mut().for_each(|n| *n = 0);
    }
}

/// Everything kept about one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    kind: Kind,
    /// Unix seconds of the newest flush that reported the series.
    pub last_time: u64,
    /// Unix seconds of the newest flush that reported activity: a counter
    /// or timer with a count, a set with members, any gauge report (etsy
    /// reports idle counters, timers and sets with zeros). A state file
    /// does not keep it: a restored series takes its `last_time`.
    pub last_active: u64,
    /// The newest flush's row, exact (see [`Kind::fields`]).
    pub last: Vec<f64>,
    /// Counters: the count since the series was first seen; timers: the
    /// values counted since then (Prometheus `_count`).
    pub total: f64,
    /// Timers: the sum of the values since first seen (Prometheus `_sum`).
    pub sum: f64,
    /// Timers: values at most each bucket bound since first seen.
    pub buckets: Vec<f64>,
    pub(crate) fine: Ring,
    pub(crate) coarse: Ring,
    pub(crate) minute: Minute,
    pub(crate) frames: Frames,
}

impl Series {
    pub(crate) fn new(kind: Kind, capacities: (usize, usize)) -> Self {
        let width = kind.fields().len();
        Self {
            kind,
            last_time: 0,
            last_active: 0,
            last: vec![f64::NAN; width],
            total: 0.0,
            sum: 0.0,
            buckets: Vec::new(),
            fine: Ring::new(width, capacities.0),
            coarse: Ring::new(width, capacities.1),
            minute: Minute::new(width),
            frames: Frames::default(),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Records one flush's row made at `time`, and its load-frame sample.
    pub(crate) fn record(&mut self, time: u64, row: &[f64], frame: Option<FrameSample>) {
        let t = u32::try_from(time).unwrap_or(u32::MAX);
        if time < self.last_time {
            return;
        }
        self.last_time = time;
        self.last.clear();
        self.last.extend_from_slice(row);
        self.fine.push(t, row);
        let index = t / 60;
        if index != self.minute.index {
            if !self.minute.is_empty() {
                self.coarse
                    .push(self.minute.index * 60, &self.minute.row(self.kind));
            }
            self.minute.reset(index);
        }
        self.minute.add(self.kind, row);
        if let Some(sample) = frame {
            self.frames.record(time, sample);
        }
    }

    /// History rows at `resolution` from `since` (Unix seconds) on.
    pub fn history(
        &self,
        resolution: Resolution,
        since: u64,
    ) -> impl Iterator<Item = (u32, Vec<f32>)> + '_ {
        let ring = match resolution {
            Resolution::Flush => &self.fine,
            Resolution::Minute => &self.coarse,
        };
        ring.since(u32::try_from(since).unwrap_or(u32::MAX))
    }

    pub fn frames(&self) -> &Frames {
        &self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities_follow_the_budget() {
        // A counter row is 8 bytes: 16 KiB holds an hour at 10 s and a day.
        assert_eq!(capacities(Kind::Counter, 16 * 1024, 10.0), (360, 1440));
        // A timer row is 28 bytes: 585 rows, short of both; half each.
        assert_eq!(capacities(Kind::Timer, 16 * 1024, 10.0), (292, 293));
        // Twice the budget: the hour whole, the rest to the day.
        assert_eq!(capacities(Kind::Timer, 32 * 1024, 10.0), (360, 810));
        // At 1 s flushes a counter's hour takes half its budget.
        assert_eq!(capacities(Kind::Counter, 16 * 1024, 1.0), (1024, 1024));
        assert_eq!(capacities(Kind::Counter, 0, 10.0), (0, 0));
    }

    #[test]
    fn minutes_fold_flushes_by_field() {
        let mut s = Series::new(Kind::Timer, (100, 100));
        // rate, lower, mean, median, upper, pct
        s.record(60, &[1.0, 5.0, 10.0, 10.0, 20.0, 18.0], None);
        s.record(70, &[3.0, 2.0, 20.0, 20.0, 40.0, 30.0], None);
        s.record(
            80,
            &[0.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN],
            None,
        );
        assert_eq!(s.history(Resolution::Minute, 0).count(), 0);
        s.record(120, &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0], None);
        let rows: Vec<_> = s.history(Resolution::Minute, 0).collect();
        assert_eq!(
            rows,
            vec![(60, vec![4.0 / 3.0, 2.0, 15.0, 15.0, 40.0, 30.0])]
        );
        assert_eq!(s.history(Resolution::Flush, 70).count(), 3);
        assert_eq!(s.last, vec![1.0; 6]);
    }

    #[test]
    fn a_gauge_minute_keeps_the_last_value() {
        let mut s = Series::new(Kind::Gauge, (10, 10));
        s.record(0, &[5.0], None);
        s.record(30, &[7.0], None);
        s.record(60, &[1.0], None);
        let rows: Vec<_> = s.history(Resolution::Minute, 0).collect();
        assert_eq!(rows, vec![(0, vec![7.0])]);
    }
}
