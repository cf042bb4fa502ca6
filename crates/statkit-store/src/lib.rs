//! The history behind `statkit serve`'s HTTP face, fed by the flusher's
//! snapshots.
//!
//! - [`Store`]: every series a flush reported, with its latest values, its
//!   running totals (what Prometheus scrapes), its history at flush
//!   resolution for the last hour and at one-minute resolution for the
//!   last day ([`Series::history`]), within a byte budget per series, and
//!   its load frames (60 s each, the last 15).
//! - [`load()`]: gstatsd's load view of the frames.
//! - [`state`]: the store as a versioned, checksummed state file's bytes.
//!
//! Nothing here does I/O or reads a clock: times come from the snapshots
//! and from the caller.

#![deny(unsafe_code)]

mod frames;
mod key;
mod kind;
mod load;
mod ring;
mod series;
pub mod state;
mod store;

pub use frames::{Frame, Frames, FRAMES, FRAME_SECONDS};
pub use key::{split_key, Tag};
pub use kind::{Combine, Field, Kind};
pub use load::{load, LoadValue, LoadView};
pub use series::{Resolution, Series, COARSE_ROWS, FINE_SPAN};
pub use store::{Options, Store, OVERFLOW};

#[cfg(test)]
mod tests;
