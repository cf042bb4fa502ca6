//! Prometheus remote-write 1.0: a flush's [`Export`] as a `WriteRequest`
//! in protobuf, compressed with snappy's block format, as the
//! specification asks (<https://prometheus.io/docs/specs/remote_write_spec/>).
//!
//! Each exported series gives time series named as `/metrics` names them:
//! a counter `<name>_total`; a gauge or set `<name>`; a timer
//! `<name>_bucket{le="..."}` for every bound and `+Inf`, `<name>_sum` and
//! `<name>_count`. Every sample has the flush time. Labels are sorted by
//! name, `__name__` among them, as the specification requires.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

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

/// The flush as `WriteRequest` messages: what [`encode`] writes, for
/// readers of a request (and the tests that hold the two equal).
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
///
/// The protobuf is written straight from the export's names and labels,
/// the bytes prost writes for [`write_request`]'s messages (a test holds
/// them equal), without building those messages: a flush of 100k series
/// would otherwise allocate three strings per label of 280k time series.
pub fn encode(export: &Export<'_>) -> Result<Vec<u8>, RemoteWriteError> {
    let les: Vec<String> = export.bounds.iter().map(|&b| float(b)).collect();
    let mut out = Vec::with_capacity(export.series.len() * 160);
    let mut writer = Writer {
        out: &mut out,
        labels: Vec::new(),
        timestamp: export.timestamp_ms,
    };
    for s in &export.series {
        let (name, labels) = (s.name.as_str(), &s.labels[..]);
        match s.value {
            Value::Counter(total) => writer.series([name, "_total"], labels, None, total),
            Value::Gauge(value) => writer.series([name, ""], labels, None, value),
            Value::Histogram {
                count,
                sum,
                buckets,
            } => {
                for (le, &n) in les.iter().zip(buckets) {
                    writer.series([name, "_bucket"], labels, Some(le), n);
                }
                writer.series([name, "_bucket"], labels, Some("+Inf"), count);
                writer.series([name, "_sum"], labels, None, sum);
                writer.series([name, "_count"], labels, None, count);
            }
        }
    }
    Ok(snap::raw::Encoder::new().compress_vec(&out)?)
}

/// Writes `TimeSeries` messages (field 1 of `WriteRequest`) as prost does:
/// fields in tag order, those at their default value (0, -0, "") left
/// out.
struct Writer<'o, 'e> {
    out: &'o mut Vec<u8>,
    /// The series at hand's labels, sorted, reused from series to series.
    labels: Vec<(&'e str, [&'e str; 2])>,
    timestamp: i64,
}

impl<'e> Writer<'_, 'e> {
    /// One series: `name` (in two pieces) with `labels` and `le`, one
    /// sample.
    fn series(
        &mut self,
        name: [&'e str; 2],
        labels: &'e [(String, String)],
        le: Option<&'e str>,
        value: f64,
    ) {
        self.labels.clear();
        self.labels.push(("__name__", name));
        (self.labels).extend(labels.iter().map(|(n, v)| (n.as_str(), [v.as_str(), ""])));
        if let Some(le) = le {
            self.labels.push(("le", [le, ""]));
        }
        self.labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let label_len =
            |(n, v): &(&str, [&str; 2])| string_len(n.len()) + string_len(v[0].len() + v[1].len());
        let sample_len = sample_len(value, self.timestamp);
        let series_len: usize = (self.labels.iter())
            .map(|l| message_len(label_len(l)))
            .sum::<usize>()
            + message_len(sample_len);
        delimited(1, series_len, self.out);
        for label in &self.labels {
            delimited(1, label_len(label), self.out);
            string(1, &[label.0, ""], self.out);
            string(2, &label.1, self.out);
        }
        delimited(2, sample_len, self.out);
        if value != 0.0 {
            encode_key(1, WireType::SixtyFourBit, self.out);
            self.out.extend_from_slice(&value.to_le_bytes());
        }
        if self.timestamp != 0 {
            encode_key(2, WireType::Varint, self.out);
            encode_varint(self.timestamp as u64, self.out);
        }
    }
}

/// The bytes of a field of tag 1 or 2 (one byte of key) holding `len`
/// bytes behind their length.
fn message_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// A string field's bytes; an empty string is left out.
fn string_len(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        message_len(len)
    }
}

/// A `Sample`'s bytes: a double (key and 8 bytes) and a varint.
fn sample_len(value: f64, timestamp: i64) -> usize {
    let value = if value != 0.0 { 9 } else { 0 };
    let timestamp = if timestamp != 0 {
        1 + encoded_len_varint(timestamp as u64)
    } else {
        0
    };
    value + timestamp
}

fn delimited(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A string field from `pieces`, left out when empty.
fn string(tag: u32, pieces: &[&str; 2], out: &mut Vec<u8>) {
    let len = pieces[0].len() + pieces[1].len();
    if len > 0 {
        delimited(tag, len, out);
        out.extend_from_slice(pieces[0].as_bytes());
        out.extend_from_slice(pieces[1].as_bytes());
    }
}

#[cfg(test)]
mod tests;
