//! The statkit shared-memory stats file format, and mmstats v1.
//!
//! A process publishes its metrics in one memory-mapped file; other
//! processes read it without disturbing the writer. This crate is the format
//! only: where every byte goes ([`layout`]), what each metric's cells hold
//! ([`cell`]), the histogram buckets ([`histogram`]), a bounds-checked
//! decoder that turns a snapshot of a file's bytes into values ([`decode()`])
//! and an encoder for whole files ([`encode()`], used for retired totals and
//! tests). [`describe`] holds the metrics' help texts and units. [`mmstats`]
//! reads and writes the version 1 files of mmstats 0.8.
//!
//! No I/O and no global state: the writer in the `statkit` crate and the
//! readers in `statkit-scan` map files and call in here. The byte-exact
//! specification is `docs/format.md` in the repository.

#![deny(unsafe_code)]

pub mod bytes;
pub mod cell;
pub mod decode;
pub mod describe;
pub mod encode;
mod error;
pub mod histogram;
pub mod layout;
pub mod mmstats;
pub mod naming;
mod value;

pub use decode::{decode, decode_statkit};
pub use describe::{DescribeError, Description};
pub use encode::{encode, encode_with, EncodeError};
pub use error::FormatError;
pub use histogram::Histogram;
pub use layout::{Entry, Header, Kind, Layout, Section};
pub use value::{Format, Identity, Stat, StatFile, Value};
