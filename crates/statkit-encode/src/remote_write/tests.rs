use proptest::prelude::*;
use prost::Message;

use super::proto::{Sample, WriteRequest};
use super::*;
use crate::export::tests::{flush, BOUNDS};
use crate::labels::HostLabels;

/// What a receiver reads from a request body.
fn decoded(body: &[u8]) -> WriteRequest {
    let protobuf = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    WriteRequest::decode(&protobuf[..]).unwrap()
}

/// Each series as `name{a="1",...} value@timestamp`.
fn lines(request: &WriteRequest) -> Vec<String> {
    request
        .timeseries
        .iter()
        .map(|ts| {
            let labels: Vec<String> = ts
                .labels
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            let samples: Vec<String> = ts
                .samples
                .iter()
                .map(|Sample { value, timestamp }| format!("{value}@{timestamp}"))
                .collect();
            format!("{{{}}} {}", labels.join(","), samples.join(" "))
        })
        .collect()
}

#[test]
fn a_flush_is_snappy_compressed_protobuf_with_the_metrics_names() {
    let snapshot = flush(
        1000,
        "hits;env=prod:3|c\nmem:7|g\nusers:a|s\nlat:5|ms\nlat:50|ms\nlat:500|ms",
    );
    let host = HostLabels::parse(&["host=web1"]).unwrap();
    let export = Export::new(&snapshot, &BOUNDS, &host);
    let body = encode(&export).unwrap();
    let request = decoded(&body);
    assert_eq!(request, write_request(&export));
    let t = "@1000000";
    assert_eq!(
        lines(&request)
            .into_iter()
            .filter(|line| !line.contains("statsd_"))
            .collect::<Vec<_>>(),
        [
            format!(r#"{{__name__="hits_total",env="prod",host="web1"}} 3{t}"#),
            format!(r#"{{__name__="lat_bucket",host="web1",le="10.0"}} 1{t}"#),
            format!(r#"{{__name__="lat_bucket",host="web1",le="100.0"}} 2{t}"#),
            format!(r#"{{__name__="lat_bucket",host="web1",le="+Inf"}} 3{t}"#),
            format!(r#"{{__name__="lat_sum",host="web1"}} 555{t}"#),
            format!(r#"{{__name__="lat_count",host="web1"}} 3{t}"#),
            format!(r#"{{__name__="mem",host="web1"}} 7{t}"#),
            format!(r#"{{__name__="users",host="web1"}} 1{t}"#),
        ]
    );
}

#[test]
fn labels_sort_by_name_with_capitals_before_the_name() {
    let snapshot = flush(1, "hits;Zone=a;b=c:1|c\n");
    let export = Export::new(&snapshot, &BOUNDS, &HostLabels::default());
    let names: Vec<_> = write_request(&export).timeseries[0]
        .labels
        .iter()
        .map(|l| l.name.clone())
        .collect();
    assert_eq!(names, ["Zone", "__name__", "b"]);
}

#[test]
fn the_headers_are_the_specifications() {
    let headers: Vec<_> = HEADERS.iter().map(|(n, _)| *n).collect();
    assert!(headers.contains(&"content-encoding"));
    assert!(HEADERS.contains(&("x-prometheus-remote-write-version", "0.1.0")));
}

/// statsd lines of every kind with hostile names and tags.
fn workload() -> impl Strategy<Value = String> {
    let key = "[a-zA-Z0-9._;=\\-\"\\\\ ]{1,12}";
    let line = (
        key,
        0u32..1000,
        prop::sample::select(vec!["c", "g", "ms", "s"]),
    )
        .prop_map(|(key, value, kind)| format!("{key}:{value}|{kind}"));
    prop::collection::vec(line, 0..30).prop_map(|lines| lines.join("\n"))
}

proptest! {
    /// Whatever the keys, the body decodes to the request; every series'
    /// labels are sorted with distinct names, `__name__` among them; and
    /// no two series have the same labels (a receiver would refuse the
    /// request).
    #[test]
    fn every_request_is_valid(workload in workload(), host in "[a-z]{1,5}") {
        let snapshot = flush(7, &workload);
        let host = HostLabels::parse(&[format!("host={host}")]).unwrap();
        let export = Export::new(&snapshot, &BOUNDS, &host);
        let body = encode(&export).unwrap();
        let protobuf = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        // The very bytes prost writes for the messages.
        prop_assert_eq!(&protobuf, &write_request(&export).encode_to_vec());
        let request = decoded(&body);
        let mut seen = std::collections::HashSet::new();
        for ts in &request.timeseries {
            prop_assert!(ts.labels.windows(2).all(|w| w[0].name < w[1].name));
            prop_assert!(ts.labels.iter().any(|l| l.name == "__name__"));
            prop_assert!(ts.labels.iter().any(|l| l.name == "host"));
            prop_assert_eq!(ts.samples.len(), 1);
            let labels = format!("{:?}", ts.labels);
            prop_assert!(seen.insert(labels));
        }
    }
}
