//! The rules of a mapping file, with `defaults` applied.

use std::time::Duration;

use crate::template::Template;

/// How a rule's `match` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    /// Dot-separated components, `*` standing for one whole component.
    Glob,
    /// A regular expression (RE2 syntax, as Go's), found anywhere in the
    /// name unless anchored.
    Regex,
}

/// The statsd kinds a rule tells apart (`match_metric_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Counter,
    Gauge,
    /// Timers, histograms and distributions (`ms`, `h`, `d`).
    Observer,
}

impl MetricKind {
    pub const ALL: [MetricKind; 3] = [MetricKind::Counter, MetricKind::Gauge, MetricKind::Observer];

    pub fn name(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Observer => "observer",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Map,
    /// The series is not exposed at all.
    Drop,
}

/// One `quantile`/`error` objective of a summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub error: f64,
}

/// How an observer (a timer) is exposed.
#[derive(Clone, Debug, PartialEq)]
pub enum Observer {
    Summary {
        quantiles: Vec<Quantile>,
        /// `summary_options.max_age`; `None` when not set (statsd_exporter's
        /// client default then applies: 10 minutes).
        max_age: Option<Duration>,
        age_buckets: Option<u32>,
        buf_cap: Option<u32>,
    },
    Histogram {
        /// Upper bounds in seconds, ascending; `+Inf` is implied.
        buckets: Vec<f64>,
    },
}

/// The Prometheus client's default histogram bounds, statsd_exporter's
/// default `buckets`.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// statsd_exporter's default summary objectives.
pub const DEFAULT_QUANTILES: [Quantile; 3] = [
    Quantile {
        quantile: 0.5,
        error: 0.05,
    },
    Quantile {
        quantile: 0.9,
        error: 0.01,
    },
    Quantile {
        quantile: 0.99,
        error: 0.001,
    },
];

/// One rule, `defaults` applied.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its place in the file: the line its entry starts on (1-based).
    pub line: usize,
    /// The `match` text.
    pub pattern: String,
    pub match_type: MatchType,
    /// `match_metric_type`: only this kind matches; `None` for any.
    pub kind: Option<MetricKind>,
    pub action: Action,
    /// The `name` template as written.
    pub name: String,
    pub help: Option<String>,
    pub observer: Observer,
    /// `ttl`: series not updated for this long are forgotten; `None` for
    /// never (`0` or not set, with no default).
    pub ttl: Option<Duration>,
    pub(crate) name_template: Template,
    /// Label names (sorted) and their value templates.
    pub(crate) labels: Vec<(String, Template)>,
}
