//! Prometheus remote-write 1.0: a flush's [`Export`] as a `WriteRequest`
//! in protobuf, compressed with snappy's block format, as the
//! specification asks (<https://prometheus.io/docs/specs/remote_write_spec/>).
//!
//! Each exported series gives time series named as `/metrics` names them:
//! a counter `<name>_total`; a gauge or set `<name>`; a timer
//! `<name>_bucket{le="..."}` for every bound and `+Inf`, `<name>_sum` and
//! `<name>_count`. Every sample has the flush time. Labels are sorted by
//! name, `__name__` among them, as the specification requires.

use crate::export::{Export, Value};
use crate::prometheus::float;

/// The remote-write 1.0 messages (`prompb`), only the fields statkit
/// sends.
pub mod proto {
    /// A request: the series of one flush.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// One series: its labels and samples.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Unix milliseconds.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

/// The headers a remote-write 1.0 request carries besides
/// authentication.
pub const HEADERS: [(&str, &str); 3] = [
    ("content-type", "application/x-protobuf"),
    ("content-encoding", "snappy"),
    ("x-prometheus-remote-write-version", "0.1.0"),
];

/// Why a request could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RemoteWriteError {
    #[error("snappy compression failed: {0}")]
    Compress(#[from] snap::Error),
}

/// The flush as a `WriteRequest`.
pub fn write_request(export: &Export<'_>) -> proto::WriteRequest {
    let les: Vec<String> = export.bounds.iter().map(|&b| float(b)).collect();
    let mut request = proto::WriteRequest {
        timeseries: Vec::with_capacity(export.series.len()),
    };
    let mut push = |name: String, labels: &[(String, String)], le: Option<&str>, value: f64| {
        let mut all = Vec::with_capacity(labels.len() + 2);
        all.push(label("__name__", name));
        all.extend(labels.iter().map(|(n, v)| label(n, v.clone())));
        if let Some(le) = le {
            all.push(label("le", le.to_owned()));
        }
        all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        request.timeseries.push(proto::TimeSeries {
            labels: all,
            samples: vec![proto::Sample {
                value,
                timestamp: export.timestamp_ms,
            }],
        });
    };
    for s in &export.series {
        let (name, labels) = (&s.name, &s.labels[..]);
        match s.value {
            Value::Counter(total) => push(format!("{name}_total"), labels, None, total),
            Value::Gauge(value) => push(name.clone(), labels, None, value),
            Value::Histogram {
                count,
                sum,
                buckets,
            } => {
                let bucket = format!("{name}_bucket");
                for (le, &n) in les.iter().zip(buckets) {
                    push(bucket.clone(), labels, Some(le), n);
                }
                push(bucket, labels, Some("+Inf"), count);
                push(format!("{name}_sum"), labels, None, sum);
                push(format!("{name}_count"), labels, None, count);
            }
        }
    }
    request
}

fn label(name: &str, value: String) -> proto::Label {
    proto::Label {
        name: name.to_owned(),
        value,
    }
}

/// The request body: the `WriteRequest` in protobuf, snappy-compressed
/// (block format, not framed).
pub fn encode(export: &Export<'_>) -> Result<Vec<u8>, RemoteWriteError> {
    let protobuf = prost::Message::encode_to_vec(&write_request(export));
    Ok(snap::raw::Encoder::new().compress_vec(&protobuf)?)
}

#[cfg(test)]
mod tests;
