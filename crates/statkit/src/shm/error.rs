//! Why a metric could not be registered or a file published. Metric
//! updates never fail: everything that can go wrong does so here.

use std::io;
use std::path::PathBuf;

/// Why [`Registry`](super::Registry) refused a metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The name or a tag holds a character labels cannot carry.
    #[error("invalid metric name {label:?}: {reason}")]
    InvalidName {
        /// The label as given.
        label: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The label (name and tags) is longer than the file's entries hold.
    #[error("metric label {label:?} is {len} bytes, more than {max}")]
    TooLong {
        /// The label.
        label: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The label is already registered as another kind of metric.
    #[error("metric {label:?} is already a {existing}, not a {requested}")]
    KindConflict {
        /// The label.
        label: String,
        /// The kind it was registered as.
        existing: &'static str,
        /// The kind asked for now.
        requested: &'static str,
    },
    /// The last segment the chain may have (`Options::max_segments`) has
    /// no room for another metric.
    #[error(
        "no room for metric {label:?}: the file's {what} are used up (raise Options::{option})"
    )]
    Full {
        /// The label.
        label: String,
        /// Entries or cells.
        what: &'static str,
        /// The option that gives more room.
        option: &'static str,
    },
    /// A description over the format's limits (name, unit or help text).
    #[error(transparent)]
    Describe(#[from] statkit_format::DescribeError),
    /// The file's descriptions section (`Options::descriptions`) has no
    /// room for another description.
    #[error("no room to describe {name:?}: the file's descriptions section is full (raise Options::descriptions)")]
    DescriptionsFull {
        /// The metric's name.
        name: String,
    },
    /// The current segment was full and adding a continuation file failed.
    #[error("no room for metric {label:?}: cannot add a continuation file: {reason}")]
    Grow {
        /// The label.
        label: String,
        /// The operating system's error.
        reason: String,
    },
}

/// Why a stats file could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the stats file {path}")]
pub struct PublishError {
    /// The file (or the memory, for in-memory registries).
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}
