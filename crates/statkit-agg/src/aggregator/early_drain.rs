//! Draining a table before the flush changes no total: the same traffic
//! gives the same flush whether its table was drained once or whenever it
//! asked to be. (Whole-number counters and timer counts, that is: a
//! fraction arriving after an early drain is added to the part that came
//! after it, which can change the last bit; see docs/serve.md.)

use proptest::prelude::*;

use super::*;

/// A table that asks to be drained after three new names.
fn eager() -> TableOptions {
    TableOptions {
        early_drain_names: 3,
        ..TableOptions::default()
    }
}

#[test]
fn a_table_asks_after_enough_new_names() {
    let mut t = Table::new(eager());
    t.ingest(b"a:1|c\nb:2|c\na:3|c");
    assert!(!t.wants_drain());
    t.ingest(b"c:1|ms");
    assert!(t.wants_drain());
    let mut agg = Aggregator::new(Options::default());
    agg.absorb(&mut t);
    assert!(!t.wants_drain());
    // The timer stays in the table, emptied: it is not new again.
    t.ingest(b"c:2|ms\nd:1|c\ne:1|c");
    assert!(!t.wants_drain());
    t.ingest(b"f:1|c");
    assert!(t.wants_drain());
}

#[test]
fn fractions_keep_a_table_whole_until_the_flush() {
    for fraction in [
        "x:0.5|c",
        "x:1|c|@0.3",
        "x:1|ms|@0.3",
        "x:1e300|c\nx:1e300|c",
    ] {
        let mut t = Table::new(eager());
        t.ingest(fraction.as_bytes());
        t.ingest(b"a:1|c\nb:1|c\nc:1|c\nd:1|c");
        assert!(!t.wants_drain(), "{fraction}");
        // The flush's drain makes it splittable again.
        Aggregator::new(Options::default()).absorb(&mut t);
        t.ingest(b"p:1|c\nq:1|c\nr:1|c");
        assert!(t.wants_drain(), "{fraction}");
    }
}

/// One line of traffic over a few names of each kind: fractional gauges
/// and timer values, whole counters, rates whose inverse is whole.
fn line() -> impl Strategy<Value = String> {
    let name = 0..6u8;
    let rate = prop_oneof![Just(""), Just("|@0.5"), Just("|@0.1"), Just("|@0.25")];
    prop_oneof![
        (name.clone(), -5..20i32, rate.clone()).prop_map(|(n, v, r)| format!("c{n}:{v}|c{r}")),
        (name.clone(), -30..30i32).prop_map(|(n, v)| format!("g{n}:{}|g", f64::from(v) / 10.0)),
        (name.clone(), -30..30i32).prop_map(|(n, v)| format!("g{n}:{:+}|g", f64::from(v) / 10.0)),
        (name.clone(), 0..1000u32, rate)
            .prop_map(|(n, v, r)| format!("t{n}:{}|ms{r}", f64::from(v) / 7.0)),
        (name, 0..9u8).prop_map(|(n, m)| format!("s{n}:{m}|s")),
    ]
}

fn flush(datagrams: &[String], drain_when_asked: bool) -> Snapshot {
    let mut agg = Aggregator::new(Options {
        table: eager(),
        ..Options::default()
    });
    let mut t = Table::new(eager());
    for datagram in datagrams {
        t.ingest(datagram.as_bytes());
        if drain_when_asked && t.wants_drain() {
            agg.absorb(&mut t);
        }
    }
    agg.absorb(&mut t);
    agg.flush(1)
}

/// Everything a sink would see, as text.
fn seen(s: &Snapshot) -> String {
    let counters: Vec<_> = s.counters().map(|(k, c)| (k, c.count, c.rate)).collect();
    let timers: Vec<_> = s.timers().collect();
    let gauges: Vec<_> = s.gauges().collect();
    let sets: Vec<_> = s.sets().collect();
    format!("{counters:?}\n{timers:?}\n{gauges:?}\n{sets:?}")
}

proptest! {
    #[test]
    fn early_drains_change_nothing_a_sink_sees(
        datagrams in prop::collection::vec(prop::collection::vec(line(), 1..6), 1..60)
    ) {
        let datagrams: Vec<String> = datagrams.iter().map(|lines| lines.join("\n")).collect();
        prop_assert_eq!(seen(&flush(&datagrams, false)), seen(&flush(&datagrams, true)));
    }
}
