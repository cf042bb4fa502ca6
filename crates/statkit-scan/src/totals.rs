//! Values summed over files: the host-wide view.
//!
//! Counters, histograms (bucket by bucket, so percentiles stay right),
//! averages (count and sum), gauges and mmstats numbers add up. Text,
//! booleans and moving averages are per process and are left out, as is a
//! label whose kind differs between files (counted in `conflicts`).

use std::collections::HashMap;

use statkit_format::{Stat, StatFile, Value};

/// Sums of every additive value, by label, in first-seen order.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    stats: Vec<Stat>,
    index: HashMap<String, usize>,
    /// Values left out because their label had another kind elsewhere.
    pub conflicts: u64,
}

impl Totals {
    /// Adds a file's additive values.
    pub fn add(&mut self, file: &StatFile) {
        self.add_stats(&file.stats);
    }

    /// Adds the additive values among `stats`.
    pub fn add_stats<'a>(&mut self, stats: impl IntoIterator<Item = &'a Stat>) {
        for stat in stats {
            if !additive(&stat.value) {
                continue;
            }
            match self.index.get(&stat.label) {
                Some(&at) => {
                    if !combine(&mut self.stats[at].value, &stat.value) {
                        self.conflicts += 1;
                    }
                }
                None => {
                    self.index.insert(stat.label.clone(), self.stats.len());
                    self.stats.push(stat.clone());
                }
            }
        }
    }

    /// The sums, in the order labels were first seen.
    pub fn stats(&self) -> &[Stat] {
        &self.stats
    }

    /// The sums, owned.
    pub fn into_stats(self) -> Vec<Stat> {
        self.stats
    }

    /// The sum for `label`.
    pub fn get(&self, label: &str) -> Option<&Value> {
        self.index.get(label).map(|&at| &self.stats[at].value)
    }
}

fn additive(value: &Value) -> bool {
    !matches!(
        value,
        Value::Text(_) | Value::Bool(_) | Value::MovingAverage(_)
    )
}

/// Adds `more` into `into` when both are of one kind.
fn combine(into: &mut Value, more: &Value) -> bool {
    match (into, more) {
        (Value::Counter(a), Value::Counter(b)) | (Value::Unsigned(a), Value::Unsigned(b)) => {
            *a = a.wrapping_add(*b)
        }
        (Value::Signed(a), Value::Signed(b)) => *a = a.wrapping_add(*b),
        (Value::Gauge(a), Value::Gauge(b)) | (Value::Float(a), Value::Float(b)) => *a += b,
        (Value::Histogram(a), Value::Histogram(b)) => a.merge(b),
        (Value::Average { count, sum }, Value::Average { count: n, sum: s }) => {
            *count = count.wrapping_add(*n);
            *sum += s;
        }
        _ => return false,
    }
    true
}

/// A value as one number, for tables: counters and integers as they are,
/// a histogram's count, an average's mean, booleans as 0 or 1; `None` for
/// text and empty averages.
pub fn number(value: &Value) -> Option<f64> {
    Some(match value {
        Value::Counter(n) | Value::Unsigned(n) => *n as f64,
        Value::Signed(n) => *n as f64,
        Value::Gauge(x) | Value::Float(x) | Value::MovingAverage(x) => *x,
        Value::Histogram(h) => h.count as f64,
        Value::Average { count, sum } => {
            if *count == 0 {
                return None;
            }
            sum / *count as f64
        }
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Text(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use statkit_format::{Format, Histogram};

    fn file(stats: Vec<(&str, Value)>) -> StatFile {
        StatFile {
            format: Format::Statkit,
            pid: None,
            identity: None,
            descriptions: Vec::new(),
            stats: stats
                .into_iter()
                .map(|(label, value)| Stat {
                    label: label.into(),
                    value,
                })
                .collect(),
        }
    }

    #[test]
    fn like_values_add_and_others_are_left_out() {
        let mut h = Histogram::default();
        h.record(1.0);
        let mut totals = Totals::default();
        for _ in 0..2 {
            totals.add(&file(vec![
                ("c", Value::Counter(2)),
                ("h", Value::Histogram(h.clone())),
                ("a", Value::Average { count: 1, sum: 3.0 }),
                ("t", Value::Text("x".into())),
            ]));
        }
        totals.add(&file(vec![("c", Value::Gauge(1.0))]));
        assert_eq!(totals.get("c"), Some(&Value::Counter(4)));
        assert_eq!(
            totals.get("a"),
            Some(&Value::Average { count: 2, sum: 6.0 })
        );
        assert!(matches!(totals.get("h"), Some(Value::Histogram(h)) if h.count == 2));
        assert_eq!(totals.get("t"), None);
        assert_eq!(totals.conflicts, 1);
    }
}
