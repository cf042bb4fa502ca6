//! What a decoded file holds.

use crate::{Description, Histogram};

/// Which format a file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// statkit v1.
    Statkit,
    /// mmstats 0.8's version 1.
    Mmstats,
}

impl Format {
    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Format::Statkit => "statkit",
            Format::Mmstats => "mmstats",
        }
    }
}

/// Who wrote a statkit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The writing process (0 for retired totals).
    pub pid: u32,
    /// Its start time in clock ticks after boot.
    pub start_time: u64,
    /// When the file was created, in nanoseconds since the Unix epoch.
    pub created_ns: u64,
    /// The program's name.
    pub program: String,
    /// Whether the file holds a program's retired totals.
    pub retired: bool,
    /// Whether the writer also publishes these values on its statvent pipe
    /// ([`crate::layout::FLAG_PIPED`]).
    pub piped: bool,
}

/// One metric's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A statkit counter: the sum of its threads' cells.
    Counter(u64),
    /// A statkit gauge.
    Gauge(f64),
    /// A statkit histogram: its threads' buckets added up.
    Histogram(Histogram),
    /// A text value (statkit text, mmstats strings).
    Text(String),
    /// A running mean's count and sum.
    Average {
        /// Values added.
        count: u64,
        /// Their sum.
        sum: f64,
    },
    /// The mean of the last values.
    MovingAverage(f64),
    /// An mmstats unsigned integer.
    Unsigned(u64),
    /// An mmstats signed integer.
    Signed(i64),
    /// An mmstats float or double.
    Float(f64),
    /// An mmstats boolean.
    Bool(bool),
}

/// A labelled value.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    /// The metric's label.
    pub label: String,
    /// Its value.
    pub value: Value,
}

/// Everything decoded from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct StatFile {
    /// The format it was written in.
    pub format: Format,
    /// The writer's pid: from the header, or an mmstats file's last
    /// `*sys.pid` field.
    pub pid: Option<u32>,
    /// The header's identity (statkit files only).
    pub identity: Option<Identity>,
    /// The metrics, in file order.
    pub stats: Vec<Stat>,
    /// The help texts and units of metric names, one per name (statkit
    /// files only; empty for files written before they were kept).
    pub descriptions: Vec<Description>,
}

impl StatFile {
    /// The description of a metric's name, found from its label (`name`
    /// or `name{tags}`).
    pub fn description(&self, label: &str) -> Option<&Description> {
        let name = label.split_once('{').map_or(label, |(name, _)| name);
        self.descriptions.iter().find(|d| d.name == name)
    }
}
