//! The `metrics` crate's facade, recorded into a registry: with
//! `metrics::set_global_recorder(registry.clone())`, every
//! `metrics::counter!("x").increment(1)` in the program and its libraries
//! lands in the same stats file as statkit's own handles.
//!
//! Labels become tags (`name{key=value}`). A key the registry refuses (too
//! long, already another kind, file full) gets a no-op handle and is counted
//! in [`RegistryStats::refused`](super::RegistryStats), because the facade
//! has no way to return the error.
//!
//! `describe_counter!`, `describe_gauge!` and `describe_histogram!` go to
//! the stats file's descriptions section ([`Registry::describe`]), unit
//! as `Unit::as_str` spells it (`seconds`, `bytes`, ...), so readers
//! (`statkit slurp --json`, the server's `/metrics`) show them. One the
//! registry refuses is counted in
//! [`RegistryStats::refused_descriptions`](super::RegistryStats).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use metrics::{Key, KeyName, Metadata, SharedString, Unit};

use super::{Counter, Gauge, Histogram, RegisterError, Registry};

impl metrics::CounterFn for Counter {
    fn increment(&self, value: u64) {
        self.add(value);
    }

    /// Raises the total to `value` (counters never go down).
    fn absolute(&self, value: u64) {
        let total = self.total();
        if value > total {
            self.add(value - total);
        }
    }
}

impl metrics::GaugeFn for Gauge {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        Gauge::set(self, value);
    }
}

impl metrics::HistogramFn for Histogram {
    fn record(&self, value: f64) {
        Histogram::record(self, value);
    }
}

impl Registry {
    /// Writes a `describe_*!` call's text and unit to the file, or
    /// counts the refusal (the facade cannot return it).
    fn describe_key(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        let unit = unit.as_ref().map_or("", Unit::as_str);
        if self.describe(name.as_str(), unit, &text).is_err() {
            self.inner.refused_descriptions.fetch_add(1, Relaxed);
        }
    }

    /// Registers a facade key, or counts the refusal.
    fn facade<H>(
        &self,
        key: &Key,
        get: impl FnOnce(&str, &[(&str, &str)]) -> Result<H, RegisterError>,
    ) -> Option<Arc<H>> {
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        match get(key.name(), &labels) {
            Ok(handle) => Some(Arc::new(handle)),
            Err(_) => {
                self.inner.refused.fetch_add(1, Relaxed);
                None
            }
        }
    }
}

impl metrics::Recorder for Registry {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe_key(name, unit, text);
    }

    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe_key(name, unit, text);
    }

    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe_key(name, unit, text);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        self.facade(key, |name, tags| self.counter(name, tags))
            .map_or_else(metrics::Counter::noop, metrics::Counter::from_arc)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        self.facade(key, |name, tags| self.gauge(name, tags))
            .map_or_else(metrics::Gauge::noop, metrics::Gauge::from_arc)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        self.facade(key, |name, tags| self.histogram(name, tags))
            .map_or_else(metrics::Histogram::noop, metrics::Histogram::from_arc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::Options;

    fn registry() -> Registry {
        Registry::in_memory(Options::default()).unwrap()
    }

    #[test]
    fn each_registry_keeps_its_own_descriptions() {
        let (a, b) = (registry(), registry());
        metrics::with_local_recorder(&a, || {
            metrics::describe_counter!("hits", Unit::Count, "requests served");
            metrics::describe_histogram!("latency", Unit::Seconds, "time to answer");
        });
        metrics::with_local_recorder(&b, || {
            metrics::describe_gauge!("hits", "a gauge here");
        });
        let described = |r: &Registry, name| r.description(name).map(|d| (d.help, d.unit));
        assert_eq!(
            described(&a, "hits"),
            Some(("requests served".to_owned(), "count".to_owned()))
        );
        assert_eq!(
            described(&a.clone(), "latency"),
            Some(("time to answer".to_owned(), "seconds".to_owned()))
        );
        assert_eq!(
            described(&b, "hits"),
            Some(("a gauge here".to_owned(), String::new()))
        );
        assert_eq!(described(&b, "latency"), None);
    }

    #[test]
    fn a_later_description_replaces_the_earlier() {
        let registry = registry();
        metrics::with_local_recorder(&registry, || {
            metrics::describe_counter!("hits", "old");
            metrics::describe_counter!("hits", Unit::Count, "new");
        });
        let found = registry.description("hits").unwrap();
        assert_eq!((found.help.as_str(), found.unit.as_str()), ("new", "count"));
    }

    #[test]
    fn a_refused_description_is_counted() {
        let registry = registry();
        metrics::with_local_recorder(&registry, || {
            metrics::describe_counter!("bad{name}", "braces");
            metrics::describe_counter!("long", "x".repeat(5000));
        });
        assert_eq!(registry.stats().refused_descriptions, 2);
        assert_eq!(registry.description("long"), None);
    }
}
