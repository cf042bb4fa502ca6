//! statsd_exporter's mapping file applied to the Prometheus face: the
//! rules are read and checked with the configuration (a bad file stops
//! the server before it starts), and `/metrics` renders through them with
//! a cache of what they made of each name.

pub(crate) mod settings;

use std::sync::{Arc, Mutex};

use statkit_mapping::{Cache, Mapper};

use crate::support::lock;

/// The rules and their cache, shared by the renders of `/metrics`.
#[derive(Debug)]
pub(crate) struct Exposition {
    mapper: Arc<Mapper>,
    cache: Mutex<Cache>,
}

impl Exposition {
    /// The rules, with a cache for `names` names (the store's bound: every
    /// name it holds stays cached).
    pub(crate) fn new(mapper: Arc<Mapper>, names: usize) -> Self {
        for warning in mapper.warnings() {
            tracing::warn!("mapping file: {warning}");
        }
        tracing::info!(rules = mapper.rules().len(), "mapping file loaded");
        Self {
            mapper,
            cache: Mutex::new(Cache::new(names)),
        }
    }

    /// Runs `f` with the rules and the cache.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(statkit_encode::prometheus::Mapping<'_>) -> T,
    ) -> T {
        let mut cache = lock(&self.cache);
        f(statkit_encode::prometheus::Mapping {
            mapper: &self.mapper,
            cache: &mut cache,
        })
    }
}
