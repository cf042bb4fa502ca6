use super::*;
use crate::sketch::RELATIVE_ERROR;
use crate::timer::{SampleWeighting, TimerValues};

fn timer(values: &[f64]) -> TimerValues {
    let mut t = TimerValues::default();
    for &v in values {
        t.record(v, 1.0, SampleWeighting::Etsy, usize::MAX);
    }
    t
}

fn pcts(list: &[f64]) -> Vec<Percentile> {
    list.iter().map(|&p| Percentile::new(p).unwrap()).collect()
}

fn stats(values: &[f64], percentiles: &[f64], bins: &[Bin]) -> TimerStats {
    summarize(&mut timer(values), &pcts(percentiles), bins, 10_000.0)
        .stats
        .unwrap()
}

fn tens() -> Vec<f64> {
    // Arrival order deliberately unsorted.
    [30.0, 10.0, 100.0, 20.0, 90.0, 40.0, 80.0, 50.0, 70.0, 60.0].to_vec()
}

#[test]
fn etsy_statistics_of_ten_values() {
    let s = stats(&tens(), &[90.0], &[]);
    assert_eq!(
        (s.lower, s.upper, s.sum, s.mean, s.median),
        (10.0, 100.0, 550.0, 55.0, 55.0)
    );
    assert_eq!(s.sum_squares, 38500.0);
    assert_eq!(s.std, 825.0f64.sqrt());
    assert_eq!(
        s.thresholds,
        [Threshold {
            percentile: 0,
            count: 9.0,
            mean: 50.0,
            bound: 90.0,
            sum: 450.0,
            sum_squares: 28500.0
        }]
    );
}

#[test]
fn negative_threshold_is_the_top() {
    let s = stats(&tens(), &[-10.0], &[]);
    assert_eq!(
        s.thresholds,
        [Threshold {
            percentile: 0,
            count: 1.0,
            mean: 100.0,
            bound: 100.0,
            sum: 100.0,
            sum_squares: 10000.0
        }]
    );
}

#[test]
fn a_threshold_covering_no_value_is_skipped() {
    let s = stats(&[1.0, 2.0], &[10.0, 50.0], &[]);
    assert_eq!(s.thresholds.len(), 1);
    assert_eq!(s.thresholds[0].percentile, 1);
}

#[test]
fn one_value_fills_every_threshold() {
    let s = stats(&[7.0], &[90.0, -50.0], &[]);
    for (i, t) in s.thresholds.iter().enumerate() {
        assert_eq!(
            *t,
            Threshold {
                percentile: i,
                count: 1.0,
                mean: 7.0,
                bound: 7.0,
                sum: 7.0,
                sum_squares: 49.0
            }
        );
    }
    assert_eq!((s.median, s.std), (7.0, 0.0));
}

#[test]
fn a_top_threshold_covering_every_value_is_nan_as_in_etsy() {
    // etsy subtracts cumulativeValues[-1], which is undefined.
    let t = &stats(&[1.0, 2.0], &[-90.0], &[]).thresholds[0];
    assert_eq!((t.count, t.bound), (2.0, 1.0));
    assert!(t.sum.is_nan() && t.mean.is_nan());
}

#[test]
fn threshold_labels_follow_etsy() {
    let labels: Vec<String> = pcts(&[90.0, 99.9, -10.0, 50.5])
        .iter()
        .map(|p| p.label().to_owned())
        .collect();
    assert_eq!(labels, ["90", "99_9", "top10", "50_5"]);
    assert!(Percentile::new(0.0).is_err());
    assert!(Percentile::new(101.0).is_err());
    assert!(Percentile::new(f64::NAN).is_err());
}

#[test]
fn histogram_bins_count_values_below_each_bound() {
    let s = stats(
        &[1.0, 5.0, 10.0, 50.0, 0.25],
        &[90.0],
        &[Bin::Below(0.5), Bin::Below(10.0), Bin::Infinity],
    );
    assert_eq!(
        s.histogram,
        [
            ("bin_0_5".to_owned(), 1.0),
            ("bin_10".to_owned(), 2.0),
            ("bin_inf".to_owned(), 2.0)
        ]
    );
    let above_last = stats(&[1.0, 50.0], &[90.0], &[Bin::Below(10.0)]);
    assert_eq!(above_last.histogram, [("bin_10".to_owned(), 1.0)]);
}

#[test]
fn empty_timer_reports_only_counts() {
    let summary = summarize(&mut TimerValues::default(), &pcts(&[90.0]), &[], 2_000.0);
    assert_eq!(
        summary,
        TimerSummary {
            buckets: vec![],
            count: 0.0,
            count_ps: 0.0,
            stats: None,
            cumulative: Default::default(),
        }
    );
}

#[test]
fn count_includes_sample_rates_in_etsy_mode() {
    let mut t = TimerValues::default();
    t.record(10.0, 0.1, SampleWeighting::Etsy, usize::MAX);
    t.record(30.0, 1.0, SampleWeighting::Etsy, usize::MAX);
    let summary = summarize(&mut t, &pcts(&[90.0]), &[], 2_000.0);
    assert_eq!((summary.count, summary.count_ps), (11.0, 5.5));
    // The other statistics weigh each value once.
    assert_eq!(summary.stats.unwrap().mean, 20.0);
}

#[test]
fn weighted_mode_counts_a_sampled_value_as_many() {
    let mut weighted = TimerValues::default();
    weighted.record(10.0, 0.25, SampleWeighting::Weighted, usize::MAX);
    weighted.record(30.0, 1.0, SampleWeighting::Weighted, usize::MAX);
    let s = summarize(&mut weighted, &pcts(&[90.0]), &[], 1_000.0)
        .stats
        .unwrap();
    let expanded = stats(&[10.0, 10.0, 10.0, 10.0, 30.0], &[90.0], &[]);
    assert_eq!(
        (s.mean, s.median, s.sum, s.sum_squares),
        (
            expanded.mean,
            expanded.median,
            expanded.sum,
            expanded.sum_squares
        )
    );
    assert!((s.std - expanded.std).abs() < 1e-12);
    assert_eq!(s.thresholds, expanded.thresholds);
}

#[test]
fn sketched_timers_stay_within_the_documented_error() {
    let values: Vec<f64> = (1..=5000).map(|i| f64::from(i) * 1.7).collect();
    let exact = stats(&values, &[90.0, 99.0, -5.0], &[]);
    let mut t = TimerValues::default();
    for &v in values.iter().rev() {
        t.record(v, 1.0, SampleWeighting::Etsy, 100);
    }
    let s = summarize(&mut t, &pcts(&[90.0, 99.0, -5.0]), &[], 10_000.0)
        .stats
        .unwrap();
    assert!(s.sketched);
    assert_eq!(
        (s.lower, s.upper, s.sum, s.mean),
        (exact.lower, exact.upper, exact.sum, exact.mean)
    );
    let close = |a: f64, b: f64| (a - b).abs() <= b.abs() * RELATIVE_ERROR * 1.001;
    assert!(
        close(s.median, exact.median),
        "{} {}",
        s.median,
        exact.median
    );
    assert!((s.std - exact.std).abs() < exact.std * 1e-9);
    for (got, want) in s.thresholds.iter().zip(&exact.thresholds) {
        assert_eq!(got.count, want.count);
        assert!(
            close(got.bound, want.bound) && close(got.mean, want.mean) && close(got.sum, want.sum),
            "{got:?} {want:?}"
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Integer weights in weighted mode equal repeating each value.
        #[test]
        fn integer_weights_equal_repetition(
            samples in proptest::collection::vec((0u32..10_000, 1u32..5), 1..60),
            pct in prop_oneof![1.0f64..100.0, -100.0f64..-1.0],
        ) {
            let mut weighted = TimerValues::default();
            let mut expanded = Vec::new();
            for &(v, w) in &samples {
                let v = f64::from(v) / 10.0;
                weighted.record(v, 1.0 / f64::from(w), SampleWeighting::Weighted, usize::MAX);
                expanded.extend(std::iter::repeat_n(v, w as usize));
            }
            let p = pcts(&[pct]);
            let got = summarize(&mut weighted, &p, &[], 1_000.0).stats.unwrap();
            let want = summarize(&mut timer(&expanded), &p, &[], 1_000.0).stats.unwrap();
            let close = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-6 * (1.0 + b.abs());
            prop_assert!(close(got.mean, want.mean) && close(got.median, want.median) && close(got.std, want.std));
            prop_assert_eq!((got.lower, got.upper), (want.lower, want.upper));
            prop_assert_eq!(got.thresholds.len(), want.thresholds.len());
            for (g, w) in got.thresholds.iter().zip(&want.thresholds) {
                prop_assert_eq!((g.count, g.bound), (w.count, w.bound));
                // etsy's top-N sum is NaN when N covers everything; ours is the sum.
                if !w.sum.is_nan() {
                    prop_assert!(close(g.sum, w.sum) && close(g.sum_squares, w.sum_squares));
                }
            }
        }
    }
}

#[test]
fn buckets_count_values_at_most_each_bound() {
    let mut t = timer(&[1.0, 2.0, 2.0, 5.0, 50.0]);
    let mut s = summarize(&mut t, &pcts(&[90.0]), &[], 1_000.0);
    fill_buckets(&mut s, &t, &[0.5, 2.0, 10.0]);
    assert_eq!(s.buckets, vec![0.0, 3.0, 4.0]);
}

#[test]
fn buckets_scale_to_the_sampled_count() {
    // etsy mode: values unweighted, the count divided by the rate.
    let mut t = TimerValues::default();
    for v in [1.0, 3.0] {
        t.record(v, 0.5, SampleWeighting::Etsy, 100);
    }
    let mut s = summarize(&mut t, &pcts(&[90.0]), &[], 1_000.0);
    fill_buckets(&mut s, &t, &[2.0, 4.0]);
    assert_eq!(s.count, 4.0);
    assert_eq!(s.buckets, vec![2.0, 4.0]);
}

#[test]
fn no_bounds_or_no_values_no_buckets() {
    let mut t = timer(&[1.0]);
    let mut s = summarize(&mut t, &pcts(&[90.0]), &[], 1_000.0);
    fill_buckets(&mut s, &t, &[]);
    assert!(s.buckets.is_empty());
    let mut empty = TimerValues::default();
    let mut s = summarize(&mut empty, &pcts(&[90.0]), &[], 1_000.0);
    fill_buckets(&mut s, &empty, &[1.0]);
    assert!(s.buckets.is_empty());
}
