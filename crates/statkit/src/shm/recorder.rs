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
//! `describe_counter!`, `describe_gauge!` and `describe_histogram!` are
//! kept in the process' memory, readable with [`Registry::description`].
//! They are not in the stats file: its format (`docs/format.md`) has no
//! place for a description or a unit, so readers (`statkit slurp`, the
//! server's `/metrics`) do not see them yet.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use metrics::{Key, KeyName, Metadata, SharedString, Unit};

use super::registry::Inner;
use super::{Counter, Gauge, Histogram, RegisterError, Registry};

/// The descriptions of every live registry, each found by its shared state.
///
/// They sit beside the registries rather than in them so that the registry
/// itself stays as it is; a registry's entry goes at the first `describe_*`
/// after the registry is dropped. An entry's [`Weak`] keeps the dropped
/// registry's allocation, so its address is never reused by a later one
/// while the entry is in this list.
static DESCRIPTIONS: Mutex<Vec<Described>> = Mutex::new(Vec::new());

struct Described {
    registry: Weak<Inner>,
    /// Text and unit by metric name.
    by_name: HashMap<String, (String, Option<Unit>)>,
}

fn descriptions() -> std::sync::MutexGuard<'static, Vec<Described>> {
    DESCRIPTIONS.lock().unwrap_or_else(PoisonError::into_inner)
}

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
    /// The text and unit a `describe_*!` call gave metric `name` (the name
    /// without tags) while this registry was the recorder, if any.
    pub fn description(&self, name: &str) -> Option<(String, Option<Unit>)> {
        descriptions()
            .iter()
            .find(|described| std::ptr::eq(described.registry.as_ptr(), Arc::as_ptr(&self.inner)))
            .and_then(|described| described.by_name.get(name).cloned())
    }

    fn describe(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        let mut all = descriptions();
        all.retain(|described| described.registry.strong_count() > 0);
        let index = match all.iter().position(|described| {
            std::ptr::eq(described.registry.as_ptr(), Arc::as_ptr(&self.inner))
        }) {
            Some(index) => index,
            None => {
                all.push(Described {
                    registry: Arc::downgrade(&self.inner),
                    by_name: HashMap::new(),
                });
                all.len() - 1
            }
        };
        all[index]
            .by_name
            .insert(name.as_str().to_owned(), (text.into_owned(), unit));
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
        self.describe(name, unit, text);
    }

    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }

    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
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
        assert_eq!(
            a.description("hits"),
            Some(("requests served".to_owned(), Some(Unit::Count)))
        );
        assert_eq!(
            a.clone().description("latency"),
            Some(("time to answer".to_owned(), Some(Unit::Seconds)))
        );
        assert_eq!(
            b.description("hits"),
            Some(("a gauge here".to_owned(), None))
        );
        assert_eq!(b.description("latency"), None);
    }

    #[test]
    fn a_later_description_replaces_the_earlier() {
        let registry = registry();
        metrics::with_local_recorder(&registry, || {
            metrics::describe_counter!("hits", "old");
            metrics::describe_counter!("hits", Unit::Count, "new");
        });
        assert_eq!(
            registry.description("hits"),
            Some(("new".to_owned(), Some(Unit::Count)))
        );
    }

    #[test]
    fn a_dropped_registry_leaves_the_list_at_the_next_description() {
        let gone = registry();
        metrics::with_local_recorder(&gone, || metrics::describe_counter!("x", "text"));
        let weak = Arc::downgrade(&gone.inner);
        drop(gone);
        let live = registry();
        metrics::with_local_recorder(&live, || metrics::describe_counter!("y", "text"));
        assert!(!descriptions()
            .iter()
            .any(|described| described.registry.ptr_eq(&weak)));
    }
}
