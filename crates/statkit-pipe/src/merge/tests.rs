use proptest::prelude::*;

use super::{merge, roles_of, Role};
use crate::{parse, Value};

fn stats(text: &str) -> Vec<(String, Value)> {
    let parsed = parse(text.as_bytes());
    assert!(parsed.malformed.is_empty());
    parsed.stats
}

const A: &str = include_str!("../../tests/fixtures/statvent-a.stats");
const B: &str = include_str!("../../tests/fixtures/statvent-b.stats");

#[test]
fn recognises_record_families_wherever_the_label_is() {
    let a = stats(A);
    let roles = roles_of(&a);
    let role = |name: &str| roles.get(name).map(|(r, _)| *r);
    assert_eq!(role("latency.median"), Some(Role::Max));
    assert_eq!(role("latency.100th"), Some(Role::Max));
    assert_eq!(role("latency.mean"), Some(Role::Mean));
    assert_eq!(role("custom-95th"), Some(Role::Max));
    assert_eq!(role("requests"), None);
    let front = stats("median.x: 1\n95th.x: 2\n99th.x: 3\n100th.x: 4\nmean.x: 2\n");
    assert_eq!(roles_of(&front).len(), 5);
    // Four of five is not a family.
    let partial = stats("a.median: 1\na.95th: 2\na.99th: 3\na.100th: 4\n");
    assert!(roles_of(&partial).is_empty());
}

#[test]
fn statvents_two_processes_without_its_summing_bug() {
    let merged = merge(&[stats(A), stats(B)]);
    let get = |name: &str| merged[name];
    // statvent reports 105, 109, 110 and 105 here.
    assert_eq!(get("latency.median"), Value::Int(100));
    assert_eq!(get("latency.95th"), Value::Int(100));
    assert_eq!(get("latency.100th"), Value::Int(100));
    // No counts in statvent's pipes: the plain mean of 5 and 100.
    assert_eq!(get("latency.mean"), Value::Float(52.5));
    assert_eq!(get("flt.mean"), Value::Float(1.0));
    // Plain values are summed as statvent sums them.
    assert_eq!(get("requests"), Value::Int(10));
    assert_eq!(get("load"), Value::Float(1.0));
    assert_eq!(get("name: with colon"), Value::Int(14));
    assert_eq!(get("flag"), Value::Int(2));
    assert_eq!(merged.len(), 20);
}

#[test]
fn means_are_weighted_by_counts_when_every_process_has_one() {
    let family = |mean: i64, count: i64| {
        stats(&format!(
            "t.median: 1\nt.95th: 1\nt.99th: 1\nt.100th: 1\nt.mean: {mean}\nt.count: {count}\n"
        ))
    };
    let merged = merge(&[family(10, 1), family(40, 3)]);
    assert_eq!(merged["t.mean"], Value::Float(32.5));
    assert_eq!(merged["t.count"], Value::Int(4));
    // One process without a count: equal weights.
    let mut no_count = family(40, 3);
    no_count.retain(|(n, _)| n != "t.count");
    assert_eq!(
        merge(&[family(10, 1), no_count])["t.mean"],
        Value::Float(25.0)
    );
    // A single process's mean passes unchanged.
    assert_eq!(merge(&[family(7, 2)])["t.mean"], Value::Int(7));
}

#[test]
fn a_family_in_one_process_is_one_everywhere() {
    let full = stats("q.median: 5\nq.95th: 5\nq.99th: 5\nq.100th: 5\nq.mean: 5\n");
    let lone = stats("q.median: 7\n");
    assert_eq!(merge(&[full, lone])["q.median"], Value::Int(7));
}

proptest! {
    #[test]
    fn plain_values_sum_in_any_order(values in proptest::collection::vec(-1000i64..1000, 1..8)) {
        let processes: Vec<Vec<(String, Value)>> =
            values.iter().map(|v| vec![("n".to_owned(), Value::Int(*v))]).collect();
        let mut reversed = processes.clone();
        reversed.reverse();
        let total = Value::Int(values.iter().sum());
        prop_assert_eq!(merge(&processes)["n"], total);
        prop_assert_eq!(merge(&reversed)["n"], total);
    }
}
