//! A bounded ring of timestamped rows of a fixed width: one series'
//! history at one resolution.
//!
//! Values are kept as `f32`: history feeds charts and trends, where seven
//! significant digits are plenty, and halving the row lets a series keep
//! twice the span in the same byte budget. Exact last values live in the
//! series itself.

use std::collections::VecDeque;

/// Rows of `width` values, at most `capacity` of them; the oldest row goes
/// first when a new one does not fit.
#[derive(Clone, Debug, PartialEq)]
pub struct Ring {
    width: usize,
    capacity: usize,
    times: VecDeque<u32>,
    values: VecDeque<f32>,
}

impl Ring {
    /// An empty ring; it grows as rows arrive, so a series that lives a
    /// minute costs a minute's worth of memory.
    pub fn new(width: usize, capacity: usize) -> Self {
        Self {
            width,
            capacity,
            times: VecDeque::new(),
            values: VecDeque::new(),
        }
    }

    /// Bytes one row takes: the time and its values.
    pub fn row_bytes(width: usize) -> usize {
        std::mem::size_of::<u32>() + width * std::mem::size_of::<f32>()
    }

    /// Appends a row (`row.len()` must be the width; extra values are
    /// ignored, missing ones are NaN), dropping the oldest when full. A
    /// row older than the newest is dropped: history only moves forward.
    pub fn push(&mut self, time: u32, row: &[f64]) {
        if self.capacity == 0 || self.times.back().is_some_and(|&last| time < last) {
            return;
        }
        if self.times.len() == self.capacity {
            self.times.pop_front();
            self.values.drain(..self.width);
        }
        self.times.push_back(time);
        self.values
            .extend((0..self.width).map(|i| row.get(i).copied().unwrap_or(f64::NAN) as f32));
    }

    /// Rows at or after `since`, oldest first, as `(time, values)`.
    pub fn since(&self, since: u32) -> impl Iterator<Item = (u32, Vec<f32>)> + '_ {
        let start = self.times.partition_point(|&t| t < since);
        (start..self.times.len()).map(move |i| {
            let values = (0..self.width)
                .map(|j| self.values[i * self.width + j])
                .collect();
            (self.times[i], values)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Ring;

    #[test]
    fn keeps_the_newest_rows() {
        let mut ring = Ring::new(2, 3);
        for t in 0..5u32 {
            ring.push(t, &[f64::from(t), 10.0 * f64::from(t)]);
        }
        let rows: Vec<_> = ring.since(0).collect();
        assert_eq!(
            rows,
            vec![
                (2, vec![2.0, 20.0]),
                (3, vec![3.0, 30.0]),
                (4, vec![4.0, 40.0])
            ]
        );
        assert_eq!(ring.since(4).count(), 1);
    }

    #[test]
    fn refuses_rows_from_the_past_and_a_zero_capacity() {
        let mut ring = Ring::new(1, 3);
        ring.push(10, &[1.0]);
        ring.push(5, &[2.0]);
        assert_eq!(ring.times.len(), 1);
        let mut none = Ring::new(1, 0);
        none.push(1, &[1.0]);
        assert!(none.times.is_empty());
    }

    proptest! {
        #[test]
        fn never_holds_more_than_its_capacity(
            width in 1usize..6,
            capacity in 0usize..20,
            steps in proptest::collection::vec(0u32..5, 0..100),
        ) {
            let mut ring = Ring::new(width, capacity);
            let mut t = 0;
            for step in steps {
                t += step;
                ring.push(t, &[1.0; 6]);
                prop_assert!(ring.times.len() <= capacity);
                prop_assert_eq!(ring.values.len(), ring.times.len() * width);
            }
            let times: Vec<u32> = ring.since(0).map(|(t, _)| t).collect();
            prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
