//! statsd_exporter's mapping files, read as they are, and what their rules
//! make of statsd names: a Prometheus name, labels, help, how a timer is
//! observed, a TTL, or a drop.
//!
//! - [`Mapper::from_yaml`] reads a file: `mappings` (glob or regex
//!   `match`, `name`, `labels`, `help`, `match_metric_type`, `action`,
//!   `observer_type` or `timer_type`, `histogram_options`,
//!   `summary_options`, the older top-level `buckets` and `quantiles`,
//!   `ttl`) and `defaults` (the same observer keys, `ttl`, `match_type`,
//!   `glob_disable_ordering`). Every error carries its line; keys
//!   statsd_exporter would ignore are warnings ([`Mapper::warnings`]).
//! - [`Mapper::map`] maps one name: glob rules first, compiled into a trie
//!   over the name's components (one walk for any number of rules), then
//!   regex rules in order, as statsd_exporter does.
//! - [`Cache`] remembers the answers for the names in use, within a bound.
//!
//! Pure: no I/O, no clock.

#![deny(unsafe_code)]

mod cache;
mod diagnostic;
mod duration;
mod escape;
mod glob;
mod mapper;
mod read;
mod rule;
mod template;
mod yaml;

pub use cache::Cache;
pub use diagnostic::{Diagnostic, LoadError, Severity};
pub use escape::{metric_name, push_metric_name};
pub use glob::MAX_COMPONENTS;
pub use mapper::{Mapped, Mapper, Metric, MAX_FILE_BYTES};
pub use rule::{
    Action, MatchType, MetricKind, Observer, Quantile, Rule, DEFAULT_BUCKETS, DEFAULT_QUANTILES,
};

#[cfg(test)]
mod tests;
