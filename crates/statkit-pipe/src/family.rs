//! The stats statvent's `record("<label>.{0}", v)` writes for a series of
//! values, as statkit's writers name them.

use crate::merge::{COUNT_LABEL, LABELS};
use crate::Value;

/// statvent's percentiles, in the order of [`LABELS`].
pub const PERCENTS: [u32; 4] = [50, 95, 99, 100];

/// Appends `<label>.median`, `.95th`, `.99th`, `.100th` (`picks`, in the
/// order of [`PERCENTS`]), `.mean` when there is one, and `<label>.count`,
/// which weights the mean when readers merge processes.
pub fn family(
    label: &str,
    picks: [f64; 4],
    mean: Option<f64>,
    count: u64,
    out: &mut Vec<(String, Value)>,
) {
    for (name, value) in LABELS.iter().zip(picks) {
        out.push((format!("{label}.{name}"), Value::Float(value)));
    }
    if let Some(mean) = mean {
        out.push((format!("{label}.{}", LABELS[4]), Value::Float(mean)));
    }
    out.push((format!("{label}.{COUNT_LABEL}"), Value::count(count)));
}
