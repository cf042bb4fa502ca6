//! gstatsd's load view: the load frames of every series combined over the
//! last N minutes, under gstatsd's names.
//!
//! Names: a counter is its bare key (the counts summed); a timer gives
//! `stats.timers.<key>.sum`, `.count`, `.lower`, `.upper` and `.mean` (the
//! mean of per-flush means, as gstatsd computes it). gstatsd had no gauges
//! or sets; here a gauge gives `stats.gauges.<key>` (its newest value) and
//! a set `stats.sets.<key>.count` (the most members one flush saw).
//! Numbers are rounded to two decimals as gstatsd rounds them; counts of
//! timer values are integers.

use crate::frames::{window, Frame, FRAME_SECONDS};
use crate::kind::Kind;
use crate::store::Store;

/// A number in the load view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LoadValue {
    Int(i64),
    Float(f64),
}

/// The answer to one load query.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadView {
    /// Unix seconds at which the current frame began.
    pub last_frame_time: u64,
    /// `(name, value)` in the store's order; empty when the frames chosen
    /// hold nothing.
    pub stats: Vec<(String, LoadValue)>,
}

fn round2(x: f64) -> LoadValue {
    LoadValue::Float((x * 100.0).round() / 100.0)
}

/// The load view at `now` (Unix seconds) over `n` frames (1 to 15): the
/// newest `n` including the current one, or with `full` the `n` complete
/// frames before the current one (as many as exist).
pub fn load(store: &Store, now: u64, n: u64, full: bool) -> LoadView {
    let mut stats = Vec::new();
    let last_frame_time = now / FRAME_SECONDS * FRAME_SECONDS;
    let Some(range) = window(now, n, full) else {
        return LoadView {
            last_frame_time,
            stats,
        };
    };
    for (kind, name, series) in store.iter() {
        let Some(frame) = series.frames().combine(range.clone()) else {
            continue;
        };
        let name = String::from_utf8_lossy(name);
        push(&mut stats, kind, &name, &frame);
    }
    LoadView {
        last_frame_time,
        stats,
    }
}

fn push(stats: &mut Vec<(String, LoadValue)>, kind: Kind, name: &str, f: &Frame) {
    match kind {
        Kind::Counter => stats.push((name.to_owned(), round2(f.sum))),
        Kind::Gauge => stats.push((format!("stats.gauges.{name}"), round2(f.last))),
        Kind::Set => stats.push((format!("stats.sets.{name}.count"), round2(f.upper))),
        Kind::Timer => {
            let count = if f.count.fract() == 0.0 && f.count.abs() < 9e15 {
                LoadValue::Int(f.count as i64)
            } else {
                round2(f.count)
            };
            let t = |field: &str| format!("stats.timers.{name}.{field}");
            stats.extend([
                (t("sum"), round2(f.sum)),
                (t("upper"), round2(f.upper)),
                (t("lower"), round2(f.lower)),
                (t("count"), count),
                (t("mean"), round2(f.mean_sum / f64::from(f.flushes))),
            ]);
        }
    }
}
