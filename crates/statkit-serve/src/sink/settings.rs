//! Where flushes go: Graphite destinations and etsy's naming options, the
//! console, and how far a sink may fall behind.

use statkit_encode::graphite::NamingOptions;

use crate::settings::check::{positive, resolve};
use crate::settings::{declare, Setting};
use crate::{ConfigError, Settings};

declare! {
    GRAPHITE: Vec<String> = Setting::new(
        "graphite",
        "",
        "Send every flush to this Graphite plaintext receiver, host:port",
    )
    .value_name("HOST:PORT");
    CONSOLE: Option<bool> = Setting::new("console", "", "Print every flush on standard output")
        .shown("on when no graphite is given");
    SINK_QUEUE: usize = Setting::new(
        "sink_queue",
        "64",
        "Flushes a sink may fall behind before the oldest is dropped and counted",
    );
    LEGACY_NAMESPACE: bool = Setting::new(
        "graphite_names.legacy_namespace",
        "true",
        "etsy's graphite.legacyNamespace: stats.<key> and stats_counts.<key> for counters",
    );
    GLOBAL_PREFIX: String = Setting::new(
        "graphite_names.global_prefix",
        "stats",
        "etsy's graphite.globalPrefix (not in the legacy namespace)",
    );
    PREFIX_COUNTER: String = Setting::new(
        "graphite_names.prefix_counter",
        "counters",
        "etsy's graphite.prefixCounter (not in the legacy namespace)",
    );
    PREFIX_TIMER: String = Setting::new(
        "graphite_names.prefix_timer",
        "timers",
        "etsy's graphite.prefixTimer (not in the legacy namespace)",
    );
    PREFIX_GAUGE: String = Setting::new(
        "graphite_names.prefix_gauge",
        "gauges",
        "etsy's graphite.prefixGauge (not in the legacy namespace)",
    );
    PREFIX_SET: String = Setting::new(
        "graphite_names.prefix_set",
        "sets",
        "etsy's graphite.prefixSet (not in the legacy namespace)",
    );
    GLOBAL_SUFFIX: Option<String> = Setting::new(
        "graphite_names.global_suffix",
        "",
        "etsy's graphite.globalSuffix",
    );
    FLUSH_COUNTS: bool = Setting::new(
        "graphite_names.flush_counts",
        "true",
        "etsy's flush_counts: also send a counter's count, not only its rate",
    );
}

/// The sinks a flush goes to.
#[derive(Clone, Debug)]
pub struct SinksConfig {
    pub graphite: Vec<String>,
    pub naming: NamingOptions,
    pub console: bool,
    /// Flushes a sink's queue holds.
    pub queue: usize,
}

impl SinksConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let graphite = s.get(&GRAPHITE);
        for address in &graphite {
            resolve("graphite", address)?;
        }
        let prefix_stats = s.get(&crate::pipeline::settings::PREFIX_STATS);
        let naming = NamingOptions {
            legacy_namespace: s.get(&LEGACY_NAMESPACE),
            global_prefix: s.get(&GLOBAL_PREFIX),
            prefix_counter: s.get(&PREFIX_COUNTER),
            prefix_timer: s.get(&PREFIX_TIMER),
            prefix_gauge: s.get(&PREFIX_GAUGE),
            prefix_set: s.get(&PREFIX_SET),
            global_suffix: s.get(&GLOBAL_SUFFIX),
            prefix_stats,
            flush_counts: s.get(&FLUSH_COUNTS),
            // etsy's backend sanitizes names itself when keys were not
            // sanitized on arrival.
            sanitize_names: !s.get(&crate::pipeline::settings::KEY_SANITIZE),
        };
        Ok(SinksConfig {
            // With nowhere else to send flushes, show them.
            console: s.get(&CONSOLE).unwrap_or(graphite.is_empty()),
            graphite,
            naming,
            queue: positive(&SINK_QUEUE, s)?,
        })
    }
}
