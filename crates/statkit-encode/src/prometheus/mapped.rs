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
//!   of the rule's quantiles those the newest flush has: 0.5 (its median),
//!   0 and 1 (its lowest and highest value) and the server's first percent
//!   threshold (0.9 by default). Other quantiles are left out, and these
//!   cover the last flush interval, not `max_age`.

use std::borrow::Cow;

use statkit_mapping::{Mapped, MetricKind, Observer, Rule};
use statkit_store::{split_key, Kind, Store};

use super::write::{
    bucket, count_at, float, label_set, line, quantile_of, reserved, tag_pairs, with_label, Les,
};
use super::{plain, Entry, Mapping, Shape};

/// The kind a rule's `match_metric_type` sees: a set is a gauge.
pub fn metric_kind(kind: Kind) -> MetricKind {
    match kind {
        Kind::Counter => MetricKind::Counter,
        Kind::Gauge | Kind::Set => MetricKind::Gauge,
        Kind::Timer => MetricKind::Observer,
    }
}

/// Whether `key` is one of the server's own series (`statsd.<name>`),
/// which no rule maps.
pub fn is_own(store: &Store, key: &[u8]) -> bool {
    let prefix = store.options().own_prefix.as_bytes();
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(b"."))
        .is_some_and(|own| !own.contains(&b'.') && !own.contains(&b';'))
}

/// Every series the rules do not drop, mapped or plain.
pub(super) fn entries<'s>(store: &'s Store, mapping: Mapping<'_>) -> Vec<Entry<'s>> {
    let mut out = Vec::with_capacity(store.len());
    for (kind, key, series) in store.iter() {
        if is_own(store, key) {
            out.push(plain((kind, key, series)));
            continue;
        }
        let (name, tags) = split_key(key);
        let metric = match mapping.cache.map(mapping.mapper, name, metric_kind(kind)) {
            Mapped::Drop => continue,
            Mapped::Unmapped => {
                out.push(plain((kind, key, series)));
                continue;
            }
            Mapped::Metric(metric) => metric,
        };
        let mut pairs = tag_pairs(tags, reserved(kind, Some(&metric.rule)));
        for (label, value) in &metric.labels {
            let value = Cow::Owned(value.clone());
            match pairs.iter_mut().find(|(n, _)| n == label) {
                Some(pair) => pair.1 = value,
                None => pairs.push((label.clone(), value)),
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let total = metric.name.ends_with("_total");
        let family = match (kind, metric.name.strip_suffix("_total")) {
            (Kind::Counter, Some(stem)) => stem.to_owned(),
            _ => metric.name.clone(),
        };
        out.push(Entry {
            family,
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
    let (family, labels, s) = (&e.family, &e.labels, e.series);
    match &rule.observer {
        Observer::Histogram { buckets } => {
            for &bound in buckets {
                if let Some(count) = count_at(les, &s.buckets, bound) {
                    bucket(out, family, labels, &float(bound), count);
                }
            }
            bucket(out, family, labels, "+Inf", s.total);
        }
        Observer::Summary { quantiles, .. } => {
            for q in quantiles {
                if let Some(ms) = quantile_of(les, &s.last, q.quantile) {
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
