use std::sync::Arc;

use proptest::prelude::*;

use super::{SnapshotError, OWN_NAMES};
use crate::snapshot::{Series, Snapshot};
use crate::summary::{Percentile, Threshold, TimerStats, TimerSummary};
use crate::{Aggregator, Bin, Cumulative, HistogramSetting, Options, Table, TableOptions};

fn encoded(s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    s.encode(&mut out);
    out
}

/// A flush with every part a sink reads: thresholds of both signs, a
/// histogram, buckets, a sketched timer, a timer kept without values,
/// gauges, sets and the aggregator's own metrics.
fn real_flushes() -> Vec<Snapshot> {
    let options = Options {
        table: TableOptions {
            timer_exact_limit: 4,
            ..TableOptions::default()
        },
        percentiles: Arc::from([
            Percentile::new(90.0).unwrap(),
            Percentile::new(-10.0).unwrap(),
            Percentile::new(99.9).unwrap(),
        ]),
        histograms: vec![HistogramSetting {
            metric: "t".into(),
            bins: vec![Bin::Below(10.0), Bin::Below(100.5), Bin::Infinity],
        }],
        buckets: Arc::from([5.0, 50.0]),
        ..Options::default()
    };
    let mut aggregator = Aggregator::new(options);
    let mut flush = |time, lines: &str| {
        let mut table = Table::new(aggregator.options().table);
        table.ingest(lines.as_bytes());
        aggregator.absorb(&mut table);
        aggregator.flush(time)
    };
    let sketched: String = (1..=50).map(|v| format!("big:{v}|ms\n")).collect();
    vec![
        flush(
            1000,
            &format!("c:5|c\nc2:1|c|@0.5\ng:3|g\nt:5|ms\nt:50|ms\nt:500|ms\ns:a|s\ns:b|s\n{sketched}_e{{1,1}}:a|b"),
        ),
        flush(1010, "c:1|c\ng:+2|g\nother:7|ms"),
        flush(1020, ""),
    ]
}

#[test]
fn real_flushes_round_trip() {
    for s in real_flushes() {
        let bytes = encoded(&s);
        let back = Snapshot::decode(&bytes).unwrap();
        // Statistics may be NaN (etsy's bottom threshold over every
        // value), which no PartialEq equals: compare the bytes too.
        assert_eq!(encoded(&back), bytes);
        if !bytes_have_nan(&s) {
            assert_eq!(back, s);
        }
        assert!(back.timers().count() == s.timers().count());
    }
    let first = &real_flushes()[0];
    assert!(first
        .timers()
        .any(|(_, t)| t.stats.as_ref().is_some_and(|s| s.sketched)));
    assert!(first.timers().any(|(_, t)| !t.buckets.is_empty()));
    assert!(first.own.iter().all(|(name, _)| OWN_NAMES.contains(name)));
}

fn bytes_have_nan(s: &Snapshot) -> bool {
    s.timers().any(|(_, t)| format!("{t:?}").contains("NaN"))
}

#[test]
fn every_truncation_is_an_error() {
    for s in real_flushes() {
        let bytes = encoded(&s);
        for end in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..end]).is_err(), "{end}");
        }
    }
}

#[test]
fn refuses_what_is_not_a_snapshot_of_this_version() {
    let bytes = encoded(&Snapshot::new(1, 10_000.0, Arc::from([])));
    assert_eq!(Snapshot::decode(b"nonsense"), Err(SnapshotError::Magic));
    let mut v2 = bytes.clone();
    v2[7] = 2;
    assert_eq!(Snapshot::decode(&v2), Err(SnapshotError::Version(2)));
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Snapshot::decode(&longer), Err(SnapshotError::Trailing(1)));
}

#[test]
fn refuses_unknown_own_metrics() {
    let mut s = Snapshot::new(1, 10_000.0, Arc::from([]));
    s.own.push(("not_a_metric_we_know", 1.0));
    assert_eq!(
        Snapshot::decode(&encoded(&s)),
        Err(SnapshotError::UnknownOwn("not_a_metric_we_know".into()))
    );
}

#[test]
fn refuses_thresholds_of_missing_percentiles_and_duplicate_names() {
    let mut s = Snapshot::new(1, 10_000.0, Arc::from([Percentile::new(90.0).unwrap()]));
    s.timers = series(vec![(b"t".to_vec(), timer_with_threshold(1))]);
    assert_eq!(
        Snapshot::decode(&encoded(&s)),
        Err(SnapshotError::ThresholdIndex { index: 1, len: 1 })
    );
    // Two series of one name cannot come out of the aggregator: written
    // by hand here.
    let mut s = Snapshot::new(1, 10_000.0, Arc::from([]));
    s.gauges = series(vec![(b"g".to_vec(), 1.0), (b"h".to_vec(), 2.0)]);
    let mut bytes = encoded(&s);
    // "h": nothing shared, 1 byte, `h`; made "g": 1 byte shared, none more.
    let at = bytes.windows(3).position(|w| w == [0, 1, b'h']).unwrap();
    bytes.splice(at..at + 3, [1, 0]);
    assert_eq!(
        Snapshot::decode(&bytes),
        Err(SnapshotError::Duplicate {
            kind: "gauge",
            name: "g".into()
        })
    );
}

#[test]
fn a_huge_count_is_refused_without_allocating() {
    let mut bytes = encoded(&Snapshot::new(1, 10_000.0, Arc::from([])));
    // The percentile count, right after the fixed header.
    bytes.splice(40..41, [0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert!(matches!(
        Snapshot::decode(&bytes),
        Err(SnapshotError::Count {
            count: 0xffff_ffff,
            ..
        })
    ));
}

#[test]
fn names_share_prefixes_and_only_one_encoding_decodes() {
    let mut s = Snapshot::new(1, 10_000.0, Arc::from([]));
    let long = vec![b'x'; 300];
    let mut longer = long.clone();
    longer.push(b'y');
    s.counters = series(vec![
        (b"app.requests.c1".to_vec(), 1.0),
        (b"app.requests.c2".to_vec(), 2.0),
        (b"app".to_vec(), 3.0),
        (long, 4.0),
        (longer, 5.0),
    ]);
    let bytes = encoded(&s);
    // Shares 14 bytes, then 1 byte: "2".
    assert!(bytes.windows(3).any(|w| w == [14, 1, b'2']));
    assert_eq!(Snapshot::decode(&bytes).unwrap(), s);
    // "app.requests.c2" as 13 shared bytes and "c2": the same name, in a
    // form the encoder never writes.
    let at = bytes.windows(3).position(|w| w == [14, 1, b'2']).unwrap();
    let mut longer_form = bytes.clone();
    longer_form.splice(at..at + 3, [13, 2, b'c', b'2']);
    assert_eq!(
        Snapshot::decode(&longer_form),
        Err(SnapshotError::NotCanonical("a name's shared prefix"))
    );
    // A varint with a needless zero byte.
    let mut padded = bytes.clone();
    padded.splice(at..at + 1, [14 | 0x80, 0]);
    assert_eq!(
        Snapshot::decode(&padded),
        Err(SnapshotError::NotCanonical("counter"))
    );
}

fn timer_with_threshold(percentile: usize) -> TimerSummary {
    TimerSummary {
        cumulative: Cumulative::default(),
        count: 1.0,
        count_ps: 0.1,
        stats: Some(TimerStats {
            thresholds: vec![Threshold {
                percentile,
                count: 1.0,
                mean: 2.0,
                bound: 2.0,
                sum: 2.0,
                sum_squares: 4.0,
            }],
            std: 0.0,
            upper: 2.0,
            lower: 2.0,
            sum: 2.0,
            sum_squares: 4.0,
            mean: 2.0,
            median: 2.0,
            histogram: vec![("bin_inf".into(), 1.0)],
            sketched: false,
        }),
        buckets: vec![1.0],
    }
}

fn series<T>(pairs: Vec<(Vec<u8>, T)>) -> Series<T> {
    let (names, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
    Series::of(names.iter().map(|n| &n[..]).zip(values))
}

/// Any value but NaN, which no PartialEq equals.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
        Just(f64::INFINITY),
        Just(-0.0),
        (0u32..1000).prop_map(f64::from),
    ]
}

/// Names with the prefixes in common that the encoder shares, some past
/// the longest prefix shared (255 bytes).
fn name() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(Vec::new()),
        Just(b"app.".to_vec()),
        Just(b"app.requests.c".to_vec()),
        (250usize..300).prop_map(|n| vec![b'x'; n]),
    ];
    (prefix, prop::collection::vec(any::<u8>(), 0..6)).prop_map(|(mut p, s)| {
        p.extend(s);
        p
    })
}

fn timer(percentiles: usize) -> impl Strategy<Value = TimerSummary> {
    let threshold = (0..percentiles.max(1), prop::array::uniform5(value())).prop_map(
        |(percentile, [count, mean, bound, sum, sum_squares])| Threshold {
            percentile,
            count,
            mean,
            bound,
            sum,
            sum_squares,
        },
    );
    let thresholds = prop::collection::vec(threshold, 0..=percentiles.min(3)).prop_map(move |t| {
        if percentiles == 0 {
            Vec::new()
        } else {
            t
        }
    });
    let stats = (
        prop::array::uniform7(value()),
        any::<bool>(),
        thresholds,
        prop::collection::vec(("[a-z_0-9]{0,8}", value()), 0..3),
    )
        .prop_map(
            |(
                [std, upper, lower, sum, sum_squares, mean, median],
                sketched,
                thresholds,
                histogram,
            )| {
                TimerStats {
                    thresholds,
                    std,
                    upper,
                    lower,
                    sum,
                    sum_squares,
                    mean,
                    median,
                    histogram,
                    sketched,
                }
            },
        );
    (
        value(),
        value(),
        prop::option::of(stats),
        prop::collection::vec(value(), 0..4),
        (value(), value(), prop::collection::vec(value(), 0..4)),
    )
        .prop_map(
            |(count, count_ps, stats, buckets, (total, sum, totals))| TimerSummary {
                count,
                count_ps,
                stats,
                buckets,
                cumulative: Cumulative {
                    count: total,
                    sum,
                    buckets: totals,
                },
            },
        )
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    let pct = prop_oneof![
        (1u32..=1000).prop_map(|p| f64::from(p) / 10.0),
        (1u32..=100).prop_map(|p| -f64::from(p)),
    ];
    prop::collection::vec(pct, 0..4).prop_flat_map(|pcts| {
        let percentiles: Arc<[Percentile]> =
            pcts.iter().map(|&p| Percentile::new(p).unwrap()).collect();
        let n = percentiles.len();
        (
            (any::<u64>(), value(), any::<u64>(), any::<u32>()),
            prop::collection::vec((name(), (value(), value())), 0..6),
            prop::collection::vec((name(), timer(n)), 0..4),
            prop::collection::vec((name(), value()), 0..6),
            prop::collection::vec((name(), any::<u64>()), 0..6),
            prop::collection::vec((prop::sample::select(OWN_NAMES), value()), 0..4),
        )
            .prop_map(
                move |((timestamp, interval_ms, processing, num_stats), c, t, g, s, own)| {
                    let counters = series(c);
                    Snapshot {
                        timestamp,
                        interval_ms,
                        percentiles: Arc::clone(&percentiles),
                        counter_totals: counters.iter().map(|(_, (_, t))| *t).collect(),
                        counters: Series::of(counters.iter().map(|(n, (c, _))| (n, *c))),
                        timers: series(t),
                        gauges: series(g),
                        sets: series(s),
                        num_stats: num_stats as usize,
                        processing_time_ms: processing,
                        own,
                    }
                },
            )
    })
}

proptest! {
    #[test]
    fn round_trips(s in snapshot()) {
        let bytes = encoded(&s);
        let back = Snapshot::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(encoded(&back), bytes);
    }

    #[test]
    fn truncations_and_garbage_are_errors_not_panics(
        s in snapshot(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let bytes = encoded(&s);
        for end in 0..bytes.len() {
            prop_assert!(Snapshot::decode(&bytes[..end]).is_err());
        }
        let mut garbled = bytes.clone();
        for (at, byte) in flips {
            let i = at.index(garbled.len());
            garbled[i] ^= byte;
        }
        // Whatever decodes re-encodes to the same bytes.
        if let Ok(back) = Snapshot::decode(&garbled) {
            prop_assert_eq!(encoded(&back), garbled);
        }
    }
}

/// Writes the real flushes as seeds of the `snapshot_decode` fuzz target
/// when `STATKIT_WRITE_FUZZ_SEEDS` is set (they are committed); otherwise
/// checks that the committed seeds still decode.
#[test]
fn writes_fuzz_seeds() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/snapshot_decode");
    for (i, s) in real_flushes().iter().enumerate() {
        let path = dir.join(format!("flush-{i}"));
        if std::env::var_os("STATKIT_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, encoded(s)).unwrap();
        }
        let seed = std::fs::read(&path).unwrap();
        assert!(Snapshot::decode(&seed).is_ok(), "{}", path.display());
    }
}
