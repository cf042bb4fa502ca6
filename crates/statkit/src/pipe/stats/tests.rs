use proptest::prelude::*;
use statkit_format::Histogram;
use statkit_pipe::Value;

use super::*;

fn family(values: &[f64]) -> Vec<(String, Value)> {
    let mut h = Histogram::default();
    values.iter().for_each(|&v| h.record(v));
    let mut out = Vec::new();
    histogram_stats("latency", &h, Some(values.to_vec()), &mut out);
    out
}

fn get(stats: &[(String, Value)], name: &str) -> Value {
    stats.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn one_to_ten_as_statvent_picks_them_with_a_true_mean() {
    let values: Vec<f64> = (1..=10).rev().map(f64::from).collect();
    let out = family(&values);
    assert_eq!(get(&out, "latency.median"), Value::Float(5.0));
    assert_eq!(get(&out, "latency.95th"), Value::Float(9.0));
    assert_eq!(get(&out, "latency.99th"), Value::Float(9.0));
    assert_eq!(get(&out, "latency.100th"), Value::Float(10.0));
    // statvent's Python 2 says 5 (55 / 10 in integers).
    assert_eq!(get(&out, "latency.mean"), Value::Float(5.5));
    assert_eq!(get(&out, "latency.count"), Value::Int(10));
}

#[test]
fn halves_as_in_statvents_worked_example() {
    let out = family(&[1.5, 0.5]);
    assert_eq!(get(&out, "latency.median"), Value::Float(0.5));
    assert_eq!(get(&out, "latency.99th"), Value::Float(0.5));
    assert_eq!(get(&out, "latency.100th"), Value::Float(1.5));
    assert_eq!(get(&out, "latency.mean"), Value::Float(1.0));
}

#[test]
fn nothing_recorded_gives_zeros_and_no_mean() {
    let out = family(&[]);
    assert_eq!(get(&out, "latency.median"), Value::Float(0.0));
    assert!(out.iter().all(|(n, _)| n != "latency.mean"));
}

#[test]
fn without_a_ring_the_buckets_answer() {
    let mut h = Histogram::default();
    (1..=100).for_each(|v| h.record(f64::from(v)));
    let mut out = Vec::new();
    histogram_stats("x", &h, None, &mut out);
    assert_eq!(get(&out, "x.100th"), Value::Float(100.0));
    assert_eq!(get(&out, "x.mean"), Value::Float(50.5));
    let median = get(&out, "x.median").as_f64();
    assert!((median - 50.0).abs() <= 50.0 * 0.0625, "{median}");
}

#[test]
fn counters_are_integers_and_text_is_left_out() {
    let out = stats(vec![
        ("hits".into(), Own::Counter(7)),
        ("huge".into(), Own::Counter(u64::MAX)),
        ("load".into(), Own::Number(0.5)),
        ("version".into(), Own::Text("1.0".into())),
    ]);
    assert_eq!(
        out,
        [
            ("hits".to_owned(), Value::Int(7)),
            ("huge".to_owned(), Value::Float(u64::MAX as f64)),
            ("load".to_owned(), Value::Float(0.5)),
        ]
    );
}

proptest! {
    #[test]
    fn a_pick_is_one_of_the_values_and_ordered(
        mut values in prop::collection::vec(-1e6f64..1e6, 1..300),
    ) {
        values.sort_by(f64::total_cmp);
        let picks = statkit_pipe::family::PERCENTS.map(|p| statvent_percentile(&values, p));
        prop_assert!(picks.iter().all(|p| values.contains(p)));
        prop_assert!(picks.windows(2).all(|w| w[0] <= w[1]));
        prop_assert_eq!(picks[3], values[values.len() - 1]);
    }
}
