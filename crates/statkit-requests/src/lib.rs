//! The request view: what gstats' collector knew about a web server's
//! requests, rebuilt on statsd names and bounded in memory.
//!
//! - [`names`]: which statsd names feed the view (statkit's Python hooks'
//!   `statkit.requests.<prefix>.*` and gunicorn's own `gunicorn.*`).
//! - [`RequestView`]: per prefix, requests started and finished, the mean
//!   and population standard deviation of the durations of requests that
//!   finished in the last `buffer_length` seconds, requests per second over
//!   1, 5 and 15 minutes, and the most recent durations.
//!
//! gstats' JSON and text and the munin plug-ins' output are written from
//! the view's reports by statkit-encode.
//!
//! Nothing here does I/O or reads a clock: callers pass the time in Unix
//! seconds, so expiry is tested without waiting.

#![deny(unsafe_code)]

pub mod names;
mod stats;
mod view;

pub use names::{Reading, Signal};
pub use view::{PrefixReport, RequestView, Settings, ViewCounts};
