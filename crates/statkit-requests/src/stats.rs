//! Durations by time: per-bucket moments for the mean and deviation, and
//! per-second counts for rates. Both forget by time, whenever they are
//! read or written.

use std::collections::VecDeque;

/// Count, mean and sum of squared deviations of a set of values, merged
/// with Chan et al.'s formula so that buckets combine without losing
/// precision the way a plain sum of squares would.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Moments {
    pub count: f64,
    pub mean: f64,
    pub m2: f64,
    /// The plain sum in arrival order: the reported mean is `sum / count`,
    /// as gstats computed it, to the last digit.
    pub sum: f64,
}

impl Moments {
    pub fn of_values(values: &[f64]) -> Self {
        let mut m = Moments::default();
        for &v in values {
            m.count += 1.0;
            let delta = v - m.mean;
            m.mean += delta / m.count;
            m.m2 += delta * (v - m.mean);
            m.sum += v;
        }
        m
    }

    pub fn of_sums(count: f64, sum: f64, sum_squares: f64) -> Self {
        if count <= 0.0 {
            return Moments::default();
        }
        let mean = sum / count;
        Moments {
            count,
            mean,
            m2: (sum_squares - sum * mean).max(0.0),
            sum,
        }
    }

    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0.0 {
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * other.count / count;
        self.m2 += other.m2 + delta * delta * self.count * other.count / count;
        self.count = count;
        self.sum += other.sum;
    }

    /// The mean and population standard deviation; zeros when empty, as
    /// gstats reports a prefix with no durations.
    pub fn mean_std(&self) -> (f64, f64) {
        if self.count == 0.0 {
            return (0.0, 0.0);
        }
        (
            self.sum / self.count,
            (self.m2 / self.count).max(0.0).sqrt(),
        )
    }
}

/// Moments of the durations that finished in the last `length` seconds,
/// in buckets of `width` seconds (at most about 600 buckets, whatever the
/// length).
#[derive(Clone, Debug)]
pub(crate) struct Window {
    length: u64,
    width: u64,
    /// `(first second of the bucket, moments)`, oldest first.
    buckets: VecDeque<(u64, Moments)>,
}

/// Buckets a window is cut into at most (plus the one being filled).
const WINDOW_BUCKETS: u64 = 600;

impl Window {
    pub fn new(length: u64) -> Self {
        Window {
            length,
            width: length.div_ceil(WINDOW_BUCKETS).max(1),
            buckets: VecDeque::new(),
        }
    }

    pub fn add(&mut self, now: u64, moments: &Moments) {
        self.expire(now);
        let start = now - now % self.width;
        match self.buckets.back_mut() {
            Some((s, m)) if *s == start => m.merge(moments),
            _ => self.buckets.push_back((start, *moments)),
        }
    }

    /// Drops buckets whose every second is older than `now - length`
    /// (gstats keeps a sample while its second is not older than that).
    pub fn expire(&mut self, now: u64) {
        let oldest = now.saturating_sub(self.length);
        while let Some((start, _)) = self.buckets.front() {
            if start + self.width > oldest {
                break;
            }
            self.buckets.pop_front();
        }
    }

    pub fn total(&self) -> Moments {
        let mut total = Moments::default();
        for (_, m) in &self.buckets {
            total.merge(m);
        }
        total
    }
}

/// Requests finished per second over the last 15 minutes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rates {
    /// `(second, requests)`, oldest first, at most [`RATE_HORIZON`] entries.
    seconds: VecDeque<(u64, f64)>,
}

/// The longest rate window, in seconds.
const RATE_HORIZON: u64 = 900;
/// The rate windows reported, in seconds.
pub(crate) const RATE_WINDOWS: [u64; 3] = [60, 300, 900];

impl Rates {
    pub fn add(&mut self, now: u64, count: f64) {
        self.expire(now);
        match self.seconds.back_mut() {
            Some((s, c)) if *s == now => *c += count,
            _ => self.seconds.push_back((now, count)),
        }
    }

    pub fn expire(&mut self, now: u64) {
        while let Some((s, _)) = self.seconds.front() {
            if *s + RATE_HORIZON > now {
                break;
            }
            self.seconds.pop_front();
        }
    }

    /// Requests per second over each of [`RATE_WINDOWS`]: those finished in
    /// the window over its length, or over the time since `since` when the
    /// view is younger than the window (at least one second).
    pub fn per_second(&self, now: u64, since: u64) -> [f64; 3] {
        RATE_WINDOWS.map(|window| {
            // A fold from +0.0: an empty f64 sum is -0.0.
            let sum = self
                .seconds
                .iter()
                .filter(|(s, _)| s + window > now)
                .fold(0.0, |sum, (_, c)| sum + c);
            let span = window.min(now.saturating_sub(since) + 1).max(1);
            sum / span as f64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(values: &[f64]) -> (f64, f64) {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn gstats_sample_values() {
        let m = Moments::of_values(&[10.222196579, 20.1909542084, 30.2398204803]);
        let (mean, std) = m.mean_std();
        assert_eq!(mean, 20.21765708923333);
        assert!((std - 8.172182550023296).abs() < 1e-9);
        assert_eq!(Moments::default().mean_std(), (0.0, 0.0));
    }

    proptest! {
        #[test]
        fn merging_buckets_equals_one_pass(
            values in proptest::collection::vec(0.0f64..1e5, 1..200),
            cut in 0usize..200,
        ) {
            let cut = cut.min(values.len());
            let mut merged = Moments::of_values(&values[..cut]);
            merged.merge(&Moments::of_values(&values[cut..]));
            let (mean, std) = merged.mean_std();
            let (want_mean, want_std) = naive(&values);
            prop_assert!((mean - want_mean).abs() <= 1e-9 * want_mean.abs().max(1.0));
            prop_assert!((std - want_std).abs() <= 1e-6 * want_std.max(1.0));
        }

        #[test]
        fn sums_equal_values(values in proptest::collection::vec(0.0f64..1e4, 1..100)) {
            let sum: f64 = values.iter().sum();
            let squares: f64 = values.iter().map(|v| v * v).sum();
            let (a, b) = Moments::of_sums(values.len() as f64, sum, squares).mean_std();
            let (c, d) = naive(&values);
            prop_assert!((a - c).abs() <= 1e-9 * c.max(1.0));
            prop_assert!((b - d).abs() <= 1e-4 * d.max(1.0));
        }
    }

    #[test]
    fn window_forgets_by_time() {
        let mut w = Window::new(2);
        w.add(100, &Moments::of_values(&[10.0, 30.0]));
        assert_eq!(w.total().mean_std(), (20.0, 10.0));
        w.expire(102);
        assert_eq!(w.total().count, 2.0);
        w.expire(103);
        assert_eq!(w.total().count, 0.0);
    }

    #[test]
    fn long_windows_stay_small() {
        let mut w = Window::new(86_400);
        for t in 0..86_400 {
            w.add(t, &Moments::of_values(&[1.0]));
        }
        assert!(w.buckets.len() <= 601);
        assert_eq!(w.total().count, 86_400.0);
    }

    #[test]
    fn rates_over_windows() {
        let mut r = Rates::default();
        for t in 1000..1900 {
            r.add(t, 2.0);
        }
        assert_eq!(r.per_second(1899, 0), [2.0, 2.0, 2.0]);
        // A young view divides by its age.
        let mut young = Rates::default();
        young.add(10, 10.0);
        assert_eq!(young.per_second(10, 6), [2.0, 2.0, 2.0]);
        // Old seconds leave.
        r.expire(3000);
        assert_eq!(r.per_second(3000, 0), [0.0, 0.0, 0.0]);
        assert!(r.seconds.is_empty());
    }
}
