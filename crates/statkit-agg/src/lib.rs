//! Aggregation for statkit: statsd samples in, flush snapshots out.
//!
//! - [`Table`]: what one receiving thread accumulates between flushes; no
//!   locks, no allocation for a key seen before.
//! - [`Aggregator`]: the state kept across flushes; drains tables and, at
//!   each flush, produces a [`Snapshot`] with etsy statsd 0.9's semantics.
//! - [`summary`]: timer statistics (etsy-exact, or weighted by sample rate).
//! - [`Sketch`]: the log-linear histogram a timer switches to past its
//!   exact-value limit.
//! - [`Checkpoint`]: the open interval (aggregator and tables) as bytes,
//!   so a restart after a crash loses nothing before the last checkpoint.
//!
//! Nothing here does I/O or reads a clock except to time its own work.

#![deny(unsafe_code)]

mod aggregator;
mod checkpoint;
mod expiry;
mod names;
pub mod sketch;
mod snapshot;
pub mod summary;
mod table;
mod timer;
mod totals;

pub use aggregator::{Aggregator, Deletion, Gauge, HistogramSetting, Kind, Options};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use sketch::Sketch;
pub use snapshot::{CounterFlush, Snapshot, SnapshotError, OWN_NAMES};
pub use summary::{Bin, InvalidPercentile, Percentile, Threshold, TimerStats, TimerSummary};
pub use table::{IngestCounts, Table, TableOptions, EARLY_DRAIN_NAMES};
pub use timer::{SampleWeighting, TimerValues};
pub use totals::{Cumulative, TOTALS_TTL_SECONDS};
