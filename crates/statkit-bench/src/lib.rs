//! statkit's load generator and checker for statsd servers.
//!
//! `statkit bench` uses this crate to answer two questions about a statsd
//! server, statkit's or any other: how much CPU does it spend per line, and
//! does it flush exactly what it was sent? A run is:
//!
//! 1. [`Traffic`]: a deterministic stream of lines in a [`Mix`] of the five
//!    statsd kinds over a fixed set of names, from a seed.
//! 2. [`send()`]: writes it over UDP (optionally `sendmmsg`) or TCP, packed
//!    into datagrams by [`Batcher`] or one line each, held to a rate by
//!    [`Pacer`], bounded by a line count and a time limit. Every line that
//!    left is recorded in the [`Truth`].
//! 3. [`Receiver`]: a loopback Graphite plaintext listener that the server
//!    flushes to; it feeds a [`Flushed`] and tells flushes apart.
//! 4. [`check()`]: compares the flushed totals (etsy statsd's legacy names,
//!    summed over flushes) with the truth: loss and mismatches per kind.
//!
//! [`run()`] strings these together. [`NullServer`] is the other end: a
//! receiver that only counts, whose CPU time is the floor a real server's
//! is compared with.
//!
//! Everything talks to loopback addresses only ([`require_loopback`]).

pub mod batch;
pub mod check;
pub mod cpu;
mod error;
pub mod graphite;
pub mod mix;
pub mod null;
pub mod pace;
mod rng;
pub mod run;
pub mod send;
mod sys;
pub mod traffic;
pub mod truth;

pub use batch::{Batcher, Batching};
pub use check::{check, CheckReport, Flushed, KindCheck};
pub use error::{require_loopback, Error};
pub use graphite::{Receiver, Settle, Settled};
pub use mix::{Kind, Mix, Picker};
pub use null::{NullConfig, NullCounts, NullServer, StopReason};
pub use pace::Pacer;
pub use run::{run, run_with_progress, CheckConfig, CheckOutcome, Progress, RunConfig, RunReport};
pub use send::{send, send_with_progress, SendConfig, SendReport, Transport};
pub use sys::stop_on_signals;
pub use traffic::{Event, Traffic, TrafficConfig};
pub use truth::Truth;
