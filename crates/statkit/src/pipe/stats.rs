//! What the pipe carries for a registry: statvent's `name: value` lines.
//! Pure: the values come from the registry's own cells.

use statkit_format::Histogram;
use statkit_pipe::Value;

use crate::shm::Own;

/// statvent's percentile labels and their percent.
pub const PERCENTILES: [(&str, u32); 4] =
    [("median", 50), ("95th", 95), ("99th", 99), ("100th", 100)];

/// One stat per counter (an integer), gauge and average (floats); six per
/// histogram (see [`histogram_stats`]); none for text, which a pipe cannot
/// carry.
pub fn stats(values: Vec<(String, Own)>) -> Vec<(String, Value)> {
    let mut out = Vec::with_capacity(values.len());
    for (label, value) in values {
        match value {
            Own::Counter(n) => out.push((
                label,
                i64::try_from(n).map_or(Value::Float(n as f64), Value::Int),
            )),
            Own::Number(x) => out.push((label, Value::Float(x))),
            Own::Text(_) => {}
            Own::Histogram(h, recent) => histogram_stats(&label, &h, recent, &mut out),
        }
    }
    out
}

/// `<label>.median`, `.95th`, `.99th`, `.100th` and `.mean` of the last
/// values (what statvent's `record("<label>.{0}", v)` writes), and
/// `<label>.count`, every value ever recorded, which weights the mean when
/// readers merge processes. The mean is a true mean, where statvent divides
/// integers by integers. Without a ring of last values, the figures come
/// from the histogram's buckets over every value (within 6.25%).
pub fn histogram_stats(
    label: &str,
    h: &Histogram,
    recent: Option<Vec<f64>>,
    out: &mut Vec<(String, Value)>,
) {
    let (picks, mean) = match recent {
        Some(mut values) => {
            values.sort_by(f64::total_cmp);
            let picks = PERCENTILES.map(|(_, p)| statvent_percentile(&values, p));
            let mean =
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            (picks, mean)
        }
        None => {
            let pick = |p: u32| match p {
                100 if h.count > 0 => h.max,
                100 => 0.0,
                p => h.quantile(f64::from(p) / 100.0).unwrap_or(0.0),
            };
            (PERCENTILES.map(|(_, p)| pick(p)), h.mean())
        }
    };
    for ((name, _), value) in PERCENTILES.iter().zip(picks) {
        out.push((format!("{label}.{name}"), Value::Float(value)));
    }
    if let Some(mean) = mean {
        out.push((format!("{label}.mean"), Value::Float(mean)));
    }
    out.push((
        format!("{label}.count"),
        i64::try_from(h.count).map_or(Value::Float(h.count as f64), Value::Int),
    ));
}

/// statvent's pick from sorted values: index `floor(n * p / 100) - 1`,
/// at least 0; 0.0 when there are none.
pub fn statvent_percentile(sorted: &[f64], percent: u32) -> f64 {
    let index = (sorted.len() * percent as usize / 100).saturating_sub(1);
    sorted.get(index).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
