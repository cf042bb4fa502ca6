//! Timer values collected over one flush interval.
//!
//! Values are kept exactly, as etsy statsd keeps them, until a series holds
//! more than its configured limit in one interval; then they move into a
//! [`Sketch`] and the series is reported from buckets. The switch is counted
//! by the caller, never silent.

use crate::sketch::Sketch;

/// How sample rates weigh timer values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SampleWeighting {
    /// etsy statsd: a value sent with `@0.1` adds 10 to the timer's `count`
    /// but weighs one value in every other statistic and percentile.
    #[default]
    Etsy,
    /// A value sent with `@0.1` stands for ten values in every statistic:
    /// sum, mean, standard deviation, median and percentiles alike.
    Weighted,
}

/// One timer series' values for the current interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TimerValues {
    /// Exact values in arrival order (empty once sketched).
    pub(crate) values: Vec<f64>,
    /// Per-value weights, parallel to `values`; empty while every weight is 1
    /// (always empty in etsy mode, where weights only touch `count`).
    pub(crate) weights: Vec<f64>,
    /// Sum of `1 / sample_rate` over every value: etsy's `timer_counters`.
    pub(crate) count: f64,
    /// Present once the series outgrew its exact limit.
    pub(crate) sketch: Option<Box<Sketch>>,
}

impl TimerValues {
    /// Adds one value.
    pub fn record(
        &mut self,
        value: f64,
        sample_rate: f64,
        weighting: SampleWeighting,
        exact_limit: usize,
    ) {
        let weight = 1.0 / sample_rate;
        self.count += weight;
        let weight = match weighting {
            SampleWeighting::Etsy => 1.0,
            SampleWeighting::Weighted => weight,
        };
        if let Some(sketch) = &mut self.sketch {
            sketch.record(value, weight);
            return;
        }
        if weight != 1.0 || !self.weights.is_empty() {
            // Values so far all weighed 1; give them explicit weights.
            self.weights.resize(self.values.len(), 1.0);
            self.weights.push(weight);
        }
        self.values.push(value);
        if self.values.len() > exact_limit {
            self.switch_to_sketch();
        }
    }

    fn switch_to_sketch(&mut self) {
        let mut sketch = Box::<Sketch>::default();
        for (i, &value) in self.values.iter().enumerate() {
            sketch.record(value, self.weights.get(i).copied().unwrap_or(1.0));
        }
        self.values = Vec::new();
        self.weights = Vec::new();
        self.sketch = Some(sketch);
    }

    /// Moves `other`'s values into `self`, leaving `other` empty.
    pub fn absorb(&mut self, other: &mut TimerValues, exact_limit: usize) {
        self.count += std::mem::take(&mut other.count);
        if self.sketch.is_none()
            && (other.sketch.is_some() || self.values.len() + other.values.len() > exact_limit)
        {
            self.switch_to_sketch();
        }
        if let Some(sketch) = &mut self.sketch {
            for (i, &value) in other.values.iter().enumerate() {
                sketch.record(value, other.weights.get(i).copied().unwrap_or(1.0));
            }
            if let Some(theirs) = &other.sketch {
                sketch.merge(theirs);
            }
        } else if self.values.is_empty() && self.weights.is_empty() {
            std::mem::swap(&mut self.values, &mut other.values);
            std::mem::swap(&mut self.weights, &mut other.weights);
        } else {
            if !other.weights.is_empty() && self.weights.is_empty() {
                self.weights.resize(self.values.len(), 1.0);
            }
            if !self.weights.is_empty() {
                let n = other.values.len();
                self.weights.extend(
                    other
                        .weights
                        .iter()
                        .copied()
                        .chain(std::iter::repeat_n(1.0, n))
                        .take(n),
                );
            }
            self.values.extend_from_slice(&other.values);
        }
        other.clear();
    }

    /// Forgets the interval's values, keeping the vector's capacity.
    pub fn clear(&mut self) {
        self.values.clear();
        self.weights.clear();
        self.count = 0.0;
        self.sketch = None;
    }

    /// etsy's `timer_counters`: the number of values, each divided by its rate.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// Whether no value arrived this interval.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.sketch.is_none()
    }

    pub fn is_sketched(&self) -> bool {
        self.sketch.is_some()
    }

    /// The exact values in arrival order (empty once sketched).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Sorts the exact values ascending (JavaScript's numeric sort order:
    /// stable, equal values keep arrival order) together with their weights.
    pub(crate) fn sort(&mut self) {
        if self.weights.is_empty() {
            self.values
                .sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
            return;
        }
        let mut pairs: Vec<(f64, f64)> = self
            .values
            .iter()
            .copied()
            .zip(self.weights.iter().copied())
            .collect();
        pairs.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        for (i, (v, w)) in pairs.into_iter().enumerate() {
            self.values[i] = v;
            self.weights[i] = w;
        }
    }

    pub(crate) fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The sketch holding the values once the series outgrew its limit.
    pub fn sketch(&self) -> Option<&Sketch> {
        self.sketch.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::{SampleWeighting, TimerValues};

    #[test]
    fn etsy_weighting_only_touches_count() {
        let mut t = TimerValues::default();
        t.record(10.0, 0.1, SampleWeighting::Etsy, 100);
        t.record(20.0, 1.0, SampleWeighting::Etsy, 100);
        assert_eq!(t.count(), 11.0);
        assert_eq!(t.values(), [10.0, 20.0]);
        assert!(t.weights().is_empty());
    }

    #[test]
    fn weighted_mode_keeps_weights_aligned() {
        let mut t = TimerValues::default();
        t.record(1.0, 1.0, SampleWeighting::Weighted, 100);
        t.record(2.0, 0.5, SampleWeighting::Weighted, 100);
        assert_eq!(t.weights(), [1.0, 2.0]);
    }

    #[test]
    fn switches_to_a_sketch_past_the_limit() {
        let mut t = TimerValues::default();
        for i in 0..4 {
            t.record(f64::from(i), 1.0, SampleWeighting::Etsy, 4);
        }
        assert!(!t.is_sketched());
        for i in 4..10 {
            t.record(f64::from(i), 1.0, SampleWeighting::Etsy, 4);
        }
        assert!(t.is_sketched());
        assert_eq!(t.sketch().unwrap().weight(), 10.0);
        assert_eq!(t.count(), 10.0);
    }

    #[test]
    fn absorb_concatenates_and_empties_the_source() {
        let (mut a, mut b) = (TimerValues::default(), TimerValues::default());
        a.record(1.0, 1.0, SampleWeighting::Weighted, 100);
        b.record(2.0, 0.5, SampleWeighting::Weighted, 100);
        b.record(3.0, 1.0, SampleWeighting::Weighted, 100);
        a.absorb(&mut b, 100);
        assert!(!a.is_sketched());
        assert_eq!(a.values(), [1.0, 2.0, 3.0]);
        assert_eq!(a.weights(), [1.0, 2.0, 1.0]);
        assert_eq!(a.count(), 4.0);
        assert!(b.is_empty());
        assert_eq!(b.count(), 0.0);
    }

    #[test]
    fn absorb_past_the_limit_sketches() {
        let (mut a, mut b) = (TimerValues::default(), TimerValues::default());
        for i in 0..3 {
            a.record(f64::from(i), 1.0, SampleWeighting::Etsy, 4);
            b.record(f64::from(i), 1.0, SampleWeighting::Etsy, 4);
        }
        a.absorb(&mut b, 4);
        assert!(a.is_sketched());
        assert_eq!(a.sketch().unwrap().weight(), 6.0);
    }
}
