//! The default registry and statvent-style functions over it.
//!
//! The first use creates `<dir>/<program>-<pid>.statkit` with the default
//! [`Options`] (so `STATKIT_DIR` applies). If that fails (no tmpfs, no
//! permission) the metrics live in memory only and
//! [`global_publish_error`] says why; the calls themselves never fail.
//! The file is removed at normal process exit by an `atexit` hook; a
//! process killed by a signal leaves it for `statkit clean`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

use super::{Options, PublishError, Registry};

static GLOBAL: OnceLock<Registry> = OnceLock::new();
static PUBLISH_ERROR: OnceLock<PublishError> = OnceLock::new();

/// The process' default registry.
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(|| {
        let options = Options::default();
        match Registry::publish(options.clone()) {
            Ok(registry) => {
                // SAFETY: registering a plain `extern "C" fn` with no state.
                unsafe { libc::atexit(remove_at_exit) };
                registry
            }
            Err(error) => {
                let _ = PUBLISH_ERROR.set(error);
                Registry::in_memory(options)
                    .expect("anonymous memory for the default statkit registry")
            }
        }
    })
}

/// Why the default registry could not create its file, if it could not.
pub fn global_publish_error() -> Option<&'static PublishError> {
    PUBLISH_ERROR.get()
}

extern "C" fn remove_at_exit() {
    if let Some(registry) = GLOBAL.get() {
        registry.remove_file();
    }
}

/// Adds `n` to the default registry's counter `name`. A name that cannot
/// be registered is counted in [`RegistryStats::refused`](super::RegistryStats).
/// Keep a [`Counter`](super::Counter) handle for hot paths: this looks the
/// name up under a lock on every call.
pub fn incr(name: &str, n: u64) {
    with_global(|r| r.counter(name, &[]), |counter| counter.add(n));
}

/// Sets the default registry's gauge `name` (see [`incr`] for errors).
pub fn set(name: &str, value: f64) {
    with_global(|r| r.gauge(name, &[]), |gauge| gauge.set(value));
}

/// Records `value` in the default registry's histogram `name` (see
/// [`incr`] for errors). statvent's template `name.{0}` is taken as `name`,
/// whose statistics the pipe publisher writes as `name.median` and so on,
/// as statvent does; braces anywhere else are refused.
pub fn record(name: &str, value: f64) {
    let name = name.strip_suffix(".{0}").unwrap_or(name);
    with_global(
        |r| r.histogram(name, &[]),
        |histogram| histogram.record(value),
    );
}

fn with_global<H>(
    get: impl FnOnce(&Registry) -> Result<H, super::RegisterError>,
    update: impl FnOnce(H),
) {
    let registry = global();
    match get(registry) {
        Ok(handle) => update(handle),
        Err(_) => {
            registry.inner.refused.fetch_add(1, Relaxed);
        }
    }
}
