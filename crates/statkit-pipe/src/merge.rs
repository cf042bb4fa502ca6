//! The host-wide view: one value per name over every process's snapshot.
//!
//! statvent's web service sums every stat, so two processes with medians 5
//! and 100 report a median of 105. Here only plain values are summed; the
//! stats statvent's `record()` produces are combined as what they are.
//!
//! **Recognising them.** A pipe carries only the names `record()` produced
//! from its template (`latency.{0}` gives `latency.median`,
//! `latency.95th`, `latency.99th`, `latency.100th`, `latency.mean`). A
//! name is taken as part of such a family when it contains one of those
//! five labels and the same snapshot also holds the names made by putting
//! each of the other four labels in its place: all five must be there,
//! which `record()` always writes. The template may put the label anywhere
//! (`custom-{0}`, `{0}.latency`). A name recognised in any one process is
//! treated the same way in every process.
//!
//! **Combining them.** The four percentiles take the largest value among
//! the processes (an upper bound that is exact for `100th`). The mean takes
//! the mean of the processes' means weighted by their counts: a process's
//! count is the stat named with `count` in the label's place
//! (`latency.count`), which statkit's publisher writes and statvent does
//! not. When any process with that mean has no count, every process counts
//! once (the plain mean of the means). A mean from a single process is
//! passed on unchanged; a combined one is a float.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::Value;

/// The labels `record()` puts in a template, percentiles first.
pub const LABELS: [&str; 5] = ["median", "95th", "99th", "100th", "mean"];

/// The label that names a family's count (statkit's publisher writes it).
pub const COUNT_LABEL: &str = "count";

/// How a stat is combined across processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Summed (counters, gauges, anything not recognised below).
    Sum,
    /// A percentile of a `record()` family: the largest value.
    Max,
    /// The mean of a `record()` family: the count-weighted mean.
    Mean,
}

/// One process's part of a family mean.
#[derive(Clone, Copy, Debug)]
struct Part {
    mean: Value,
    count: Option<f64>,
}

/// Combines the processes' snapshots (each a list of `(name, value)`).
pub fn merge<'a, S>(processes: &'a [S]) -> BTreeMap<String, Value>
where
    S: AsRef<[(String, Value)]> + 'a,
{
    let mut roles = HashMap::new();
    for stats in processes {
        roles.extend(roles_of(stats.as_ref()));
    }
    let mut merged = BTreeMap::new();
    let mut means: HashMap<&str, Vec<Part>> = HashMap::new();
    for stats in processes {
        let stats = stats.as_ref();
        for (name, value) in stats {
            match roles
                .get(name.as_str())
                .map_or(Role::Sum, |(role, _)| *role)
            {
                Role::Sum => combine(&mut merged, name, *value, Value::plus),
                Role::Max => combine(&mut merged, name, *value, Value::larger),
                Role::Mean => {
                    let count = roles
                        .get(name.as_str())
                        .and_then(|(_, count_name)| lookup(stats, count_name.as_deref()?));
                    means.entry(name).or_default().push(Part {
                        mean: *value,
                        count: count.map(Value::as_f64),
                    });
                }
            }
        }
    }
    for (name, parts) in means {
        merged.insert(name.to_owned(), weighted_mean(&parts));
    }
    merged
}

/// The role of every family member in one snapshot, with a mean's count
/// name.
pub fn roles_of(stats: &[(String, Value)]) -> HashMap<&str, (Role, Option<String>)> {
    let names: HashSet<&str> = stats.iter().map(|(n, _)| n.as_str()).collect();
    let mut roles = HashMap::new();
    for name in &names {
        for (at, _) in name.match_indices(LABELS[0]) {
            let (prefix, suffix) = (&name[..at], &name[at + LABELS[0].len()..]);
            let family: Vec<String> = LABELS
                .iter()
                .map(|label| format!("{prefix}{label}{suffix}"))
                .collect();
            if !family.iter().all(|n| names.contains(n.as_str())) {
                continue;
            }
            for (member, label) in family.iter().zip(LABELS) {
                let Some(&member) = names.get(member.as_str()) else {
                    continue;
                };
                let role = if label == "mean" {
                    (Role::Mean, Some(format!("{prefix}{COUNT_LABEL}{suffix}")))
                } else {
                    (Role::Max, None)
                };
                roles.insert(member, role);
            }
        }
    }
    roles
}

fn lookup(stats: &[(String, Value)], name: &str) -> Option<Value> {
    stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

fn combine(
    merged: &mut BTreeMap<String, Value>,
    name: &str,
    value: Value,
    with: fn(Value, Value) -> Value,
) {
    match merged.get_mut(name) {
        Some(total) => *total = with(*total, value),
        None => {
            merged.insert(name.to_owned(), value);
        }
    }
}

fn weighted_mean(parts: &[Part]) -> Value {
    if let [only] = parts {
        return only.mean;
    }
    let counts: Option<Vec<f64>> = parts.iter().map(|p| p.count).collect();
    let weights = match counts {
        Some(counts) if counts.iter().sum::<f64>() > 0.0 => counts,
        _ => vec![1.0; parts.len()],
    };
    let total: f64 = weights.iter().sum();
    let sum: f64 = parts
        .iter()
        .zip(&weights)
        .map(|(p, w)| p.mean.as_f64() * w)
        .sum();
    Value::Float(sum / total)
}

#[cfg(test)]
mod tests;
