//! The statsd conformance suite: what a server does with each line of the
//! statsd dialects, written down as data and checked by running it.
//!
//! statsd is a family of protocols (etsy's, DogStatsD, statsd_exporter's
//! tag styles, brubeck, statsite, Netdata) that disagree on the lines that
//! matter. The suite in `conformance/` at the repository root answers one
//! such question per file: the datagrams sent, the settings that matter,
//! the result expected after one flush in a neutral form, and, where the
//! dialects disagree, each one's answer. This crate reads it and plays it.
//!
//! - [`case`]: the case files and their loader ([`load_suite`]).
//! - [`outcome`]: the neutral result of one flush ([`Observed`]), compared
//!   with an expectation into a readable [`Difference`], and the verdict of
//!   a case ([`Verdict`]).
//! - [`in_process`]: plays a case through statkit-agg's `Table` and
//!   `Aggregator`, the same code `statkit serve` runs; fast enough for
//!   `cargo test` to play the whole suite.
//! - [`graphite`]: plays a case against any statsd server that flushes
//!   Graphite plaintext: datagrams over UDP, the flush read back from a
//!   Graphite listener and mapped back to the neutral form.

pub mod case;
pub mod graphite;
pub mod in_process;
pub mod outcome;

pub use case::{load_suite, Case, LoadError};
pub use outcome::{judge, Difference, Observed, Verdict};
