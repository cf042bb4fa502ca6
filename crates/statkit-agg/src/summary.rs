//! The statistics a flush reports for a timer.
//!
//! Unweighted exact values follow etsy statsd 0.9's `process_metrics`
//! operation for operation (same sort, same cumulative sums, same rounding),
//! so every number matches etsy's to the last bit. Weighted values (the
//! `weighted` sample-rate mode) and sketched series go through one weighted
//! algorithm that equals etsy's whenever every weight is 1.

use crate::timer::TimerValues;
use crate::totals::Cumulative;

/// One configured percent threshold (`percentThreshold` in etsy).
#[derive(Clone, Debug, PartialEq)]
pub struct Percentile {
    pct: f64,
    label: String,
}

/// A `percentThreshold` value outside (-100, 0) and (0, 100].
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("percent threshold {0} is not in [-100, 0) or (0, 100]")]
pub struct InvalidPercentile(pub f64);

impl Percentile {
    /// A threshold; negative values mean "the top N%" as in etsy.
    pub fn new(pct: f64) -> Result<Self, InvalidPercentile> {
        if !pct.is_finite() || pct == 0.0 || pct.abs() > 100.0 {
            return Err(InvalidPercentile(pct));
        }
        // etsy: ('' + pct).replace('.', '_').replace('-', 'top')
        let label = statkit_wire::jsnum::to_string(pct)
            .replacen('.', "_", 1)
            .replacen('-', "top", 1);
        Ok(Self { pct, label })
    }

    pub fn pct(&self) -> f64 {
        self.pct
    }

    /// The suffix of the threshold's statistics: `90`, `99_9`, `top10`.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// One bin bound of an etsy `histogram` setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bin {
    /// Counts values below this bound (and above the previous one).
    Below(f64),
    /// Counts every value left.
    Infinity,
}

impl Bin {
    /// etsy's bin name: `bin_` + the bound with its first `.` as `_`.
    pub fn label(&self) -> String {
        match self {
            Self::Below(bound) => format!(
                "bin_{}",
                statkit_wire::jsnum::to_string(*bound).replacen('.', "_", 1)
            ),
            Self::Infinity => "bin_inf".to_owned(),
        }
    }
}

/// Statistics of one percent threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// Index of the [`Percentile`] in the configured list.
    pub percentile: usize,
    /// `count_N`: how many values the threshold covers.
    pub count: f64,
    /// `mean_N`
    pub mean: f64,
    /// `upper_N` for a positive threshold, `lower_N` for a negative one.
    pub bound: f64,
    /// `sum_N`
    pub sum: f64,
    /// `sum_squares_N`
    pub sum_squares: f64,
}

/// Statistics of a timer that received values this interval.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerStats {
    pub thresholds: Vec<Threshold>,
    pub std: f64,
    pub upper: f64,
    pub lower: f64,
    pub sum: f64,
    pub sum_squares: f64,
    pub mean: f64,
    pub median: f64,
    /// `(bin label, count)` when the timer matches a histogram setting.
    pub histogram: Vec<(String, f64)>,
    /// Whether the values came from a sketch (quantile-based statistics are
    /// then within [`crate::sketch::RELATIVE_ERROR`]).
    pub sketched: bool,
}

/// What a flush reports for one timer series.
#[derive(Clone, Debug, PartialEq)]
pub struct TimerSummary {
    /// etsy's `count`: values received, each divided by its sample rate.
    pub count: f64,
    /// `count` per second of flush interval.
    pub count_ps: f64,
    /// `None` for a series kept from an earlier interval that got no value.
    pub stats: Option<TimerStats>,
    /// For each configured bucket bound (`Options::buckets`), how many of
    /// the interval's values were at most that bound, counted as `count`
    /// counts them (so with every value under the last bound, the last
    /// entry equals `count`): what a Prometheus histogram adds per flush.
    /// Empty when no bounds are configured or no value arrived.
    pub buckets: Vec<f64>,
    /// Since the series was first seen: what Prometheus-shaped outputs
    /// export. Filled in by the aggregator's flush.
    pub cumulative: Cumulative,
}

/// Summarizes `timer` (sorting its values in place).
pub fn summarize(
    timer: &mut TimerValues,
    percentiles: &[Percentile],
    bins: &[Bin],
    interval_ms: f64,
) -> TimerSummary {
    let count = timer.count();
    let count_ps = count / (interval_ms / 1000.0);
    let stats = if timer.is_empty() {
        None
    } else if let Some(sketch) = timer.sketch() {
        let pairs: Vec<(f64, f64)> = sketch.weighted_values().collect();
        let mut stats = weighted(&pairs, percentiles, bins);
        let weight = sketch.weight();
        stats.lower = sketch.min();
        stats.upper = sketch.max();
        stats.sum = sketch.sum();
        stats.sum_squares = sketch.sum_squares();
        stats.mean = stats.sum / weight;
        stats.std = (stats.sum_squares / weight - stats.mean * stats.mean)
            .max(0.0)
            .sqrt();
        stats.sketched = true;
        Some(stats)
    } else {
        timer.sort();
        Some(if timer.weights().is_empty() {
            etsy(timer.values(), percentiles, bins)
        } else {
            let pairs: Vec<(f64, f64)> = timer
                .values()
                .iter()
                .copied()
                .zip(timer.weights().iter().copied())
                .collect();
            weighted(&pairs, percentiles, bins)
        })
    };
    TimerSummary {
        count,
        count_ps,
        stats,
        buckets: Vec::new(),
        cumulative: Cumulative::default(),
    }
}

/// Fills `summary.buckets` for the bounds given (ascending) from `timer`'s
/// values, which [`summarize`] has sorted. A sketched timer counts its
/// buckets' midpoints, so a value near a bound may land on either side.
pub fn fill_buckets(summary: &mut TimerSummary, timer: &TimerValues, bounds: &[f64]) {
    if bounds.is_empty() || timer.is_empty() {
        return;
    }
    summary.buckets = match timer.sketch() {
        Some(sketch) => buckets(sketch.weighted_values(), bounds, summary.count),
        None if timer.weights().is_empty() => buckets(
            timer.values().iter().map(|&v| (v, 1.0)),
            bounds,
            summary.count,
        ),
        None => buckets(
            timer
                .values()
                .iter()
                .copied()
                .zip(timer.weights().iter().copied()),
            bounds,
            summary.count,
        ),
    };
}

/// Cumulative weight at most each bound, scaled from the pairs' total
/// weight to `count` (etsy's count divides by the sample rate even when
/// the values are not weighted).
fn buckets(pairs: impl Iterator<Item = (f64, f64)>, bounds: &[f64], count: f64) -> Vec<f64> {
    let mut pairs = pairs.peekable();
    let mut taken = 0.0;
    let mut out: Vec<f64> = bounds
        .iter()
        .map(|&bound| {
            while let Some(&(v, w)) = pairs.peek() {
                if v > bound {
                    break;
                }
                taken += w;
                pairs.next();
            }
            taken
        })
        .collect();
    let total = taken + pairs.map(|(_, w)| w).sum::<f64>();
    if total > 0.0 {
        out.iter_mut().for_each(|b| *b = *b / total * count);
    }
    out
}

/// JavaScript's `Math.round` for the non-negative values used here.
fn js_round(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// etsy 0.9's `process_metrics` for sorted, unweighted values.
fn etsy(values: &[f64], percentiles: &[Percentile], bins: &[Bin]) -> TimerStats {
    // The cumulative sums are scratch space: reused across the thousands of
    // timers a flush summarizes instead of allocated for each.
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<f64>, Vec<f64>)> = const {
            std::cell::RefCell::new((Vec::new(), Vec::new()))
        };
    }
    SCRATCH.with(|scratch| {
        let (cumulative, cumulative_squares) = &mut *scratch.borrow_mut();
        etsy_with(values, percentiles, bins, cumulative, cumulative_squares)
    })
}

fn etsy_with(
    values: &[f64],
    percentiles: &[Percentile],
    bins: &[Bin],
    cumulative: &mut Vec<f64>,
    cumulative_squares: &mut Vec<f64>,
) -> TimerStats {
    let count = values.len();
    let (min, max) = (values[0], values[count - 1]);
    cumulative.clear();
    cumulative_squares.clear();
    cumulative.push(min);
    cumulative_squares.push(min * min);
    for i in 1..count {
        cumulative.push(values[i] + cumulative[i - 1]);
        cumulative_squares.push(values[i] * values[i] + cumulative_squares[i - 1]);
    }
    let (mut sum, mut sum_squares, mut mean, mut bound) = (min, min * min, min, max);
    let mut thresholds = Vec::with_capacity(percentiles.len());
    for (index, percentile) in percentiles.iter().enumerate() {
        let pct = percentile.pct();
        let mut in_threshold = count as f64;
        if count > 1 {
            in_threshold = js_round(pct.abs() / 100.0 * count as f64);
            if in_threshold == 0.0 {
                continue;
            }
            let n = in_threshold as usize;
            if pct > 0.0 {
                bound = values[n - 1];
                sum = cumulative[n - 1];
                sum_squares = cumulative_squares[n - 1];
            } else {
                bound = values[count - n];
                // etsy reads cumulative[-1] (undefined, so NaN) when the
                // threshold covers every value; the statistic is then NaN.
                let before = |c: &[f64]| {
                    if n < count {
                        c[count - n - 1]
                    } else {
                        f64::NAN
                    }
                };
                sum = cumulative[count - 1] - before(cumulative);
                sum_squares = cumulative_squares[count - 1] - before(cumulative_squares);
            }
            mean = sum / in_threshold;
        }
        thresholds.push(Threshold {
            percentile: index,
            count: in_threshold,
            mean,
            bound,
            sum,
            sum_squares,
        });
    }
    let sum = cumulative[count - 1];
    let sum_squares = cumulative_squares[count - 1];
    let mean = sum / count as f64;
    let sum_of_diffs: f64 = values
        .iter()
        .fold(0.0, |acc, v| acc + (v - mean) * (v - mean));
    let mid = count / 2;
    let median = if count % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    };
    TimerStats {
        thresholds,
        std: (sum_of_diffs / count as f64).sqrt(),
        upper: max,
        lower: min,
        sum,
        sum_squares,
        mean,
        median,
        histogram: histogram(values.iter().map(|&v| (v, 1.0)), bins),
        sketched: false,
    }
}

/// Statistics of sorted `(value, weight)` pairs, a value of weight `w`
/// counting as `w` values.
fn weighted(pairs: &[(f64, f64)], percentiles: &[Percentile], bins: &[Bin]) -> TimerStats {
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let sum: f64 = pairs.iter().map(|(v, w)| v * w).sum();
    let sum_squares: f64 = pairs.iter().map(|(v, w)| v * v * w).sum();
    let mean = sum / total;
    let spread: f64 = pairs.iter().map(|(v, w)| w * (v - mean) * (v - mean)).sum();
    let thresholds = percentiles
        .iter()
        .enumerate()
        .filter_map(|(index, p)| {
            // etsy reports a lone value under every threshold; a total
            // weight of at most one is that case.
            let n = if total <= 1.0 {
                total
            } else {
                js_round(p.pct().abs() / 100.0 * total)
            };
            if n == 0.0 {
                return None;
            }
            let (bound, sum, sum_squares) = if p.pct() > 0.0 {
                take_weight(pairs.iter(), n)
            } else {
                take_weight(pairs.iter().rev(), n)
            };
            Some(Threshold {
                percentile: index,
                count: n,
                mean: sum / n,
                bound,
                sum,
                sum_squares,
            })
        })
        .collect();
    TimerStats {
        thresholds,
        std: (spread / total).sqrt(),
        upper: pairs[pairs.len() - 1].0,
        lower: pairs[0].0,
        sum,
        sum_squares,
        mean,
        median: weighted_median(pairs, total),
        histogram: histogram(pairs.iter().copied(), bins),
        sketched: false,
    }
}

/// Walks values until `n` weight is taken; returns the last value touched
/// and the weighted sum and sum of squares of what was taken.
fn take_weight<'p>(pairs: impl Iterator<Item = &'p (f64, f64)>, n: f64) -> (f64, f64, f64) {
    let (mut taken, mut bound, mut sum, mut sum_squares) = (0.0, f64::NAN, 0.0, 0.0);
    for &(v, w) in pairs {
        let part = w.min(n - taken);
        taken += part;
        bound = v;
        sum += v * part;
        sum_squares += v * v * part;
        if n - taken <= n * 1e-12 {
            break;
        }
    }
    (bound, sum, sum_squares)
}

/// The value where the cumulative weight reaches half the total; the mean
/// of two neighbours when half falls exactly between them (as etsy's median
/// of an even count).
fn weighted_median(pairs: &[(f64, f64)], total: f64) -> f64 {
    let half = total / 2.0;
    let mut cumulative = 0.0;
    for (i, &(v, w)) in pairs.iter().enumerate() {
        cumulative += w;
        if cumulative >= half {
            return match pairs.get(i + 1) {
                Some(&(next, _)) if cumulative == half => (v + next) / 2.0,
                _ => v,
            };
        }
    }
    pairs[pairs.len() - 1].0
}

/// etsy's histogram: each bin counts the sorted values below its bound that
/// earlier bins did not take; values above the last bound are not counted.
fn histogram(pairs: impl Iterator<Item = (f64, f64)>, bins: &[Bin]) -> Vec<(String, f64)> {
    let mut pairs = pairs.peekable();
    bins.iter()
        .map(|bin| {
            let mut frequency = 0.0;
            while let Some(&(v, w)) = pairs.peek() {
                if matches!(bin, Bin::Below(bound) if v >= *bound) {
                    break;
                }
                frequency += w;
                pairs.next();
            }
            (bin.label(), frequency)
        })
        .collect()
}

#[cfg(test)]
mod tests;
