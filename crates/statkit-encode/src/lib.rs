//! statkit's output formats, as pure functions from values to text: what
//! the server, its sinks and the command line write, kept apart from the
//! sockets and files they write it to.
//!
//! - [`graphite`]: Graphite plaintext with etsy statsd's naming scheme, and
//!   the [`graphite::Encoder`] that writes a whole flush as etsy's Graphite
//!   backend does, a piece at a time.
//! - [`console`]: the console sink's summary of a flush.
//! - [`prometheus`]: the history store as Prometheus text 0.0.4 or
//!   OpenMetrics 1.0.
//! - [`export`]: a flush's series as time-series databases take them
//!   (the `/metrics` names, cumulative counters and histograms, the host's
//!   [`labels`]), and their encodings: [`remote_write`] (Prometheus
//!   remote-write 1.0), [`otlp`] (OTLP/HTTP metrics) and [`influx`]
//!   (InfluxDB line protocol).
//! - [`gstats`]: gstats' JSON replies, gstatsctl's text, and Python 2's
//!   float printing which both gstatsctl and munin show.
//! - [`munin`]: the munin plug-ins' `config` and fetch output, for the
//!   request view's graphs and ([`munin::metrics`]) for any series read
//!   from `/api/v1/metrics`.
//! - [`inspect`]: objects printed the way node's `util.inspect` prints
//!   them, as etsy statsd's admin port answers.
//!
//! Nothing here does I/O: callers hand in values and get bytes or strings
//! back (or, for the console, write to a writer they chose). The only clock
//! read is the Graphite encoder timing its own work, which etsy reports as
//! `calculationtime`.

#![deny(unsafe_code)]

pub mod console;
pub mod export;
pub mod graphite;
pub mod gstats;
pub mod influx;
pub mod inspect;
pub mod labels;
pub mod munin;
pub mod otlp;
pub mod prometheus;
pub mod remote_write;
