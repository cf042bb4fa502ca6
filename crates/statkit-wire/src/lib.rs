//! Wire protocols spoken by statkit, as pure functions over bytes.
//!
//! Nothing in this crate opens a socket, spawns a thread or allocates per
//! parsed line: the daemon hands it slices of its receive buffers and gets
//! borrowed values back.
//!
//! - [`statsd`]: the statsd line protocol with the DogStatsD extensions
//!   (tags, value packing, timestamps, container ids, events, service
//!   checks), parsed without allocating, plus etsy statsd's key sanitizing.
//! - [`jsnum`]: numbers printed the way JavaScript prints them, so that our
//!   Graphite output (written by statkit-encode) matches etsy statsd's byte
//!   for byte.

#![deny(unsafe_code)]

pub mod jsnum;
pub mod statsd;
