//! A mergeable histogram with log-linear buckets, for timers too busy to
//! keep every value.
//!
//! A bucket is named by the top bits of the value's IEEE-754 encoding: the
//! exponent plus the first [`SUB_BITS`] bits of the mantissa. Each power of
//! two is therefore cut into 128 equal-width buckets, computing a bucket is
//! a shift (no logarithm), and two sketches merge by adding counts, exactly,
//! whatever threads or processes filled them.
//!
//! Reported quantiles are bucket midpoints, so the relative error of any
//! quantile is at most half a bucket's width over its lower bound:
//! 2^-(SUB_BITS+1) = 1/256, about **0.39%**. Count, sum, sum of squares,
//! minimum and maximum are tracked exactly beside the buckets.

use std::collections::BTreeMap;

/// Mantissa bits kept in a bucket index.
pub const SUB_BITS: u32 = 7;
const SHIFT: u32 = 52 - SUB_BITS;

/// The largest relative error of a value read back from a bucket.
pub const RELATIVE_ERROR: f64 = 1.0 / (1u64 << (SUB_BITS + 1)) as f64;

/// Weighted log-linear histogram. See the module documentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    /// Bucket index of |value| -> weight, for positive and negative values.
    pub(crate) positive: BTreeMap<u32, f64>,
    pub(crate) negative: BTreeMap<u32, f64>,
    pub(crate) zero: f64,
    pub(crate) weight: f64,
    pub(crate) sum: f64,
    pub(crate) sum_squares: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

fn bucket(magnitude: f64) -> u32 {
    (magnitude.to_bits() >> SHIFT) as u32
}

/// The midpoint of a bucket: the value reported for everything in it.
fn midpoint(index: u32) -> f64 {
    let low = f64::from_bits(u64::from(index) << SHIFT);
    let high = f64::from_bits(u64::from(index + 1) << SHIFT);
    low + (high - low) / 2.0
}

impl Sketch {
    /// Records `value` (finite) with `weight` (positive).
    pub fn record(&mut self, value: f64, weight: f64) {
        if self.weight == 0.0 {
            self.min = value;
            self.max = value;
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.weight += weight;
        self.sum += value * weight;
        self.sum_squares += value * value * weight;
        if value > 0.0 {
            *self.positive.entry(bucket(value)).or_default() += weight;
        } else if value < 0.0 {
            *self.negative.entry(bucket(-value)).or_default() += weight;
        } else {
            self.zero += weight;
        }
    }

    /// Adds every recording of `other` to `self`.
    pub fn merge(&mut self, other: &Sketch) {
        if other.weight == 0.0 {
            return;
        }
        if self.weight == 0.0 {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
        self.weight += other.weight;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        self.zero += other.zero;
        for (map, theirs) in [
            (&mut self.positive, &other.positive),
            (&mut self.negative, &other.negative),
        ] {
            for (&index, &weight) in theirs {
                *map.entry(index).or_default() += weight;
            }
        }
    }

    pub fn weight(&self) -> f64 {
        self.weight
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn sum_squares(&self) -> f64 {
        self.sum_squares
    }

    pub fn min(&self) -> f64 {
        self.min
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// Bucket midpoints and weights in ascending value order, clamped to the
    /// exact minimum and maximum so no reported statistic leaves the range
    /// actually seen.
    pub fn weighted_values(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let negative = self.negative.iter().rev().map(|(&i, &w)| (-midpoint(i), w));
        let zero = (self.zero > 0.0).then_some((0.0, self.zero));
        let positive = self.positive.iter().map(|(&i, &w)| (midpoint(i), w));
        negative
            .chain(zero)
            .chain(positive)
            .map(|(v, w)| (v.clamp(self.min, self.max), w))
    }

    /// Number of buckets in use (memory grows with this, not with values).
    pub fn buckets(&self) -> usize {
        self.positive.len() + self.negative.len() + usize::from(self.zero > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{Sketch, RELATIVE_ERROR};

    #[test]
    fn tracks_exact_moments() {
        let mut s = Sketch::default();
        for v in [3.0, 1.0, 2.0] {
            s.record(v, 1.0);
        }
        assert_eq!(
            (s.weight(), s.sum(), s.sum_squares(), s.min(), s.max()),
            (3.0, 6.0, 14.0, 1.0, 3.0)
        );
    }

    #[test]
    fn midpoints_stay_within_the_documented_error() {
        let mut s = Sketch::default();
        let values: Vec<f64> = (1..=20_000).map(|i| f64::from(i) * 0.37).collect();
        for &v in &values {
            s.record(v, 1.0);
        }
        let mut rank = 0usize;
        for (mid, weight) in s.weighted_values() {
            for _ in 0..weight as usize {
                let exact = values[rank];
                assert!(
                    (mid - exact).abs() <= exact * RELATIVE_ERROR * 1.0001,
                    "{mid} vs {exact}"
                );
                rank += 1;
            }
        }
        assert_eq!(rank, values.len());
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (Sketch::default(), Sketch::default(), Sketch::default());
        for i in 0..1000 {
            let v = f64::from(i) - 300.5;
            if i % 2 == 0 {
                a.record(v, 1.0)
            } else {
                b.record(v, 2.0)
            }
            all.record(v, if i % 2 == 0 { 1.0 } else { 2.0 });
        }
        a.merge(&b);
        assert_eq!(
            a.weighted_values().collect::<Vec<_>>(),
            all.weighted_values().collect::<Vec<_>>()
        );
        assert_eq!(
            (a.weight(), a.min(), a.max()),
            (all.weight(), all.min(), all.max())
        );
    }

    #[test]
    fn orders_negative_zero_and_positive_values() {
        let mut s = Sketch::default();
        for v in [5.0, -5.0, 0.0, -1.0, 1.0] {
            s.record(v, 1.0);
        }
        let order: Vec<f64> = s
            .weighted_values()
            .map(|(v, _)| v.signum() * v.abs().round())
            .collect();
        assert_eq!(order, [-5.0, -1.0, 0.0, 1.0, 5.0]);
    }
}
