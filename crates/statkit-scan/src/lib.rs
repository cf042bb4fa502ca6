//! Reading shared-memory stats files, for `statkit slurp`, `poll`, `clean`
//! and `serve`.
//!
//! - [`discover`]: which files to read (the stats folder, folders, paths).
//! - [`read_file`]: a consistent snapshot of one file, decoded; torn reads
//!   are retried, any other problem is a [`ReadError`] naming the file.
//!   Files are opened without following links or blocking, copied (never
//!   mapped) and bounded by [`Limits`]: a hostile file can be refused, never
//!   crash, hang or stall the reader.
//! - [`liveness`]: whether a file's writer still runs (pid and start time).
//! - [`Totals`]: values summed over files, as a host-wide view.
//! - [`clean()`]: removes dead processes' files, folding their counters and
//!   histograms into per-program retired totals first.
//! - [`mmash`]: mmash's labels, prefix lookups and aggregations.
//! - [`pipe_view`]: a file's values as a statvent pipe carries them.
//! - [`render`]: slurp's text and JSON; [`feed`]: scans as statsd lines for `statkit serve`,
//!   and [`described`]: the help texts and units of the feed's keys.

pub mod clean;
pub mod described;
mod discover;
pub mod feed;
mod folder;
mod liveness;
pub mod mmash;
mod open;
pub mod pipe_view;
pub mod poll;
mod read;
pub mod render;
mod snapshot;
mod totals;

pub use clean::{clean, Action};
pub use discover::{default_dir, discover, is_stats_file, mmstats_dir};
pub use liveness::{liveness, Liveness};
pub use read::{read_file, read_file_with, Limits, ReadError, Refused};
pub use snapshot::snapshot;
pub use totals::{number, Totals};
