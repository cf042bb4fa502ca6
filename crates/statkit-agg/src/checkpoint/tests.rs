//! A checkpoint taken at any point of any traffic, encoded, decoded and
//! restored into a fresh aggregator and tables, makes every later flush
//! what it would have been without the restart; and no bytes but a
//! checkpoint's own decode, nor do any make decoding panic.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::{Bin, Deletion, HistogramSetting, Kind, Options, Percentile, SampleWeighting};
use crate::{Snapshot, TableOptions};

/// Everything a sink sees of a flush, as text: floats print as Rust's
/// shortest round trip, so equal text is equal bits (NaN aside).
fn seen(s: &Snapshot) -> String {
    let counters: Vec<_> = s.counters().map(|(k, c)| (k, c.count, c.rate)).collect();
    let timers: Vec<_> = s.timers().collect();
    let gauges: Vec<_> = s.gauges().collect();
    let sets: Vec<_> = s.sets().collect();
    format!(
        "{} {} {} {:?}\n{counters:?}\n{timers:?}\n{gauges:?}\n{sets:?}",
        s.timestamp, s.interval_ms, s.num_stats, s.own
    )
}

fn encoded(checkpoint: &Checkpoint) -> Vec<u8> {
    let mut bytes = Vec::new();
    checkpoint.encode(&mut bytes);
    bytes
}

/// `payload` with a header and checksum that match it, so that decoding
/// reaches the payload's parser.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes
}

fn payload(bytes: &[u8]) -> &[u8] {
    &bytes[HEADER..bytes.len() - 4]
}

/// Options that reach every path: sketches past three values, gauges and
/// series deleted or kept, a negative threshold, bins and buckets, and
/// tables that ask to be drained early.
fn options(deletion: Deletion, ttl: u32, weighting: SampleWeighting) -> Options {
    let table = TableOptions {
        weighting,
        timer_exact_limit: 3,
        max_series: 12,
        max_set_members: 4,
        early_drain_names: 3,
        ..TableOptions::default()
    };
    Options {
        table,
        interval_ms: 1_000.0,
        percentiles: Arc::from([
            Percentile::new(90.0).unwrap(),
            Percentile::new(-50.0).unwrap(),
        ]),
        histograms: vec![HistogramSetting {
            metric: "t".into(),
            bins: vec![Bin::Below(1.5), Bin::Infinity],
        }],
        buckets: Arc::from([0.5, 10.0]),
        deletion,
        gauges_max_ttl: ttl,
        ..Options::default()
    }
}

/// A server in miniature: the aggregator, its receivers' tables, and the
/// flushes it made.
struct World {
    aggregator: Aggregator,
    tables: Vec<Table>,
    flushes: Vec<String>,
}

#[derive(Clone, Debug)]
enum Op {
    /// A datagram into one receiver's table, drained early when it asks,
    /// as the pipeline does.
    Ingest(usize, String),
    Flush,
    /// The admin port's delete of one name.
    Delete(Kind, u8),
}

impl World {
    fn new(options: &Options, receivers: usize) -> Self {
        Self {
            aggregator: Aggregator::new(options.clone()),
            tables: (0..receivers).map(|_| Table::new(options.table)).collect(),
            flushes: Vec::new(),
        }
    }

    fn apply(&mut self, (i, op): (usize, &Op)) {
        match op {
            Op::Ingest(receiver, datagram) => {
                let receivers = self.tables.len();
                let table = &mut self.tables[receiver % receivers];
                table.ingest(datagram.as_bytes());
                if table.wants_drain() {
                    self.aggregator.absorb(table);
                }
            }
            Op::Flush => self.flush(100 + 10 * i as u64),
            Op::Delete(kind, n) => {
                let name = format!("{}{n}", prefix(*kind));
                for name in self.aggregator.matching(*kind, name.as_bytes()) {
                    self.aggregator.delete(*kind, &name);
                }
            }
        }
    }

    fn flush(&mut self, timestamp: u64) {
        for table in &mut self.tables {
            self.aggregator.absorb(table);
        }
        let snapshot = self.aggregator.flush(timestamp);
        self.flushes.push(seen(&snapshot));
    }

    fn capture(&self) -> Checkpoint {
        let tables: Vec<&Table> = self.tables.iter().collect();
        Checkpoint::capture(&self.aggregator, &tables)
    }
}

fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Counters => "c",
        Kind::Gauges => "g",
        Kind::Timers => "t",
        Kind::Sets => "s",
    }
}

/// One line over a few names of each kind: fractional counters and
/// rates, absolute and relative gauges, timers (sampled, to weigh them),
/// set members, and lines that are not metrics.
fn line() -> impl Strategy<Value = String> {
    let name = 0..5u8;
    let rate = prop_oneof![Just(""), Just("|@0.5"), Just("|@0.3")];
    prop_oneof![
        (name.clone(), -5..20i32, rate.clone()).prop_map(|(n, v, r)| format!("c{n}:{v}|c{r}")),
        (name.clone(), -30..30i32).prop_map(|(n, v)| format!("c{n}:{}|c", f64::from(v) / 10.0)),
        (name.clone(), -30..30i32).prop_map(|(n, v)| format!("g{n}:{}|g", f64::from(v) / 10.0)),
        (name.clone(), -30..30i32).prop_map(|(n, v)| format!("g{n}:{:+}|g", f64::from(v) / 10.0)),
        (name.clone(), -10..1000i32, rate)
            .prop_map(|(n, v, r)| format!("t{n}:{}|ms{r}", f64::from(v) / 7.0)),
        (name, 0..9u8).prop_map(|(n, m)| format!("s{n}:{m}|s")),
        Just("bad line".to_owned()),
        Just("_e{1,1}:a|b".to_owned()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![
        Just(Kind::Counters),
        Just(Kind::Gauges),
        Just(Kind::Timers),
        Just(Kind::Sets),
    ];
    prop_oneof![
        12 => (0..2usize, prop::collection::vec(line(), 1..5))
            .prop_map(|(r, lines)| Op::Ingest(r, lines.join("\n"))),
        2 => Just(Op::Flush),
        1 => (kind, 0..5u8).prop_map(|(k, n)| Op::Delete(k, n)),
    ]
}

fn settings() -> impl Strategy<Value = Options> {
    (
        any::<[bool; 4]>(),
        1..4u32,
        prop_oneof![Just(SampleWeighting::Etsy), Just(SampleWeighting::Weighted)],
    )
        .prop_map(|([counters, gauges, timers, sets], ttl, weighting)| {
            let deletion = Deletion {
                counters,
                gauges,
                timers,
                sets,
            };
            options(deletion, ttl, weighting)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_restore_changes_no_flush(
        options in settings(),
        ops in prop::collection::vec(op(), 0..80),
        split in any::<prop::sample::Index>(),
    ) {
        let split = split.index(ops.len() + 1);
        let mut steady = World::new(&options, 2);
        let mut crashed = World::new(&options, 2);
        for step in ops[..split].iter().enumerate() {
            steady.apply(step);
            crashed.apply(step);
        }
        // Capturing reads the state and changes nothing.
        drop(steady.capture());
        let bytes = encoded(&crashed.capture());
        let decoded = Checkpoint::decode(&bytes).unwrap();
        prop_assert_eq!(encoded(&decoded), bytes.clone(), "canonical");
        let mut restarted = World::new(&options, 2);
        restarted.flushes = std::mem::take(&mut crashed.flushes);
        let mut tables: Vec<&mut Table> = restarted.tables.iter_mut().collect();
        let left = decoded.restore(&mut restarted.aggregator, &mut tables);
        prop_assert!(left.is_empty());
        for step in ops.iter().enumerate().skip(split) {
            steady.apply(step);
            restarted.apply(step);
        }
        // Three more flushes, so deletions and gauges' time to live play out.
        for t in [10_000, 10_010, 10_020] {
            steady.flush(t);
            restarted.flush(t);
        }
        prop_assert_eq!(&steady.flushes, &restarted.flushes);
        prop_assert_eq!(steady.aggregator.ingested(), restarted.aggregator.ingested());
    }

    #[test]
    fn fewer_receivers_get_every_sample_once(
        ops in prop::collection::vec(op(), 0..60),
    ) {
        // Whole numbers only, so that the grouping of sums cannot matter,
        // and no gauges: which of two receivers' values a gauge ends with
        // depends on the order their tables are absorbed in.
        let whole: Vec<Op> = ops
            .into_iter()
            .filter(|op| match op {
                Op::Ingest(_, d) => !d.contains(['.', '@', 'g']),
                _ => true,
            })
            .collect();
        let options = options(Deletion::default(), 1, SampleWeighting::Etsy);
        let mut steady = World::new(&options, 2);
        for step in whole.iter().enumerate() {
            steady.apply(step);
        }
        let checkpoint = steady.capture();
        let mut restarted = World::new(&options, 1);
        let mut tables: Vec<&mut Table> = restarted.tables.iter_mut().collect();
        let left = checkpoint.restore(&mut restarted.aggregator, &mut tables);
        prop_assert_eq!(left.len(), 1);
        for mut table in left {
            restarted.aggregator.absorb(&mut table);
        }
        // Series may come in another order: compare them sorted.
        let mut flushed = [&mut steady, &mut restarted].map(|w| {
            for table in &mut w.tables {
                w.aggregator.absorb(table);
            }
            let s = w.aggregator.flush(1_000);
            let mut series: Vec<String> = (s.counters().map(|c| format!("{c:?}")))
                .chain(s.timers().map(|t| format!("{t:?}")))
                .chain(s.sets().map(|c| format!("{c:?}")))
                .collect();
            series.sort_unstable();
            series
        });
        let [steady_series, restarted_series] = &mut flushed;
        prop_assert_eq!(steady_series, restarted_series);
        prop_assert_eq!(steady.aggregator.ingested(), restarted.aggregator.ingested());
    }

    #[test]
    fn any_payload_decodes_or_is_refused_without_panicking(
        payload in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Ok(checkpoint) = Checkpoint::decode(&frame(&payload)) {
            prop_assert_eq!(encoded(&checkpoint), frame(&payload));
        }
    }

    #[test]
    fn flipped_bits_are_refused(
        ops in prop::collection::vec(op(), 1..40),
        at in any::<prop::sample::Index>(),
        bit in 0..8u8,
    ) {
        let options = options(Deletion::default(), 1, SampleWeighting::Weighted);
        let mut world = World::new(&options, 2);
        ops.iter().enumerate().for_each(|step| world.apply(step));
        let mut bytes = encoded(&world.capture());
        let at = at.index(bytes.len());
        bytes[at] ^= 1 << bit;
        prop_assert!(Checkpoint::decode(&bytes).is_err());
    }
}

/// A checkpoint holding every kind of state: a flushed gauge with a time
/// to live, sketched and weighted timers, sets, deltas waiting for a
/// value, a table made unsplittable by a fraction.
fn busy() -> (Options, World) {
    let options = options(
        Deletion {
            gauges: true,
            ..Deletion::default()
        },
        2,
        SampleWeighting::Weighted,
    );
    let mut world = World::new(&options, 2);
    let traffic = [
        "c0:1|c\ng0:5|g\nt0:1|ms\nt0:2|ms|@0.5\nt0:3|ms\nt0:4|ms\ns0:a|s",
        "c1:0.5|c|@0.3\ng1:+0.1|g\ng1:-2|g\nt1:9|ms|@0.25\ns1:x|s\ns1:y|s",
        "t2:-1|ms\nt2:0|ms\nt2:1|ms\nt2:7|ms\nbad\n_sc|x|0",
    ];
    world.apply((0, &Op::Ingest(0, traffic[0].into())));
    world.apply((1, &Op::Flush));
    for (i, datagram) in traffic.iter().enumerate() {
        world.apply((2 + i, &Op::Ingest(i, (*datagram).into())));
    }
    (options, world)
}

#[test]
fn a_busy_checkpoint_round_trips() {
    let (options, world) = busy();
    let checkpoint = world.capture();
    assert_eq!(checkpoint.tables(), 2);
    assert_eq!(checkpoint.series(), world.aggregator.series());
    let bytes = encoded(&checkpoint);
    let decoded = Checkpoint::decode(&bytes).unwrap();
    assert_eq!(encoded(&decoded), bytes);
    let mut restarted = World::new(&options, 2);
    let mut tables: Vec<&mut Table> = restarted.tables.iter_mut().collect();
    assert!(decoded
        .restore(&mut restarted.aggregator, &mut tables)
        .is_empty());
    assert_eq!(encoded(&restarted.capture()), bytes);
}

#[test]
fn encoding_appends_to_what_the_buffer_holds() {
    let (_, world) = busy();
    let alone = encoded(&world.capture());
    let mut bytes = b"before".to_vec();
    world.capture().encode(&mut bytes);
    assert_eq!(&bytes[..6], b"before");
    assert_eq!(&bytes[6..], alone);
}

#[test]
fn an_empty_server_checkpoints_too() {
    let bytes = encoded(&Checkpoint::default());
    let decoded = Checkpoint::decode(&bytes).unwrap();
    assert_eq!((decoded.tables(), decoded.series()), (0, 0));
    let mut aggregator = Aggregator::new(Options::default());
    let mut table = Table::default();
    table.ingest(b"kept:1|c");
    assert!(decoded
        .restore(&mut aggregator, &mut [&mut table])
        .is_empty());
    // The aggregator is replaced; tables beyond the captured ones stay.
    assert_eq!(aggregator.series(), 0);
    assert_eq!(table.counters().count(), 1);
}

#[test]
fn every_truncation_is_refused() {
    let (_, world) = busy();
    let bytes = encoded(&world.capture());
    for end in 0..bytes.len() {
        assert!(Checkpoint::decode(&bytes[..end]).is_err(), "{end}");
    }
    // The same with the header and checksum made to match, so that the
    // payload's parser sees every truncation.
    let payload = payload(&bytes);
    for end in 0..payload.len() {
        assert!(
            Checkpoint::decode(&frame(&payload[..end])).is_err(),
            "{end}"
        );
    }
}

#[test]
fn headers_that_are_not_ours_say_why() {
    let bytes = encoded(&Checkpoint::default());
    assert_eq!(
        Checkpoint::decode(b"STKSTORE....").unwrap_err(),
        CheckpointError::Foreign
    );
    let mut version = bytes.clone();
    version[8] = 9;
    assert_eq!(
        Checkpoint::decode(&version).unwrap_err(),
        CheckpointError::Version(9)
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        Checkpoint::decode(&longer).unwrap_err(),
        CheckpointError::Truncated("length does not match")
    );
    let mut corrupt = bytes.clone();
    corrupt[HEADER] ^= 1;
    assert_eq!(
        Checkpoint::decode(&corrupt).unwrap_err(),
        CheckpointError::Checksum
    );
    let mut trailing = payload(&bytes).to_vec();
    trailing.push(0);
    assert_eq!(
        Checkpoint::decode(&frame(&trailing)).unwrap_err(),
        CheckpointError::Invalid("trailing bytes")
    );
}

/// An aggregator part with no series, then `maps` (its four maps' bytes),
/// then no series totals.
fn aggregator_payload(maps: &[u8]) -> Vec<u8> {
    let mut p = vec![0]; // no last flush
    p.extend_from_slice(&[0; 2 * 72]); // counts, totals
    p.extend_from_slice(maps);
    p.extend_from_slice(&NO_SERIES_TOTALS);
    p
}

/// No flush counted yet, and two empty maps of totals.
const NO_SERIES_TOTALS: [u8; 16] = [0; 16];

fn u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn hostile_payloads_are_refused() {
    let decode = |maps: Vec<u8>, tables: u32| {
        let mut p = aggregator_payload(&maps);
        p.extend_from_slice(&tables.to_le_bytes());
        Checkpoint::decode(&frame(&p))
    };
    let refused = |maps: Vec<u8>, tables: u32| decode(maps, tables).unwrap_err();
    let empty = u32s(&[0, 0, 0, 0]);
    // A count larger than the bytes left could hold.
    assert_eq!(
        refused(empty.clone(), u32::MAX),
        CheckpointError::Truncated("tables")
    );
    let mut huge = u32s(&[u32::MAX]);
    huge.extend_from_slice(&[0; 64]);
    assert_eq!(refused(huge, 0), CheckpointError::Truncated("counters"));
    // A name twice in one map.
    let mut twice = u32s(&[2, 1]);
    twice.extend_from_slice(b"a");
    twice.extend_from_slice(&1f64.to_le_bytes());
    twice.extend_from_slice(&u32s(&[1]));
    twice.extend_from_slice(b"a");
    twice.extend_from_slice(&2f64.to_le_bytes());
    twice.extend_from_slice(&u32s(&[0, 0, 0]));
    assert_eq!(refused(twice, 0), CheckpointError::Invalid("repeated name"));
    // A member twice in one set; in two sets it is fine.
    let set = |name: &[u8], members: &[&[u8]]| {
        let mut bytes = u32s(&[name.len() as u32]);
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(&u32s(&[members.len() as u32]));
        for m in members {
            bytes.extend_from_slice(&u32s(&[m.len() as u32]));
            bytes.extend_from_slice(m);
        }
        bytes
    };
    let sets = |sets: &[Vec<u8>]| {
        let mut maps = u32s(&[0, 0, 0, sets.len() as u32]);
        sets.iter().for_each(|s| maps.extend_from_slice(s));
        decode(maps, 0)
    };
    assert_eq!(
        sets(&[set(b"s", &[b"a", b"b", b"a"])]).unwrap_err(),
        CheckpointError::Invalid("repeated name")
    );
    let two = sets(&[set(b"s", &[b"a", b"b"]), set(b"t", &[b"a"])]).unwrap();
    let mut aggregator = Aggregator::new(Options::default());
    assert!(two.restore(&mut aggregator, &mut []).is_empty());
    assert_eq!(
        aggregator.sets().map(|(_, m)| m.len()).collect::<Vec<_>>(),
        [2, 1]
    );
    // A gauge whose time-to-live flag is neither 0 nor 1.
    let mut gauge = u32s(&[0, 1, 1]);
    gauge.extend_from_slice(b"g");
    gauge.extend_from_slice(&1f64.to_le_bytes());
    gauge.push(2);
    gauge.extend_from_slice(&u32s(&[0, 0]));
    assert_eq!(refused(gauge, 0), CheckpointError::Invalid("gauge"));
    // Timers: an unknown shape, an empty sketch, a bucket past the largest
    // finite number, buckets out of order, a weighted timer with no value.
    let timer = |body: &[u8]| {
        let mut maps = u32s(&[0, 0, 1, 1]);
        maps.extend_from_slice(b"t");
        maps.extend_from_slice(&1f64.to_le_bytes());
        maps.extend_from_slice(body);
        maps.extend_from_slice(&u32s(&[0]));
        decode(maps, 0)
    };
    assert_eq!(
        timer(&[7]).unwrap_err(),
        CheckpointError::Invalid("timer shape")
    );
    assert_eq!(
        timer(&[1, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap_err(),
        CheckpointError::Invalid("weighted timer")
    );
    let sketch = |buckets: &[(u32, f64)]| {
        let mut body = vec![2];
        for moment in [0.0, 1.0, 0.0, 0.0, 0.0, 0.0] {
            body.extend_from_slice(&f64::to_le_bytes(moment));
        }
        body.extend_from_slice(&u32s(&[buckets.len() as u32]));
        for (index, weight) in buckets {
            body.extend_from_slice(&index.to_le_bytes());
            body.extend_from_slice(&weight.to_le_bytes());
        }
        body.extend_from_slice(&u32s(&[0]));
        timer(&body)
    };
    assert_eq!(
        sketch(&[]).unwrap_err(),
        CheckpointError::Invalid("empty sketch")
    );
    let mut weightless = vec![2];
    weightless.extend_from_slice(&[0; 6 * 8]);
    weightless.extend_from_slice(&u32s(&[1, 3]));
    weightless.extend_from_slice(&1f64.to_le_bytes());
    weightless.extend_from_slice(&u32s(&[0]));
    assert_eq!(
        timer(&weightless).unwrap_err(),
        CheckpointError::Invalid("empty sketch")
    );
    let mut backwards = vec![2];
    for m in [0.0, 1.0, 1.0, 1.0, 2.0, 1.0] {
        backwards.extend_from_slice(&f64::to_le_bytes(m));
    }
    backwards.extend_from_slice(&u32s(&[1, 3]));
    backwards.extend_from_slice(&1f64.to_le_bytes());
    backwards.extend_from_slice(&u32s(&[0]));
    assert_eq!(
        timer(&backwards).unwrap_err(),
        CheckpointError::Invalid("sketch range")
    );
    let mut nan = vec![0, 1, 0, 0, 0, 0, 0, 0, 0];
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(
        timer(&nan).unwrap_err(),
        CheckpointError::Invalid("timer value")
    );
    // Counts no server reaches (each fine, their sum too large), an
    // interval's count above the total, and a table holding fewer names
    // than it held after its last drain.
    let counts = |interval: u64, total: u64, table: u64| {
        let mut p = vec![0];
        p.extend_from_slice(&interval.to_le_bytes());
        p.extend_from_slice(&[0; 64]);
        p.extend_from_slice(&total.to_le_bytes());
        p.extend_from_slice(&[0; 64]);
        p.extend_from_slice(&empty);
        p.extend_from_slice(&NO_SERIES_TOTALS);
        p.extend_from_slice(&u32s(&[1]));
        p.extend_from_slice(&table.to_le_bytes());
        p.extend_from_slice(&[0; 64 + 8 + 1]);
        p.extend_from_slice(&empty);
        Checkpoint::decode(&frame(&p))
    };
    assert!(counts(3, 1 << 61, (1 << 61) - 1).is_ok());
    for (interval, total, table) in [(0, 1 << 61, 1 << 61), (2, 1, 0), (0, u64::MAX, u64::MAX)] {
        assert_eq!(
            counts(interval, total, table).unwrap_err(),
            CheckpointError::Invalid("ingest count")
        );
    }
    let mut p = aggregator_payload(&empty);
    p.extend_from_slice(&u32s(&[1]));
    p.extend_from_slice(&[0; 72]);
    p.extend_from_slice(&1u64.to_le_bytes());
    p.push(1);
    p.extend_from_slice(&empty);
    assert_eq!(
        Checkpoint::decode(&frame(&p)).unwrap_err(),
        CheckpointError::Invalid("count of names after a drain")
    );
    let largest = (f64::MAX.to_bits() >> (52 - crate::sketch::SUB_BITS)) as u32;
    assert!(sketch(&[(3, 1.0), (largest, 1.0)]).is_ok());
    for buckets in [
        &[(largest + 1, 1.0)][..],
        &[(5, 1.0), (5, 1.0)],
        &[(6, 1.0), (5, 1.0)],
        &[(5, 0.0)],
        &[(5, f64::NAN)],
    ] {
        assert_eq!(
            sketch(buckets).unwrap_err(),
            CheckpointError::Invalid("sketch bucket")
        );
    }
}

#[test]
fn a_sketched_timer_keeps_its_summary() {
    let (options, mut world) = busy();
    let bytes = encoded(&world.capture());
    let mut restarted = World::new(&options, 2);
    let mut tables: Vec<&mut Table> = restarted.tables.iter_mut().collect();
    assert!(Checkpoint::decode(&bytes)
        .unwrap()
        .restore(&mut restarted.aggregator, &mut tables)
        .is_empty());
    world.flush(500);
    restarted.flush(500);
    assert_eq!(world.flushes.last(), restarted.flushes.last());
    assert!(world.flushes.last().unwrap().contains("sketched: true"));
}

/// The fuzz target's seeds are a busy checkpoint whole (an even first
/// byte) and its payload to frame (an odd one); `STATKIT_WRITE_FUZZ_SEEDS=1`
/// writes them again when the format changes.
#[test]
fn writes_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/checkpoint");
    let bytes = encoded(&busy().1.capture());
    let seeds = [
        ("whole", [&[0u8][..], &bytes].concat()),
        ("payload", [&[1u8][..], payload(&bytes)].concat()),
    ];
    for (name, seed) in seeds {
        let path = dir.join(name);
        if std::env::var_os("STATKIT_WRITE_FUZZ_SEEDS").is_some() {
            std::fs::write(&path, &seed).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            seed,
            "{} is stale",
            path.display()
        );
    }
}

/// Found by the fuzzer: a checkpoint counting u64::MAX flushes made the
/// next flush overflow its count.
#[test]
fn a_flush_count_no_server_reaches_is_refused() {
    let decode = |flushes: u64| {
        let mut p = vec![0]; // no last flush
        p.extend_from_slice(&[0; 2 * 72]);
        p.extend_from_slice(&u32s(&[0, 0, 0, 0]));
        p.extend_from_slice(&flushes.to_le_bytes());
        p.extend_from_slice(&u32s(&[0, 0, 0]));
        Checkpoint::decode(&frame(&p))
    };
    assert!(decode((1 << 62) - 1).is_ok());
    for flushes in [1 << 62, u64::MAX] {
        assert_eq!(
            decode(flushes).unwrap_err(),
            CheckpointError::Invalid("flush count")
        );
    }
}
