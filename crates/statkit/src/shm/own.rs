//! A registry reading its own cells, for the copies it publishes elsewhere
//! (the mmstats mirror, the statvent pipe).

use std::sync::atomic::Ordering::Acquire;

use statkit_format::cell::Cells;
use statkit_format::{FormatError, Histogram, Kind};

use super::cells::word;
use super::registry::{Inner, Registered};
use super::Registry;

/// Times a cell caught mid-write is read again before it is skipped.
const RETRIES: usize = 100;

/// One metric's value, summed over the threads.
#[derive(Debug, Clone)]
pub(crate) enum Own {
    Counter(u64),
    /// A gauge, a moving average, or an average's mean.
    Number(f64),
    Text(String),
    /// The histogram, and its last values when it keeps them.
    Histogram(Histogram, Option<Vec<f64>>),
}

impl Registry {
    /// Every metric's label and value, in registration order. A value torn
    /// by writers on every try is left out.
    pub(crate) fn own_values(&self) -> Vec<(String, Own)> {
        let inner = &*self.inner;
        let (metrics, blocks) = inner.metrics();
        metrics
            .into_iter()
            .filter_map(|(label, metric)| {
                let value = value(inner, blocks, &label, &metric)?;
                Some((label, value))
            })
            .collect()
    }
}

fn value(inner: &Inner, blocks: u32, label: &str, metric: &Registered) -> Option<Own> {
    let shared = inner.storage.shared_block();
    Some(match metric.kind {
        Kind::Counter => Own::Counter(inner.thread_sum(metric.slot)),
        Kind::Gauge | Kind::MovingAverage => {
            // SAFETY: the metric's one cell in block 0.
            Own::Number(f64::from_bits(
                unsafe { word(shared, metric.slot) }.load(Acquire),
            ))
        }
        Kind::Text => Own::Text(read(shared, metric, |c| c.text(label))?),
        Kind::Average => {
            let (mut count, mut sum) = (0u64, 0.0);
            for (n, s) in per_thread(inner, blocks, metric, |c| c.average(label)) {
                count = count.wrapping_add(n);
                sum += s;
            }
            Own::Number(if count == 0 { 0.0 } else { sum / count as f64 })
        }
        Kind::Histogram => {
            let mut total = Histogram::default();
            for h in per_thread(inner, blocks, metric, |c| c.histogram(label)) {
                total.merge(&h);
            }
            Own::Histogram(total, metric.recent.as_ref().map(|r| r.values()))
        }
    })
}

/// A per-thread metric's cells in every thread block, decoded.
fn per_thread<T>(
    inner: &Inner,
    blocks: u32,
    metric: &Registered,
    decode: impl Fn(&Cells<'_>) -> Result<T, FormatError>,
) -> Vec<T> {
    (1..blocks)
        .filter_map(|block| read(inner.storage.thread_block(block), metric, &decode))
        .collect()
}

/// Decodes a copy of `metric`'s cells in the block at `base`, copying
/// again while a write is caught half done; `None` if every try was torn.
fn read<T>(
    base: *mut u64,
    metric: &Registered,
    decode: impl Fn(&Cells<'_>) -> Result<T, FormatError>,
) -> Option<T> {
    let words = metric.kind.words() as usize;
    (0..RETRIES).find_map(|_| decode(&Cells::new(&copy(base, metric.slot, words), 0, 0)).ok())
}

/// `words` cells from word `slot` of the block at `base`, copied in
/// ascending order with acquire loads (the order the begin/end pair needs).
fn copy(base: *mut u64, slot: usize, words: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(words * 8);
    for index in 0..words {
        // SAFETY: the metric's cells lie inside every live block.
        let value = unsafe { word(base, slot + index) }.load(Acquire);
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}
