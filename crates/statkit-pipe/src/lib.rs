//! statvent's named-pipe stats.
//!
//! A statvent process keeps a FIFO at `<dir>/<pid>.stats` and writes one
//! snapshot of its stats, one `name: value` line each, to every reader that
//! opens it. This crate holds:
//!
//! - [`format`](mod@format): the line format, parsed leniently (a bad line is reported
//!   with its reason and skipped, never the whole snapshot) and written
//!   exactly as statvent writes it.
//! - [`merge`](mod@merge): the host-wide view over many processes. Plain values are
//!   summed; the percentile stats `record()` produces take the maximum and
//!   the means a count-weighted mean, where statvent sums them all.
//! - [`family`]: the names of `record()`'s percentile stats, for writers.
//! - [`read`]: reading every FIFO of a pipe folder at once, with a short
//!   timeout that finds stale pipes, whole snapshots only, and bounds on
//!   pipes and bytes.
//!
//! [`format`](mod@format) and [`merge`](mod@merge) do no I/O.

pub mod family;
pub mod format;
pub mod merge;
pub mod read;
mod value;

pub use format::{parse, write, Malformed, Parsed, Reason, WriteError};
pub use merge::{merge, Role};
pub use value::Value;
