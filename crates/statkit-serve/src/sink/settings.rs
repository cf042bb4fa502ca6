//! Where flushes go: Graphite destinations and etsy's naming options, the
//! console, and how far a sink may fall behind.

use statkit_encode::graphite::NamingOptions;

use crate::settings::check::{positive, resolve, within};
use crate::settings::{declare, Setting, SettingType};
use crate::{ConfigError, Settings};

declare! {
    GRAPHITE: Vec<String> = Setting::new(
        "graphite",
        "",
        "Send every flush to this Graphite plaintext receiver, host:port",
    )
    .value_name("HOST:PORT");
    CONSOLE: Option<ConsoleSetting> = Setting::new(
        "console",
        "",
        "What to print on standard output at each flush: summary (one line: series, lines \
         received, bad lines, dropped), full (every series; also true or a bare --console), or \
         off (also false)",
    )
    .shown("summary on a terminal when no graphite is given, else off");
    SINK_QUEUE: usize = Setting::new(
        "sink_queue",
        "64",
        "Without a state folder: flushes a sink may fall behind (in memory) before the oldest is dropped and counted",
    );
    SINK_QUEUE_BYTES: usize = Setting::new(
        "sink_queue_bytes",
        "268435456",
        "With a state folder: bytes of flushes each sink keeps on disk (queue/<sink>) while its backend is down; past it the oldest are dropped and counted",
    )
    .value_name("BYTES");
    SINK_REPLAY_RATE: f64 = Setting::new(
        "sink_replay_rate",
        "2",
        "Flushes per second a sink delivers while catching up on a backlog (after an outage or a restart), so a recovering backend is not flattened",
    )
    .value_name("PER_SECOND");
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

/// The `console` setting as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConsoleSetting {
    #[default]
    Off,
    Summary,
    Full,
}

/// `false` and `true` keep their meaning from when the setting was a
/// switch (no console, every series), and stay booleans in TOML and in
/// `ctl config`.
impl SettingType for ConsoleSetting {
    const VALUE_NAME: &'static str = "summary|full|off";
    const IS_SWITCH: bool = true;

    fn from_text(text: &str) -> Result<Self, String> {
        match text.trim() {
            "summary" => Ok(ConsoleSetting::Summary),
            "full" | "true" => Ok(ConsoleSetting::Full),
            "off" | "false" => Ok(ConsoleSetting::Off),
            other => Err(format!(
                "{other:?} is none of summary, full (or true), off (or false)"
            )),
        }
    }

    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Boolean(true) => Ok(ConsoleSetting::Full),
            toml::Value::Boolean(false) => Ok(ConsoleSetting::Off),
            toml::Value::String(text) => Self::from_text(text),
            other => Err(format!(
                "expected \"summary\", \"full\", \"off\", true or false, found {}",
                other.type_str()
            )),
        }
    }

    fn to_toml(&self) -> toml::Value {
        match self {
            ConsoleSetting::Off => toml::Value::Boolean(false),
            ConsoleSetting::Full => toml::Value::Boolean(true),
            ConsoleSetting::Summary => toml::Value::String("summary".into()),
        }
    }
}

/// What the console sink prints, once the defaults are applied.
///
/// The console used to print every series of every flush until Graphite
/// was given: `statkit serve &` in a shell then buried the prompt, and a
/// service's log grew by the number of series at each flush. Now, unset,
/// it prints one line per flush, and only to a terminal: redirected or
/// under a service manager, standard output stays quiet (the HTTP API and
/// the admin port show the same counts). `full` is the old dump, on
/// request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleMode {
    /// No console sink.
    Off,
    /// The summary line when standard output is a terminal, else nothing.
    Auto,
    /// The summary line, terminal or not.
    Summary,
    /// Every series of every flush.
    Full,
}

impl ConsoleMode {
    /// The mode for a `console` setting (unset: `None`) with `graphite`
    /// destinations or none.
    pub fn resolve(setting: Option<ConsoleSetting>, has_graphite: bool) -> ConsoleMode {
        match setting {
            Some(ConsoleSetting::Off) => ConsoleMode::Off,
            Some(ConsoleSetting::Summary) => ConsoleMode::Summary,
            Some(ConsoleSetting::Full) => ConsoleMode::Full,
            None if has_graphite => ConsoleMode::Off,
            None => ConsoleMode::Auto,
        }
    }
}

/// The sinks a flush goes to.
#[derive(Clone, Debug)]
pub struct SinksConfig {
    pub graphite: Vec<String>,
    pub naming: NamingOptions,
    /// Whether a console sink runs ([`ConsoleMode`] is not `Off`).
    pub console: bool,
    /// What it prints.
    pub console_mode: ConsoleMode,
    /// Flushes a sink's queue holds in memory (no state folder).
    pub queue: usize,
    /// Bytes a sink's disk queue holds (with a state folder).
    pub queue_bytes: u64,
    /// Flushes per second while a backlog is delivered.
    pub replay_rate: f64,
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
        let console_mode = ConsoleMode::resolve(s.get(&CONSOLE), !graphite.is_empty());
        Ok(SinksConfig {
            console: console_mode != ConsoleMode::Off,
            console_mode,
            graphite,
            naming,
            queue: positive(&SINK_QUEUE, s)?,
            queue_bytes: within(&SINK_QUEUE_BYTES, s, 4096..=usize::MAX)? as u64,
            replay_rate: within(&SINK_REPLAY_RATE, s, 0.01..=1e6)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_defaults_to_a_summary_without_graphite_and_off_with_it() {
        assert_eq!(ConsoleMode::resolve(None, false), ConsoleMode::Auto);
        assert_eq!(ConsoleMode::resolve(None, true), ConsoleMode::Off);
        // Given, it wins over graphite either way.
        for graphite in [false, true] {
            let given = |s| ConsoleMode::resolve(Some(s), graphite);
            assert_eq!(given(ConsoleSetting::Full), ConsoleMode::Full);
            assert_eq!(given(ConsoleSetting::Summary), ConsoleMode::Summary);
            assert_eq!(given(ConsoleSetting::Off), ConsoleMode::Off);
        }
    }

    #[test]
    fn console_reads_its_words_and_its_former_booleans() {
        let text = |t| ConsoleSetting::from_text(t);
        assert_eq!(text("true"), Ok(ConsoleSetting::Full));
        assert_eq!(text("full"), Ok(ConsoleSetting::Full));
        assert_eq!(text("false"), Ok(ConsoleSetting::Off));
        assert_eq!(text("off"), Ok(ConsoleSetting::Off));
        assert_eq!(text("summary"), Ok(ConsoleSetting::Summary));
        assert!(text("loud").is_err());
        let toml = |v| ConsoleSetting::from_toml(&v);
        assert_eq!(toml(toml::Value::Boolean(true)), Ok(ConsoleSetting::Full));
        assert_eq!(toml(toml::Value::Boolean(false)), Ok(ConsoleSetting::Off));
        assert_eq!(
            toml(toml::Value::String("summary".into())),
            Ok(ConsoleSetting::Summary)
        );
        assert!(toml(toml::Value::Integer(1)).is_err());
        // `ctl config` and --print-config show false and true as before.
        assert_eq!(ConsoleSetting::Off.to_toml(), toml::Value::Boolean(false));
        assert_eq!(ConsoleSetting::Full.to_toml(), toml::Value::Boolean(true));
        for setting in [
            ConsoleSetting::Off,
            ConsoleSetting::Summary,
            ConsoleSetting::Full,
        ] {
            assert_eq!(ConsoleSetting::from_toml(&setting.to_toml()), Ok(setting));
        }
    }
}
