//! The Prometheus face's own parts: statsd_exporter's mapping file (read
//! and checked with the configuration, so a bad file stops the server
//! before it starts; `/metrics` renders through its rules with a cache of
//! what they made of each name), the per-name limit's overflows, logged
//! once per name, and the families any Prometheus target has
//! (`statkit_build_info`, `process_*`), read at each scrape.

mod process;
pub(crate) mod settings;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use statkit_encode::labels::HostLabels;
use statkit_encode::prometheus::{process, render, Describe, Exposition, Format, Mapping};
use statkit_mapping::{Cache, Mapper};
use statkit_store::Store;

use crate::support::lock;

pub use settings::PrometheusConfig;

/// Names whose overflow is logged at most: past them, one more line says
/// that further overflows are not logged.
const MAX_LOGGED: usize = 1000;

/// What the renders of `/metrics` share.
#[derive(Debug, Default)]
pub(crate) struct Face {
    mapping: Option<(Arc<Mapper>, Mutex<Cache>)>,
    /// Names whose overflow was logged.
    logged: Mutex<BTreeSet<Box<[u8]>>>,
    /// When the server started, Unix seconds.
    start: f64,
    /// Idle series past this are left out (`series_ttl`).
    series_ttl: Option<Duration>,
    /// The host's labels (`--label`), on every series.
    labels: HostLabels,
}

impl Face {
    /// The face with the mapping file's rules, if any, and a cache for
    /// `names` names (the store's bound: every name it holds stays cached).
    pub(crate) fn new(config: &PrometheusConfig, names: usize) -> Self {
        let mapper = config.mapping.clone();
        if let Some(mapper) = &mapper {
            for warning in mapper.warnings() {
                tracing::warn!("mapping file: {warning}");
            }
            tracing::info!(rules = mapper.rules().len(), "mapping file loaded");
        }
        Self {
            mapping: mapper.map(|m| (m, Mutex::new(Cache::new(names)))),
            logged: Mutex::default(),
            start: crate::support::unix_now() as f64,
            series_ttl: config.series_ttl,
            labels: HostLabels::default(),
        }
    }

    /// The face with the host's labels on every series.
    pub(crate) fn with_labels(self, labels: HostLabels) -> Self {
        Self { labels, ..self }
    }

    /// The families read at each scrape (`statkit_build_info`,
    /// `process_*`), which end the exposition (`# EOF` in OpenMetrics).
    pub(crate) fn tail(&self, format: Format) -> String {
        let mut out = String::with_capacity(1024);
        let stats = process::read(self.start);
        process(&mut out, format, env!("CARGO_PKG_VERSION"), &stats);
        out
    }

    /// Writes `store` in `format` (through the mapping file, if any) and
    /// logs each name newly overflowed; returns the series left out for
    /// clashing names.
    pub(crate) fn render<'d>(
        &self,
        store: &Store,
        format: Format,
        described: &'d Describe<'d>,
        out: &mut String,
    ) -> usize {
        self.log_overflows(store);
        let mut cache = self
            .mapping
            .as_ref()
            .map(|(mapper, cache)| (mapper, lock(cache)));
        let exposition = Exposition {
            mapping: cache
                .as_mut()
                .map(|(mapper, cache)| Mapping { mapper, cache }),
            series_ttl: self.series_ttl,
            labels: Some(&self.labels),
            described: Some(described),
        };
        render(store, format, exposition, out)
    }

    fn log_overflows(&self, store: &Store) {
        let mut logged = lock(&self.logged);
        for (name, _) in store.overflows() {
            if logged.len() > MAX_LOGGED || logged.contains(name) {
                continue;
            }
            logged.insert(name.into());
            let name = String::from_utf8_lossy(name);
            if logged.len() > MAX_LOGGED {
                tracing::warn!("{MAX_LOGGED} names overflowed; further ones are not logged (statkit_series_overflow_total counts them)");
            } else {
                tracing::warn!(name = %name, "a name reached max_series_per_name label sets; new ones are folded into its __overflow__ series");
            }
        }
    }
}
