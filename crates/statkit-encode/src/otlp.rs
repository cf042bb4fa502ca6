//! OTLP/HTTP metrics: a flush's [`Export`] as an
//! `ExportMetricsServiceRequest` in protobuf, the body of a POST to an
//! OpenTelemetry receiver's `/v1/metrics`.
//!
//! - The host's labels are the resource's attributes; a key's tags are
//!   its data point's attributes.
//! - A counter is a monotonic cumulative Sum (no `_total`: OTLP names
//!   carry no suffix; a Prometheus exporter adds it), a gauge a Gauge, a
//!   set a Gauge of the members its interval saw.
//! - A timer is a cumulative Histogram in milliseconds with the
//!   `--prometheus-bucket` bounds as explicit bounds. OTLP counts are
//!   whole numbers: counts that sample rates made fractional are rounded,
//!   cumulatively, so the buckets still add up to the count.
//! - Cumulative points have no start time (0, "unknown"): statkit's
//!   totals run since a series was first seen, across restarts.
//!
//! Series of one name and kind are one Metric with a point per label set.

pub mod proto;

use self::proto::{
    AggregationTemporality, AnyValue, Data, ExportMetricsServiceRequest, Gauge, Histogram,
    HistogramDataPoint, InstrumentationScope, KeyValue, Metric, NumberDataPoint, Resource,
    ResourceMetrics, ScopeMetrics, Sum,
};
use crate::export::{Export, Series, Value};
use crate::labels::HostLabels;

/// The request's content type.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// The flush as a request; `export` should carry no host labels (they are
/// `resource`'s attributes here).
pub fn request(export: &Export<'_>, resource: &HostLabels) -> ExportMetricsServiceRequest {
    let time = u64::try_from(export.timestamp_ms)
        .unwrap_or(0)
        .saturating_mul(1_000_000);
    let mut metrics: Vec<Metric> = Vec::new();
    let mut previous: Option<&Series<'_>> = None;
    for s in &export.series {
        let same = previous.is_some_and(|p| p.name == s.name && p.kind == s.kind);
        if !same {
            metrics.push(metric(s));
        }
        previous = Some(s);
        if let Some(data) = metrics.last_mut().and_then(|m| m.data.as_mut()) {
            add_point(data, s, time, export.bounds);
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: attributes(resource.pairs()),
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "statkit".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }),
                metrics,
            }],
        }],
    }
}

/// The request body.
pub fn encode(export: &Export<'_>, resource: &HostLabels) -> Vec<u8> {
    prost::Message::encode_to_vec(&request(export, resource))
}

/// An empty metric of `s`'s name and kind.
fn metric(s: &Series<'_>) -> Metric {
    let cumulative = AggregationTemporality::Cumulative as i32;
    let (data, unit, what) = match s.value {
        Value::Counter(_) => (
            Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            "",
            "statsd counter, count since first seen",
        ),
        Value::Gauge(_) => (
            Data::Gauge(Gauge::default()),
            "",
            if s.kind == statkit_store::Kind::Set {
                "statsd set, members in the last flush"
            } else {
                "statsd gauge"
            },
        ),
        Value::Histogram { .. } => (
            Data::Histogram(Histogram {
                data_points: Vec::new(),
                aggregation_temporality: cumulative,
            }),
            "ms",
            "statsd timer, milliseconds since first seen",
        ),
    };
    Metric {
        name: s.name.clone(),
        description: what.into(),
        unit: unit.into(),
        data: Some(data),
    }
}

fn add_point(data: &mut Data, s: &Series<'_>, time: u64, bounds: &[f64]) {
    let attributes = attributes(&s.labels);
    let number = |value: f64| NumberDataPoint {
        attributes: attributes.clone(),
        start_time_unix_nano: 0,
        time_unix_nano: time,
        as_double: Some(value),
    };
    match (data, s.value) {
        (Data::Sum(sum), Value::Counter(total)) => sum.data_points.push(number(total)),
        (Data::Gauge(gauge), Value::Gauge(value)) => gauge.data_points.push(number(value)),
        (
            Data::Histogram(histogram),
            Value::Histogram {
                count,
                sum,
                buckets,
            },
        ) => {
            let (count, bucket_counts) = whole_buckets(count, buckets);
            let explicit_bounds = if buckets.is_empty() {
                Vec::new()
            } else {
                bounds.to_vec()
            };
            histogram.data_points.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: 0,
                time_unix_nano: time,
                count,
                sum: Some(sum),
                bucket_counts,
                explicit_bounds,
            });
        }
        // A metric is made from the first series of its kind.
        _ => {}
    }
}

/// The count and per-bucket counts (the last one above every bound) of
/// cumulative `buckets`, in whole numbers that add up to the count.
fn whole_buckets(count: f64, buckets: &[f64]) -> (u64, Vec<u64>) {
    let whole = |x: f64| {
        if x.is_finite() && x > 0.0 {
            x.round() as u64
        } else {
            0
        }
    };
    let count = whole(count);
    let mut out = Vec::with_capacity(buckets.len() + 1);
    let mut below = 0;
    for &at_most in buckets {
        let at_most = whole(at_most).clamp(below, count);
        out.push(at_most - below);
        below = at_most;
    }
    out.push(count - below);
    (count, out)
}

fn attributes(pairs: &[(String, String)]) -> Vec<KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(AnyValue {
                string_value: Some(value.clone()),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests;
