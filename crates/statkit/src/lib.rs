//! The statkit library for applications: ways for a program to publish its
//! own metrics to a statkit server (or any statsd-compatible one).
//!
//! Three ways today:
//!
//! - [`shm`]: shared-memory stats files, "/proc for your application". The
//!   process' metrics live in a memory-mapped file on tmpfs that `statkit
//!   slurp`, `statkit poll` and `statkit serve` read; an update is a plain
//!   store into memory the calling thread owns. [`incr`], [`set`] and
//!   [`record`] use a default registry; the registry is also a recorder for
//!   the `metrics` crate.
//! - [`pipe`]: statvent's named pipe, an opt-in thread that writes the
//!   same registry's values to every reader of `<dir>/<pid>.stats`.
//! - [`client`]: a statsd / DogStatsD client that formats lines on the
//!   calling thread and packs them into UDP datagrams (or writes them to TCP
//!   or a Unix socket), with no runtime and no queue, and without ever
//!   blocking or failing a metric call when no server listens.
//!
//! ```no_run
//! statkit::incr("requests", 1);
//! statkit::record("latency", 0.012);
//! ```
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let client = statkit::Client::builder("127.0.0.1:8125").prefix("app").build()?;
//! client.incr("requests");
//! client.timing("render", Duration::from_millis(12));
//! client.tagged(&[("status", "500")]).incr("errors");
//! client.flush();
//! # Ok::<(), statkit::BuildError>(())
//! ```
//!
//! # Brief overview
//!
//! - [`Client`]: counters, gauges, timings, histograms, distributions and
//!   sets, plus [`Client::time`] for a [`TimerGuard`] that records on drop.
//!   Cloning shares one buffer and one socket.
//! - [`ClientBuilder`]: server address, UDP or TCP, prefix, default tags,
//!   datagram size, flush interval.
//! - [`Scoped`]: what [`Client::tagged`] and [`Client::sampled`] return, to
//!   add DogStatsD tags and a client-side sample rate to a call.
//! - [`Stats`]: what was sent, dropped, or refused. Failures are counted
//!   here because a metric call never returns one.
//! - [`client::sink`]: the [`Sink`](client::Sink) trait behind the
//!   transports (UDP, Unix datagram, TCP) and the no-op and spy sinks for
//!   tests.
//!
//! What the client does with names and tags that contain protocol bytes is
//! in [the client's documentation](client#names-and-tags). Every line it
//! writes is one that statkit's own parser (`statkit_wire::statsd`) reads
//! back as the metric that was meant; the crate's tests hold it to that.

pub mod client;
mod folder;
pub mod pipe;
pub mod shm;

pub use client::{BuildError, Client, ClientBuilder, LineError, Millis, Scoped, Stats, TimerGuard};
pub use shm::{incr, record, set};
