//! The request view: what gstats' collector knew about a web server's
//! requests, rebuilt on statsd names and bounded in memory.
//!
//! - [`names`]: which statsd names feed the view (statkit's Python hooks'
//!   `statkit.requests.<prefix>.*` and gunicorn's own `gunicorn.*`).
//! - [`RequestView`]: per prefix, requests started and finished, the mean
//!   and population standard deviation of the durations of requests that
//!   finished in the last `buffer_length` seconds, requests per second over
//!   1, 5 and 15 minutes, and the most recent durations.
//! - [`format`](mod@format): gstats' JSON shapes, gstatsctl's text, and Python 2's
//!   float printing which both gstatsctl and munin show.
//! - [`munin`]: the munin plug-ins' `config` and fetch output.
//!
//! Nothing here does I/O or reads a clock: callers pass the time in Unix
//! seconds, so expiry is tested without waiting.

#![deny(unsafe_code)]

pub mod format;
pub mod munin;
pub mod names;
mod stats;
mod view;

pub use format::{PrefixStats, ProcessingTime};
pub use names::{Reading, Signal};
pub use view::{PrefixReport, RequestView, Settings, ViewCounts};
