//! Shared-memory stats: "/proc for your application".
//!
//! A [`Registry`] publishes this process' metrics in one memory-mapped
//! file, `<dir>/<program>-<pid>.statkit` (the folder is `STATKIT_DIR`, or
//! [`DEFAULT_DIR`] on tmpfs), created mode 0600 and removed when the
//! registry is dropped. `statkit slurp`, `statkit poll` and `statkit serve`
//! read it while the program runs, without disturbing it.
//!
//! ```no_run
//! use statkit::shm::{Options, Registry};
//!
//! let registry = Registry::publish(Options::default())?;
//! let requests = registry.counter("requests", &[("code", "200")])?;
//! let latency = registry.histogram("latency", &[])?;
//! requests.inc();
//! latency.time(|| { /* handle a request */ });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Once a handle exists, updating it never fails, never locks and never
//! makes a syscall: each thread writes cells of its own (a counter
//! increment is a load and a store), and readers add the threads up. Every
//! error (a bad or too long name, a kind clash, a full file) is returned
//! at registration. The layout of the file is `statkit_format`'s, specified
//! in `docs/format.md`.
//!
//! - Handles: [`Counter`], [`Gauge`], [`Histogram`] (with [`Timer`]),
//!   [`Text`], [`Average`], [`MovingAverage`].
//! - [`global`], [`incr`], [`set`], [`record`]: a default registry and
//!   statvent-style calls over it; its file is removed at exit.
//! - The registry is a `metrics::Recorder` (see the `recorder` module).
//! - [`Registry::describe`] writes a metric name's help text and unit to
//!   the file (the recorder's `describe_*` calls do the same).
//! - [`Registry::mirror_mmstats`] keeps an mmstats v1 copy of the registry
//!   for existing mmstats readers.
//!
//! A child process made by `fork` shares its parent's mappings: it must
//! make a registry of its own rather than use the parent's handles.

mod cells;
mod describe;
mod error;
mod global;
mod handles;
mod label;
mod mirror;
mod options;
mod own;
mod recent;
mod recorder;
mod registry;
mod reserve;
mod storage;
mod thread;

pub use error::{PublishError, RegisterError};
pub use global::{global, global_publish_error, incr, record, set};
pub use handles::{Average, Counter, Gauge, Histogram, MovingAverage, Text, Timer};
pub use mirror::{mmstats_default_path, MmstatsMirror};
pub use options::{default_dir, process_start_time, Options, DEFAULT_DIR, DIR_ENV};
pub(crate) use own::Own;
pub use registry::{Registry, RegistryStats};
