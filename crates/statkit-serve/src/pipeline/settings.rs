//! The aggregation's settings: etsy statsd's flush and deletion rules, the
//! timers' statistics, and the limits that bound memory.

use std::sync::Arc;
use std::time::Duration;

use statkit_agg::{Bin, Deletion, HistogramSetting, Percentile, SampleWeighting, TableOptions};
use toml::Value;

use crate::settings::check::{positive, within};
use crate::settings::{declare, Alias, Setting, SettingType};
use crate::{ConfigError, Settings};

declare! {
    FLUSH_INTERVAL: Duration = Setting::new(
        "flush_interval",
        "10",
        "Time between flushes: seconds (fractions allowed) or with a unit (500ms, 1m)",
    );
    PERCENT_THRESHOLDS: Vec<f64> = Setting::new(
        "percent_thresholds",
        "90",
        "Timer percentiles to report; negative means the lowest N% (etsy's percentThreshold)",
    )
    .aliases(&[Alias::new("percent_threshold")])
    .value_name("N");
    SAMPLE_RATES: String = Setting::new(
        "sample_rates",
        "etsy",
        "How sample rates weigh timers: `etsy` (only the count) or `weighted` (every statistic)",
    )
    .value_name("etsy|weighted");
    TIMER_EXACT_LIMIT: usize = Setting::new(
        "timer_exact_limit",
        "65536",
        "Exact timer values kept per series per interval before a sketch takes over",
    );
    MAX_SERIES: usize = Setting::new(
        "max_series",
        "1000000",
        "Series per kind accepted before new names are refused and counted",
    );
    MAX_KEY_BYTES: usize = Setting::new(
        "max_key_bytes",
        "4096",
        "Longest key (name and tags) accepted, in bytes; longer ones are refused and counted",
    )
    .value_name("BYTES");
    MAX_SET_MEMBERS: usize = Setting::new(
        "max_set_members",
        "1000000",
        "Distinct members a set takes per interval; more are refused and counted",
    );
    KEY_SANITIZE: bool = Setting::new("key_sanitize", "true", "etsy's keyNameSanitize");
    DELETE_IDLE_STATS: bool = Setting::new(
        "delete_idle_stats",
        "false",
        "Delete idle counters, gauges, timers and sets instead of reporting zeros (etsy's deleteIdleStats)",
    );
    DELETE_COUNTERS: Option<bool> = Setting::new("delete_counters", "", "etsy's deleteCounters")
        .shown("as delete_idle_stats");
    DELETE_GAUGES: Option<bool> = Setting::new("delete_gauges", "", "etsy's deleteGauges")
        .shown("as delete_idle_stats");
    DELETE_TIMERS: Option<bool> = Setting::new("delete_timers", "", "etsy's deleteTimers")
        .shown("as delete_idle_stats");
    DELETE_SETS: Option<bool> = Setting::new("delete_sets", "", "etsy's deleteSets")
        .shown("as delete_idle_stats");
    GAUGES_MAX_TTL: usize = Setting::new(
        "gauges_max_ttl",
        "1",
        "etsy's gaugesMaxTTL: flushes an idle gauge is still reported with delete_gauges",
    );
    PREFIX_STATS: String = Setting::new(
        "prefix_stats",
        "statsd",
        "etsy's prefixStats: the prefix of the server's own metrics",
    );
    HISTOGRAM: Vec<Histogram> = Setting::new(
        "histogram",
        "",
        "etsy's histogram: bins (numbers or \"inf\") for timers whose key contains metric, e.g. [{ metric = \"api\", bins = [10, 100, \"inf\"] }]",
    )
    .value_name("TABLES");
    PROMETHEUS_BUCKETS: Vec<f64> = Setting::new(
        "prometheus_buckets",
        "5,10,25,50,100,250,500,1000,2500,5000,10000",
        "Bucket bounds in ms of the timers' Prometheus histograms (Prometheus' defaults, in ms)",
    )
    .aliases(&[Alias::new("prometheus_bucket")])
    .value_name("MS");
}

/// One etsy `histogram` entry as written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Histogram {
    metric: String,
    bins: Vec<Bin>,
}

impl SettingType for Histogram {
    const VALUE_NAME: &'static str = "TABLE";
    const FILE_ONLY: bool = true;

    fn from_text(_: &str) -> Result<Self, String> {
        Err("histograms are set in the configuration file".into())
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        let table = value
            .as_table()
            .ok_or("expected a table with metric and bins")?;
        if let Some(other) = table.keys().find(|k| *k != "metric" && *k != "bins") {
            return Err(format!(
                "unknown field `{other}`, expected `metric` or `bins`"
            ));
        }
        let metric = table
            .get("metric")
            .and_then(Value::as_str)
            .ok_or("metric: expected a string")?;
        let bins = table
            .get("bins")
            .and_then(Value::as_array)
            .ok_or("bins: expected an array")?
            .iter()
            .map(|bin| match bin {
                Value::Integer(n) => Ok(Bin::Below(*n as f64)),
                Value::Float(x) if x.is_finite() => Ok(Bin::Below(*x)),
                Value::String(word) if word == "inf" => Ok(Bin::Infinity),
                other => Err(format!("bin {other} is neither a number nor \"inf\"")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Histogram {
            metric: metric.to_owned(),
            bins,
        })
    }

    fn to_toml(&self) -> Value {
        let bins = self
            .bins
            .iter()
            .map(|bin| match bin {
                Bin::Below(x) => Value::Float(*x),
                Bin::Infinity => Value::String("inf".into()),
            })
            .collect();
        let mut table = toml::Table::new();
        table.insert("metric".into(), Value::String(self.metric.clone()));
        table.insert("bins".into(), Value::Array(bins));
        Value::Table(table)
    }
}

fn percentiles(s: &Settings) -> Result<Arc<[Percentile]>, ConfigError> {
    let list = s.get(&PERCENT_THRESHOLDS);
    if list.is_empty() {
        return Err(ConfigError::invalid(
            PERCENT_THRESHOLDS.key(),
            "at least one threshold is needed",
        ));
    }
    list.iter()
        .map(|&p| {
            Percentile::new(p)
                .map_err(|e| ConfigError::invalid(PERCENT_THRESHOLDS.key(), e.to_string()))
        })
        .collect()
}

/// The timers' Prometheus bucket bounds, checked.
pub(crate) fn buckets(s: &Settings) -> Result<Arc<[f64]>, ConfigError> {
    let bounds = s.get(&PROMETHEUS_BUCKETS);
    let key = PROMETHEUS_BUCKETS.key();
    if bounds.len() > 64 {
        return Err(ConfigError::invalid(key, "at most 64 bounds"));
    }
    if !bounds.iter().all(|b| b.is_finite()) || !bounds.windows(2).all(|w| w[0] < w[1]) {
        return Err(ConfigError::invalid(
            key,
            "bounds must be finite and strictly ascending",
        ));
    }
    Ok(Arc::from(bounds))
}

/// The aggregation's options. `timer_buckets` are the bounds flushes carry
/// (none unless the history store reads them).
pub(crate) fn options(
    s: &Settings,
    timer_buckets: Arc<[f64]>,
) -> Result<statkit_agg::Options, ConfigError> {
    let interval = within(
        &FLUSH_INTERVAL,
        s,
        Duration::from_millis(1)..=Duration::from_secs(86_400),
    )?;
    let weighting = match s.get(&SAMPLE_RATES).as_str() {
        "etsy" => SampleWeighting::Etsy,
        "weighted" => SampleWeighting::Weighted,
        other => {
            return Err(ConfigError::invalid(
                SAMPLE_RATES.key(),
                format!("{other:?} is neither \"etsy\" nor \"weighted\""),
            ))
        }
    };
    let idle = s.get(&DELETE_IDLE_STATS);
    let deletion = Deletion {
        counters: s.get(&DELETE_COUNTERS).unwrap_or(idle),
        gauges: s.get(&DELETE_GAUGES).unwrap_or(idle),
        timers: s.get(&DELETE_TIMERS).unwrap_or(idle),
        sets: s.get(&DELETE_SETS).unwrap_or(idle),
    };
    let histograms = s
        .get(&HISTOGRAM)
        .into_iter()
        .map(|h| HistogramSetting {
            metric: h.metric,
            bins: h.bins,
        })
        .collect();
    Ok(statkit_agg::Options {
        table: TableOptions {
            sanitize_keys: s.get(&KEY_SANITIZE),
            weighting,
            timer_exact_limit: positive(&TIMER_EXACT_LIMIT, s)?,
            max_series: positive(&MAX_SERIES, s)?,
            max_key_bytes: positive(&MAX_KEY_BYTES, s)?,
            max_set_members: positive(&MAX_SET_MEMBERS, s)?,
            early_drain_names: statkit_agg::EARLY_DRAIN_NAMES,
        },
        interval_ms: interval.as_secs_f64() * 1000.0,
        percentiles: percentiles(s)?,
        histograms,
        buckets: timer_buckets,
        deletion,
        // etsy forces any TTL below 2 to 1.
        gauges_max_ttl: u32::try_from(s.get(&GAUGES_MAX_TTL))
            .unwrap_or(u32::MAX)
            .max(1),
        series_ttl: crate::prometheus::settings::series_ttl(s).map(|ttl| {
            let flushes = (ttl.as_secs_f64() / interval.as_secs_f64()).ceil();
            flushes.clamp(1.0, f64::from(u32::MAX)) as u32
        }),
        prefix_stats: s.get(&PREFIX_STATS),
    })
}
