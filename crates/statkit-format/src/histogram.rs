//! Fixed log-linear histogram buckets.
//!
//! Every writer uses the same buckets, so the buckets of two threads or two
//! processes add up exactly, and a percentile of the sum is as good as a
//! percentile of one writer. Values from 2^-24 (about 6e-8) up to 2^40
//! (about 1.1e12) fall into one of eight equal-width buckets per power of two;
//! smaller values (zero and negatives included) share the first bucket,
//! larger ones the last.
//!
//! A percentile is the midpoint of the bucket holding that rank, clamped to
//! the exact minimum and maximum, so for values in the bucketed range it is
//! within 1/16 = 6.25% of a value of that rank. In the first and last
//! buckets the answer is the exact minimum or maximum.

/// Sub-buckets per power of two, as a power of two.
pub const SUB_BITS: u32 = 3;
/// Sub-buckets per power of two.
pub const SUBS: usize = 1 << SUB_BITS;
/// The smallest power of two with buckets of its own.
pub const MIN_EXP: i32 = -24;
/// The first power of two past the bucketed range.
pub const MAX_EXP: i32 = 40;
/// Buckets: one below the range, `SUBS` per power of two, one above.
pub const BUCKETS: usize = 2 + (MAX_EXP - MIN_EXP) as usize * SUBS;
/// The smallest value of the bucketed range.
pub const LOW: f64 = 1.0 / (1u64 << -MIN_EXP) as f64;
/// The first value past the bucketed range.
pub const HIGH: f64 = (1u64 << MAX_EXP) as f64;
/// The bucket number's share of an f64's bits: exponent and top mantissa bits.
const SHIFT: u32 = 52 - SUB_BITS;
/// `LOW`'s bits shifted by `SHIFT`: the first in-range bucket's key.
const FIRST_KEY: u64 = ((MIN_EXP + 1023) as u64) << SUB_BITS;

/// The bucket `value` counts in (NaN counts in the first one; writers skip NaN).
#[inline]
pub fn bucket_of(value: f64) -> usize {
    if value.is_nan() || value < LOW {
        0
    } else if value >= HIGH {
        BUCKETS - 1
    } else {
        // A positive normal f64's exponent and leading mantissa bits are
        // contiguous, so they index the buckets directly.
        ((value.to_bits() >> SHIFT) - FIRST_KEY) as usize + 1
    }
}

/// The values bucket `index` holds, as `[low, high)`.
pub fn bounds(index: usize) -> (f64, f64) {
    if index == 0 {
        return (f64::NEG_INFINITY, LOW);
    }
    if index >= BUCKETS - 1 {
        return (HIGH, f64::INFINITY);
    }
    let key = FIRST_KEY + (index - 1) as u64;
    let low = f64::from_bits(key << SHIFT);
    let high = f64::from_bits((key + 1) << SHIFT);
    (low, high)
}

/// A histogram's totals: count, sum, exact extremes and bucket counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest (meaningless while `count` is 0).
    pub min: f64,
    /// The largest (meaningless while `count` is 0).
    pub max: f64,
    /// [`BUCKETS`] counts.
    pub buckets: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            buckets: vec![0; BUCKETS],
        }
    }
}

impl Histogram {
    /// Counts one value (NaN is ignored, as writers ignore it).
    pub fn record(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        self.add_extremes(value, value);
        self.count += 1;
        self.sum += value;
        self.buckets[bucket_of(value)] += 1;
    }

    /// Adds another histogram's totals, as readers do across threads and
    /// processes.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        self.add_extremes(other.min, other.max);
        self.count = self.count.wrapping_add(other.count);
        self.sum += other.sum;
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine = mine.wrapping_add(*theirs);
        }
    }

    fn add_extremes(&mut self, min: f64, max: f64) {
        if self.count == 0 {
            self.min = min;
            self.max = max;
        } else {
            self.min = self.min.min(min);
            self.max = self.max.max(max);
        }
    }

    /// statvent's percentile stat from the buckets: the maximum for 100,
    /// else [`Histogram::quantile`] of `percent / 100`; 0.0 when empty (as
    /// statvent writes an empty record).
    pub fn pick(&self, percent: u32) -> f64 {
        match percent {
            _ if self.count == 0 => 0.0,
            100.. => self.max,
            p => self.quantile(f64::from(p) / 100.0).unwrap_or(0.0),
        }
    }

    /// The mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The value of rank `ceil(q * count)` (q in 0..=1), within the error the
    /// module documents; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (index, &n) in self.buckets.iter().enumerate() {
            seen = seen.saturating_add(n);
            if seen >= rank {
                return Some(self.estimate(index));
            }
        }
        // Bucket counts fell short of `count` (a file edited by hand).
        Some(self.max)
    }

    fn estimate(&self, index: usize) -> f64 {
        if index == 0 {
            return self.min;
        }
        if index == BUCKETS - 1 {
            return self.max;
        }
        let (low, high) = bounds(index);
        // max/min rather than clamp: a damaged file may hold min > max.
        (low + (high - low) / 2.0).max(self.min).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_cover_the_range_without_gaps() {
        assert_eq!(bounds(1).0, LOW);
        assert_eq!(bounds(BUCKETS - 2).1, HIGH);
        for index in 1..BUCKETS - 2 {
            assert_eq!(
                bounds(index).1,
                bounds(index + 1).0,
                "gap after bucket {index}"
            );
        }
    }

    #[test]
    fn edges_land_in_the_outer_buckets() {
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(LOW), 1);
        assert_eq!(bucket_of(HIGH), BUCKETS - 1);
        assert_eq!(bucket_of(f64::INFINITY), BUCKETS - 1);
    }

    proptest! {
        #[test]
        fn a_value_lies_in_its_bucket(value in LOW..HIGH) {
            let (low, high) = bounds(bucket_of(value));
            prop_assert!(low <= value && value < high);
        }

        #[test]
        fn quantiles_are_within_the_documented_error(
            values in proptest::collection::vec(LOW..HIGH, 1..200),
            q in 0.0f64..=1.0,
        ) {
            let mut histogram = Histogram::default();
            values.iter().for_each(|&v| histogram.record(v));
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            let exact = sorted[rank - 1];
            let estimate = histogram.quantile(q).unwrap();
            prop_assert!((estimate - exact).abs() <= exact / 16.0, "{estimate} vs {exact}");
        }

        #[test]
        fn merging_equals_recording_everything(
            a in proptest::collection::vec(-1.0e13f64..1.0e13, 0..50),
            b in proptest::collection::vec(-1.0e13f64..1.0e13, 0..50),
        ) {
            let (mut left, mut right, mut all) = (Histogram::default(), Histogram::default(), Histogram::default());
            a.iter().for_each(|&v| { left.record(v); all.record(v) });
            b.iter().for_each(|&v| { right.record(v); all.record(v) });
            left.merge(&right);
            prop_assert_eq!(&left.buckets, &all.buckets);
            prop_assert_eq!(left.count, all.count);
            prop_assert_eq!(left.min, all.min);
            prop_assert_eq!(left.max, all.max);
        }
    }
}
