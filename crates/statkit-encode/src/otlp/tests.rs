use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::export::tests::{flush, BOUNDS};

fn decoded(lines: &str) -> ExportMetricsServiceRequest {
    let snapshot = flush(3, lines);
    let export = Export::new(&snapshot, &BOUNDS, &HostLabels::default());
    let host = HostLabels::parse(&["host=web1"]).unwrap();
    let body = encode(&export, &host);
    let request = ExportMetricsServiceRequest::decode(&body[..]).unwrap();
    assert_eq!(request, super::request(&export, &host));
    request
}

fn metric<'r>(request: &'r ExportMetricsServiceRequest, name: &str) -> &'r Metric {
    request.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[test]
fn host_labels_are_the_resource_and_tags_the_points() {
    let request = decoded("hits;env=prod:3|c\nhits;env=dev:1|c\nmem:0|g\nusers:a|s");
    let resource = request.resource_metrics[0].resource.as_ref().unwrap();
    assert_eq!(
        resource.attributes,
        attributes(&[("host".into(), "web1".into())])
    );
    let Some(Data::Sum(sum)) = &metric(&request, "hits").data else {
        panic!("hits is not a Sum");
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let points: Vec<_> = sum
        .data_points
        .iter()
        .map(|p| {
            (
                p.attributes[0].value.clone().unwrap().string_value,
                p.as_double,
            )
        })
        .collect();
    assert_eq!(
        points,
        [
            (Some("dev".into()), Some(1.0)),
            (Some("prod".into()), Some(3.0))
        ]
    );
    assert_eq!(sum.data_points[0].time_unix_nano, 3_000_000_000);
    // A gauge at 0 still carries its value.
    let Some(Data::Gauge(gauge)) = &metric(&request, "mem").data else {
        panic!("mem is not a Gauge");
    };
    assert_eq!(gauge.data_points[0].as_double, Some(0.0));
    assert!(matches!(
        metric(&request, "users").data,
        Some(Data::Gauge(_))
    ));
}

#[test]
fn timers_are_histograms_with_per_bucket_counts() {
    let request = decoded("lat:5|ms\nlat:50|ms\nlat:500|ms\nlat:7|ms");
    let lat = metric(&request, "lat");
    assert_eq!(lat.unit, "ms");
    let Some(Data::Histogram(histogram)) = &lat.data else {
        panic!("lat is not a Histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 4);
    assert_eq!(point.sum, Some(562.0));
    assert_eq!(point.explicit_bounds, BOUNDS);
    assert_eq!(point.bucket_counts, [2, 1, 1]);
}

#[test]
fn fractional_counts_round_and_still_add_up() {
    assert_eq!(
        whole_buckets(10.0, &[3.4, 3.6, 9.9]),
        (10, vec![3, 1, 6, 0])
    );
    assert_eq!(whole_buckets(2.5, &[]), (3, vec![3]));
    assert_eq!(whole_buckets(f64::NAN, &[1.0]), (0, vec![0, 0]));
}

proptest! {
    #[test]
    fn buckets_always_add_up_to_the_count(
        mut cumulative in prop::collection::vec(0.0f64..1e6, 0..12),
        extra in 0.0f64..1e3,
    ) {
        cumulative.sort_by(f64::total_cmp);
        let count = cumulative.last().copied().unwrap_or(0.0) + extra;
        let (whole, buckets) = whole_buckets(count, &cumulative);
        prop_assert_eq!(buckets.len(), cumulative.len() + 1);
        prop_assert_eq!(buckets.iter().sum::<u64>(), whole);
    }
}
