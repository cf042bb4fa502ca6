//! The `metrics` crate's facade, recorded into a registry: with
//! `metrics::set_global_recorder(registry.clone())`, every
//! `metrics::counter!("x").increment(1)` in the program and its libraries
//! lands in the same stats file as statkit's own handles.
//!
//! Labels become tags (`name{key=value}`). A key the registry refuses (too
//! long, already another kind, file full) gets a no-op handle and is counted
//! in [`RegistryStats::refused`](super::RegistryStats), because the facade
//! has no way to return the error.

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
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

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
