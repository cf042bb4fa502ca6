//! Load windows: a series' flushes folded into 60-second frames, the last
//! 15 of them kept, as gstatsd's `load` sink keeps them.
//!
//! Frames are aligned to wall-clock minutes (Unix time / 60), not to the
//! server's start as in gstatsd, so they survive a restart. Minimum and
//! maximum are true ones (gstatsd kept the last flush's maximum and never
//! stored a minimum).

use std::collections::VecDeque;

/// Seconds in a frame.
pub const FRAME_SECONDS: u64 = 60;
/// Frames kept per series: the current one and the 14 before it.
pub const FRAMES: usize = 15;

/// What one series' flushes within one minute add up to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    /// Unix time / 60 of the frame's start.
    pub index: u64,
    /// Flushes folded in (for a timer, only those with values).
    pub flushes: u32,
    /// Counters: the counts; timers: the values' sum.
    pub sum: f64,
    /// Timers: the values counted.
    pub count: f64,
    pub lower: f64,
    pub upper: f64,
    /// Timers: the sum of each flush's mean (gstatsd's `.mean` is the mean
    /// of per-flush means).
    pub mean_sum: f64,
    /// Gauges and sets: the newest value.
    pub last: f64,
}

impl Frame {
    fn new(index: u64) -> Self {
        Self {
            index,
            flushes: 0,
            sum: 0.0,
            count: 0.0,
            lower: f64::INFINITY,
            upper: f64::NEG_INFINITY,
            mean_sum: 0.0,
            last: f64::NAN,
        }
    }

    /// Adds `other`'s flushes (newer than this frame's) into this frame.
    fn absorb(&mut self, other: &Frame) {
        self.flushes += other.flushes;
        self.sum += other.sum;
        self.count += other.count;
        self.lower = self.lower.min(other.lower);
        self.upper = self.upper.max(other.upper);
        self.mean_sum += other.mean_sum;
        self.last = other.last;
    }
}

impl FrameSample {
    /// The sample as a frame of one flush.
    fn as_frame(&self, index: u64) -> Frame {
        Frame {
            index,
            flushes: 1,
            sum: self.sum,
            count: self.count,
            lower: self.lower,
            upper: self.upper,
            mean_sum: self.mean,
            last: self.last,
        }
    }
}

/// One flush's contribution to a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameSample {
    pub sum: f64,
    pub count: f64,
    pub lower: f64,
    pub upper: f64,
    pub mean: f64,
    pub last: f64,
}

/// A series' last [`FRAMES`] frames, oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frames {
    frames: VecDeque<Frame>,
}

impl Frames {
    /// Folds a flush made at `time` (Unix seconds) into its frame.
    pub fn record(&mut self, time: u64, sample: FrameSample) {
        let index = time / FRAME_SECONDS;
        match self.frames.back() {
            Some(last) if last.index > index => return,
            Some(last) if last.index == index => {}
            _ => {
                if self.frames.len() == FRAMES {
                    self.frames.pop_front();
                }
                self.frames.push_back(Frame::new(index));
            }
        }
        let Some(frame) = self.frames.back_mut() else {
            return;
        };
        frame.absorb(&sample.as_frame(frame.index));
    }

    /// Puts back a frame read from a state file (frames come oldest
    /// first; one not newer than the last is ignored).
    pub(crate) fn restore(&mut self, frame: Frame) {
        if self
            .frames
            .back()
            .is_some_and(|last| last.index >= frame.index)
        {
            return;
        }
        if self.frames.len() == FRAMES {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Frame> {
        self.frames.iter()
    }

    /// The frames whose index is in `range`, combined; `None` when none
    /// holds a flush.
    pub fn combine(&self, range: std::ops::RangeInclusive<u64>) -> Option<Frame> {
        let mut chosen = self
            .frames
            .iter()
            .filter(|f| range.contains(&f.index) && f.flushes > 0)
            .peekable();
        let first = *chosen.peek()?;
        Some(chosen.fold(Frame::new(first.index), |mut acc, f| {
            acc.absorb(f);
            acc
        }))
    }
}

/// The frames a load query covers, as an inclusive range of frame indexes,
/// at `now` (Unix seconds): the newest `n` including the current, partial
/// one, or with `full` the `n` complete frames before it (`None` in the
/// first minute of time, which has none before it).
pub fn window(now: u64, n: u64, full: bool) -> Option<std::ops::RangeInclusive<u64>> {
    let current = now / FRAME_SECONDS;
    let last = if full {
        current.checked_sub(1)?
    } else {
        current
    };
    Some(last.saturating_sub(n.saturating_sub(1))..=last)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sample(v: f64) -> FrameSample {
        FrameSample {
            sum: v,
            count: 1.0,
            lower: v,
            upper: v,
            mean: v,
            last: v,
        }
    }

    #[test]
    fn flushes_of_one_minute_share_a_frame_with_true_extremes() {
        let mut frames = Frames::default();
        // gstatsd's sample: max 50 then 5 in one frame; a negative maximum.
        frames.record(60, sample(50.0));
        frames.record(61, sample(5.0));
        frames.record(119, sample(-3.0));
        let f = frames.combine(window(119, 1, false).unwrap()).unwrap();
        assert_eq!(f.flushes, 3);
        assert_eq!(f.upper, 50.0);
        assert_eq!(f.lower, -3.0);
        assert_eq!(f.sum, 52.0);
        assert_eq!(f.last, -3.0);
    }

    #[test]
    fn full_frames_exclude_the_current_one_and_exist_when_there_are_fewer() {
        let mut frames = Frames::default();
        frames.record(60, sample(1.0));
        frames.record(120, sample(2.0));
        // At 130 the current frame is 2 (one flush); frame 1 is complete.
        assert_eq!(
            frames.combine(window(130, 1, true).unwrap()).unwrap().sum,
            1.0
        );
        // gstatsd answered nothing here; there is one full frame to give.
        assert_eq!(
            frames.combine(window(130, 15, true).unwrap()).unwrap().sum,
            1.0
        );
        assert_eq!(
            frames.combine(window(130, 2, false).unwrap()).unwrap().sum,
            3.0
        );
        // A minute later nothing arrived: the current frame is empty.
        assert_eq!(frames.combine(window(190, 1, false).unwrap()), None);
        assert_eq!(
            frames.combine(window(190, 1, true).unwrap()).unwrap().sum,
            2.0
        );
    }

    #[test]
    fn window_at_the_start_of_time_is_empty_for_full() {
        assert_eq!(window(30, 1, true), None);
        assert_eq!(window(30, 15, false), Some(0..=0));
    }

    proptest! {
        #[test]
        fn keeps_at_most_fifteen_frames_in_order(steps in proptest::collection::vec(0u64..200, 0..100)) {
            let mut frames = Frames::default();
            let mut t = 0;
            for step in steps {
                t += step;
                frames.record(t, sample(1.0));
                let indexes: Vec<u64> = frames.iter().map(|f| f.index).collect();
                prop_assert!(indexes.len() <= FRAMES);
                prop_assert!(indexes.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}
