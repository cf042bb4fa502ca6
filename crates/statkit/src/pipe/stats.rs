//! What the pipe carries for a registry: statvent's `name: value` lines.
//! Pure: the values come from the registry's own cells.

use statkit_format::Histogram;
use statkit_pipe::family::{family, PERCENTS};
use statkit_pipe::Value;

use crate::shm::Own;

/// One stat per counter (an integer), gauge and average (floats); six per
/// histogram (see [`histogram_stats`]); none for text, which a pipe cannot
/// carry.
pub fn stats(values: Vec<(String, Own)>) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(values.len());
    for (label, value) in values {
        match value {
            Own::Counter(n) => out.push((label, Value::count(n))),
            Own::Number(x) => out.push((label, Value::Float(x))),
            Own::Text(_) => {}
            Own::Histogram(h, recent) => histogram_stats(&label, &h, recent, &mut out),
        }
    }
    out
}

/// `<label>.median`, `.95th`, `.99th`, `.100th` and `.mean` of the last
/// values (what statvent's `record("<label>.{0}", v)` writes), and
/// `<label>.count`, every value ever recorded. The mean is a true mean,
/// where statvent divides integers by integers. Without a ring of last
/// values, or while it is empty (it fills from the publisher's start), the
/// figures come from the histogram's buckets over every value (within
/// 6.25%).
pub fn histogram_stats(
    label: &str,
    h: &Histogram,
    recent: Option<Vec<f64>>,
    out: &mut Vec<(String, Value)>,
) {
    let (picks, mean) = match recent {
        Some(mut values) if !values.is_empty() => {
            values.sort_by(f64::total_cmp);
            let mean = Some(values.iter().sum::<f64>() / values.len() as f64);
            (PERCENTS.map(|p| statvent_percentile(&values, p)), mean)
        }
        _ => (PERCENTS.map(|p| h.pick(p)), h.mean()),
    };
    family(label, picks, mean, h.count, out);
}

/// statvent's pick from sorted values: index `floor(n * p / 100) - 1`,
/// at least 0; 0.0 when there are none.
pub fn statvent_percentile(sorted: &[f64], percent: u32) -> f64 {
    let index = (sorted.len() * percent as usize / 100).saturating_sub(1);
    sorted.get(index).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
