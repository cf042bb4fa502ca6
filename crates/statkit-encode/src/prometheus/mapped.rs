//! The store's series through a mapping file.
//!
//! What a mapped timer shows depends on what the store keeps, which is
//! not statsd_exporter's per-value observations:
//!
//! - **histogram**: `_bucket` for each of the rule's bounds the store
//!   counts at (the server adds every rule's bounds to the store's, so all
//!   of them, up to the store's 64), `+Inf`, `_sum` and `_count`, since
//!   the series was first seen, in seconds.
//! - **summary**: `_sum` and `_count` since first seen, in seconds, and
//!   of the rule's quantiles those a flush computes: 0.5 (its median), 0
//!   and 1 (its lowest and highest value) and the server's first percent
//!   threshold (0.9 by default), from the newest flush that had values
//!   within the rule's `max_age` (10 minutes unless set; `NaN` when none
//!   did). Other quantiles are left out.

use std::borrow::Cow;
use std::time::Duration;

use statkit_mapping::{Mapped, MetricKind, Observer, Rule};
use statkit_store::{split_key, Kind, Resolution, Series, Store};

use super::write::{
    bucket, count_at, float, label_set, line, quantile_of, reserved, tag_pairs, with_label, Les,
};
use super::{idle, plain, Entry, Mapping, Shape};

/// The kind a rule's `match_metric_type` sees: a set is a gauge.
pub fn metric_kind(kind: Kind) -> MetricKind {
    match kind {
        Kind::Counter => MetricKind::Counter,
        Kind::Gauge | Kind::Set => MetricKind::Gauge,
        Kind::Timer => MetricKind::Observer,
    }
}

/// Every series the rules do not drop, mapped or plain.
pub(super) fn entries<'s>(
    store: &'s Store,
    mapping: Mapping<'_>,
    series_ttl: Option<Duration>,
) -> Vec<Entry<'s>> {
    let mut out = Vec::with_capacity(store.len());
    for (kind, key, series) in store.iter() {
        if store.is_own(key) {
            out.push(plain((kind, key, series)));
            continue;
        }
        let (name, tags) = split_key(key);
        let metric = match mapping.cache.map(mapping.mapper, name, metric_kind(kind)) {
            Mapped::Drop => continue,
            Mapped::Unmapped => {
                if !idle(store, series, series_ttl) {
                    out.push(plain((kind, key, series)));
                }
                continue;
            }
            Mapped::Metric(metric) => metric,
        };
        if idle(store, series, metric.rule.ttl.or(series_ttl)) {
            continue;
        }
        let reserved = reserved(kind, Some(&metric.rule));
        let mut pairs = tag_pairs(tags, reserved);
        for (label, value) in &metric.labels {
            let value = Cow::Owned(value.clone());
            // A rule's `le` on a histogram (`quantile` on a summary) is
            // renamed as such a tag is.
            let label = match reserved == Some(label.as_str()) {
                true => format!("tag_{label}"),
                false => label.clone(),
            };
            match pairs.iter_mut().find(|(n, _)| *n == label) {
                Some(pair) => pair.1 = value,
                None => pairs.push((label, value)),
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let total = metric.name.ends_with("_total");
        out.push(Entry {
            exposed: metric.name.clone(),
            kind,
            shape: Shape::Mapped {
                total,
                rule: metric.rule.clone(),
            },
            labels: label_set(&pairs),
            raw_name: name,
            series,
        });
    }
    out
}

/// A mapped timer's samples, in seconds.
pub(super) fn observer(out: &mut String, e: &Entry<'_>, rule: &Rule, les: &Les) {
    let (family, labels, s) = (e.family(), &e.labels, e.series);
    match &rule.observer {
        Observer::Histogram { buckets } => {
            for &bound in buckets {
                if let Some(count) = count_at(les, &s.buckets, bound) {
                    bucket(out, family, labels, &float(bound), count);
                }
            }
            bucket(out, family, labels, "+Inf", s.total);
        }
        Observer::Summary {
            quantiles, max_age, ..
        } => {
            let row = newest_values(s, les.last_flush, max_age.unwrap_or(DEFAULT_MAX_AGE));
            for q in quantiles {
                if let Some(ms) = quantile_of(les, &row, q.quantile) {
                    with_label(
                        out,
                        family,
                        "",
                        labels,
                        ("quantile", &float(q.quantile)),
                        ms / 1000.0,
                    );
                }
            }
        }
    }
    line(out, family, "_sum", labels, s.sum / 1000.0);
    line(out, family, "_count", labels, s.total);
}

/// The Prometheus client's default `max_age` of a summary.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// A timer's newest row with values (its median not `NaN`) flushed within
/// `max_age` of `now`: the newest flush's, exact, or else one kept in the
/// flush-resolution history (as `f32`); `NaN`s when there is none.
fn newest_values(s: &Series, now: u64, max_age: Duration) -> Cow<'_, [f64]> {
    const MEDIAN: usize = 3;
    if s.last.get(MEDIAN).is_some_and(|m| !m.is_nan()) {
        return Cow::Borrowed(&s.last);
    }
    let since = now.saturating_sub(max_age.as_secs());
    let newest = s
        .history(Resolution::Flush, since)
        .filter(|(_, row)| row.get(MEDIAN).is_some_and(|m| !m.is_nan()))
        .last();
    match newest {
        Some((_, row)) => Cow::Owned(row.iter().map(|&v| f64::from(v)).collect()),
        None => Cow::Owned(vec![f64::NAN; s.last.len()]),
    }
}
