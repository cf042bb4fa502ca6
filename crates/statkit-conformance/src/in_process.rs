//! Plays a case through statkit's own aggregation, in process.
//!
//! The datagrams go through a receiver's [`Table`] and one
//! [`Aggregator`] flush, the code `statkit serve` runs between its sockets
//! and its sinks, so a case that passes here holds for the server's
//! parsing and arithmetic; only the transport and the Graphite encoding are
//! left to the network runner.

use std::sync::Arc;

use statkit_agg::{Aggregator, HistogramSetting, Options, SampleWeighting, Snapshot, Table};

use crate::case::{Case, Kind, SampleRates};
use crate::outcome::{Observed, Series};

/// Which of statkit's settings a case runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    /// The case's settings over statkit's defaults.
    #[default]
    Default,
    /// The case's settings with every statkit setting that has an etsy
    /// behaviour set to it: etsy's sample rates, and no limit on keys, set
    /// members, series or exact timer values (etsy has none). What statkit
    /// still does differently then is its parser's deliberate choices.
    EtsyStrict,
}

/// The flush timestamp; cases compare no times.
const FLUSH_AT: u64 = 1_700_000_000;

/// Aggregation options for `case` under `profile`.
pub fn options(case: &Case, profile: Profile) -> Options {
    let mut options = Options::default();
    let s = &case.settings;
    let table = &mut options.table;
    if let Some(sanitize) = s.key_sanitize {
        table.sanitize_keys = sanitize;
    }
    if let Some(rates) = s.sample_rates {
        table.weighting = match rates {
            SampleRates::Etsy => SampleWeighting::Etsy,
            SampleRates::Weighted => SampleWeighting::Weighted,
        };
    }
    let limits = [
        (&mut table.max_key_bytes, s.max_key_bytes),
        (&mut table.max_set_members, s.max_set_members),
        (&mut table.max_series, s.max_series),
        (&mut table.timer_exact_limit, s.timer_exact_limit),
    ];
    for (slot, setting) in limits {
        if let Some(value) = setting {
            *slot = value;
        }
        if profile == Profile::EtsyStrict {
            *slot = usize::MAX;
        }
    }
    if profile == Profile::EtsyStrict {
        table.weighting = SampleWeighting::Etsy;
    }
    if let Some(seconds) = s.flush_interval {
        options.interval_ms = seconds * 1000.0;
    }
    options.percentiles = Arc::from(case.percentiles.clone());
    options.histograms = case
        .histograms
        .iter()
        .map(|(metric, bins)| HistogramSetting {
            metric: metric.clone(),
            bins: bins.clone(),
        })
        .collect();
    options
}

/// Sends every datagram of `case` to one table, drains it into an
/// aggregator and reports the first flush.
pub fn run(case: &Case, profile: Profile) -> Observed {
    let options = options(case, profile);
    let prefix = options.prefix_stats.clone();
    let mut table = Table::new(options.table);
    let mut aggregator = Aggregator::new(options);
    for datagram in &case.datagrams {
        table.ingest(datagram);
    }
    aggregator.absorb(&mut table);
    observe(&aggregator.flush(FLUSH_AT), &prefix)
}

/// The neutral form of a flush; `prefix` is where the server's own
/// counters live (etsy's `prefixStats`).
pub fn observe(snapshot: &Snapshot, prefix: &str) -> Observed {
    let mut observed = Observed::default();
    let own = format!("{prefix}.");
    for (key, flush) in snapshot.counters() {
        let key = String::from_utf8_lossy(key);
        if let Some(stat) = key.strip_prefix(&own) {
            if stat == "bad_lines_seen" {
                observed.bad_lines = flush.count as u64;
            }
            continue;
        }
        let series = observed.series_mut(Kind::Counter, &key);
        series.stats.insert("count".into(), flush.count);
        series.stats.insert("rate".into(), flush.rate);
    }
    for (key, value) in snapshot.gauges() {
        let key = String::from_utf8_lossy(key);
        if !key.starts_with(&own) {
            let series = observed.series_mut(Kind::Gauge, &key);
            series.stats.insert("value".into(), value);
        }
    }
    for (key, summary) in snapshot.timers() {
        let series = observed.series_mut(Kind::Timer, &String::from_utf8_lossy(key));
        timer_stats(series, summary, snapshot);
    }
    for (key, members) in snapshot.sets() {
        let series = observed.series_mut(Kind::Set, &String::from_utf8_lossy(key));
        series.stats.insert("cardinality".into(), members as f64);
    }
    for (name, value) in &snapshot.own {
        match *name {
            "samples_refused" | "series_refused" => observed.refused += *value as u64,
            "events_received" => observed.events = *value as u64,
            "service_checks_received" => observed.service_checks = *value as u64,
            _ => {}
        }
    }
    observed
}

/// A timer's statistics under the names etsy's Graphite backend gives them.
fn timer_stats(series: &mut Series, summary: &statkit_agg::TimerSummary, snapshot: &Snapshot) {
    let stats = &mut series.stats;
    stats.insert("count".into(), summary.count);
    stats.insert("count_ps".into(), summary.count_ps);
    let Some(s) = &summary.stats else {
        return;
    };
    for (name, value) in [
        ("lower", s.lower),
        ("upper", s.upper),
        ("mean", s.mean),
        ("median", s.median),
        ("std", s.std),
        ("sum", s.sum),
        ("sum_squares", s.sum_squares),
    ] {
        stats.insert(name.into(), value);
    }
    for t in &s.thresholds {
        let Some(percentile) = snapshot.percentiles.get(t.percentile) else {
            continue;
        };
        let label = percentile.label();
        let bound = if percentile.pct() > 0.0 {
            "upper"
        } else {
            "lower"
        };
        stats.insert(format!("count_{label}"), t.count);
        stats.insert(format!("mean_{label}"), t.mean);
        stats.insert(format!("{bound}_{label}"), t.bound);
        stats.insert(format!("sum_{label}"), t.sum);
        stats.insert(format!("sum_squares_{label}"), t.sum_squares);
    }
    for (label, count) in &s.histogram {
        stats.insert(label.clone(), *count);
    }
}
