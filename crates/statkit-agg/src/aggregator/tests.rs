use super::*;

fn table(lines: &str) -> Table {
    let mut t = Table::new(TableOptions::default());
    t.ingest(lines.as_bytes());
    t
}

fn counters(s: &Snapshot) -> Vec<(String, f64, f64)> {
    s.counters()
        .map(|(k, c)| (String::from_utf8(k.to_vec()).unwrap(), c.count, c.rate))
        .collect()
}

fn gauges(s: &Snapshot) -> Vec<(String, f64)> {
    s.gauges()
        .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), v))
        .collect()
}

fn options(interval_ms: f64, deletion: Deletion) -> Options {
    Options {
        interval_ms,
        deletion,
        ..Options::default()
    }
}

#[test]
fn own_counters_come_first_and_count_traffic() {
    let mut agg = Aggregator::new(options(2_000.0, Deletion::default()));
    agg.absorb(&mut table("a:1|c\nbad\nb:4|c|@0.5"));
    let s = agg.flush(100);
    assert_eq!(
        counters(&s),
        [
            ("statsd.bad_lines_seen".into(), 1.0, 0.5),
            ("statsd.packets_received".into(), 1.0, 0.5),
            ("statsd.metrics_received".into(), 3.0, 1.5),
            ("a".into(), 1.0, 0.5),
            ("b".into(), 8.0, 4.0),
        ]
    );
    assert_eq!(s.num_stats, 5);
}

/// etsy 0.9 adds one to bad_lines_seen per bad value (stats.js, the loop
/// over a line's `:`-separated values), so its Graphite figure may exceed
/// metrics_received; the flush keeps that, while the table's own
/// `bad_lines` counts the line once.
#[test]
fn bad_lines_seen_counts_bad_values_as_etsy_does() {
    let mut agg = Aggregator::new(options(1_000.0, Deletion::default()));
    agg.absorb(&mut table("k:x|c:y|c:z|c"));
    let s = agg.flush(100);
    assert_eq!(counters(&s)[0], ("statsd.bad_lines_seen".into(), 3.0, 3.0));
    assert_eq!(
        counters(&s)[2],
        ("statsd.metrics_received".into(), 1.0, 1.0)
    );
}

#[test]
fn tables_from_several_receivers_add_up() {
    let mut agg = Aggregator::new(Options::default());
    agg.absorb(&mut table("a:1|c\nt:5|ms\ns:x|s\ng:3|g"));
    agg.absorb(&mut table("a:2|c\nt:7|ms\ns:y|s\ns:x|s\ng:+1|g"));
    let s = agg.flush(1);
    assert_eq!(counters(&s)[3], ("a".into(), 3.0, 0.3));
    let (_, timer) = s.timers().next().unwrap();
    assert_eq!(timer.count, 2.0);
    assert_eq!(s.sets().collect::<Vec<_>>(), [(&b"s"[..], 2)]);
    assert_eq!(gauges(&s), [("g".into(), 4.0)]);
}

#[test]
fn idle_series_are_reset_but_kept_by_default() {
    let mut agg = Aggregator::new(Options::default());
    agg.absorb(&mut table("a:1|c\nt:5|ms\ns:x|s\ng:3|g"));
    agg.flush(10);
    let s = agg.flush(20);
    assert_eq!(counters(&s)[3], ("a".into(), 0.0, 0.0));
    let (_, timer) = s.timers().next().unwrap();
    assert_eq!((timer.count, timer.stats.is_none()), (0.0, true));
    assert_eq!(s.sets().collect::<Vec<_>>(), [(&b"s"[..], 0)]);
    assert_eq!(
        gauges(&s),
        [("g".into(), 3.0), ("statsd.timestamp_lag".into(), 0.0)]
    );
}

#[test]
fn delete_idle_stats_drops_idle_series_but_not_own_counters() {
    let all = Deletion {
        counters: true,
        gauges: true,
        timers: true,
        sets: true,
    };
    let mut agg = Aggregator::new(options(10_000.0, all));
    agg.absorb(&mut table("a:1|c\nt:5|ms\ns:x|s\ng:3|g"));
    assert_eq!(agg.flush(10).num_stats, 7);
    let s = agg.flush(20);
    assert_eq!(counters(&s).len(), 3);
    assert_eq!((s.timers().count(), s.sets().count()), (0, 0));
    // The lag gauge is the server's own and never expires.
    assert_eq!(gauges(&s), [("statsd.timestamp_lag".into(), 0.0)]);
}

#[test]
fn gauges_expire_after_their_ttl() {
    let mut agg = Aggregator::new(Options {
        gauges_max_ttl: 2,
        ..options(
            1_000.0,
            Deletion {
                gauges: true,
                ..Deletion::default()
            },
        )
    });
    agg.absorb(&mut table("g:3|g"));
    assert_eq!(gauges(&agg.flush(1)), [("g".into(), 3.0)]);
    assert_eq!(gauges(&agg.flush(2))[0], ("g".into(), 3.0));
    assert!(gauges(&agg.flush(3)).iter().all(|(k, _)| k != "g"));
}

#[test]
fn timestamp_lag_measures_late_flushes() {
    let mut agg = Aggregator::new(options(10_000.0, Deletion::default()));
    agg.flush(100);
    let s = agg.flush(112);
    assert_eq!(gauges(&s), [("statsd.timestamp_lag".into(), 2.0)]);
}

#[test]
fn admin_patterns_match_exact_names_and_folders() {
    let mut agg = Aggregator::new(Options::default());
    agg.absorb(&mut table("a.b.c:1|c\na.b:1|c\na.bc:1|c\nx:1|c"));
    assert_eq!(agg.matching(Kind::Counters, b"a.b"), [b"a.b".to_vec()]);
    assert_eq!(agg.matching(Kind::Counters, b"a.b.*"), [b"a.b.c".to_vec()]);
    assert!(agg.matching(Kind::Counters, b"a.*x").is_empty());
    assert!(agg.delete(Kind::Counters, b"x"));
    assert!(!agg.delete(Kind::Counters, b"x"));
    assert_eq!(agg.counters().count(), 6);
}

#[test]
fn own_stats_report_events_and_refusals() {
    let mut agg = Aggregator::new(Options {
        table: TableOptions {
            max_series: 1,
            ..TableOptions::default()
        },
        ..Options::default()
    });
    let mut t = Table::new(TableOptions {
        max_series: 1,
        ..TableOptions::default()
    });
    t.ingest(b"_e{1,1}:a|b\n_sc|x|1\nn:1|c");
    agg.absorb(&mut t);
    // `n` is the one client series allowed (the own counters do not count).
    agg.absorb(&mut table("m:1|c"));
    let s = agg.flush(1);
    let own: Vec<(&str, f64)> = s.own.clone();
    assert!(own.contains(&("events_received", 1.0)));
    assert!(own.contains(&("service_checks_received", 1.0)));
    assert!(own.contains(&("series_refused", 1.0)));
}

#[test]
fn gauge_deltas_on_a_carried_over_value_add_in_etsy_order() {
    // etsy: ((0.1 + 0.2) + 0.3) = 0.6000000000000001; summing the deltas
    // first would give 0.6.
    let mut agg = Aggregator::new(Options::default());
    agg.absorb(&mut table("g:0.1|g"));
    agg.flush(1);
    agg.absorb(&mut table("g:+0.2|g\ng:+0.3|g"));
    let s = agg.flush(2);
    assert_eq!(gauges(&s)[0], ("g".into(), (0.1 + 0.2) + 0.3));
    assert_ne!((0.1 + 0.2) + 0.3, 0.1 + (0.2 + 0.3));
}

#[test]
fn reading_the_ingest_counts_does_not_change_a_flush() {
    // Draining twice in an interval would add 0.1 + (0.2 + 0.3); etsy adds
    // in arrival order. One receiver's table keeps arrival order as long as
    // it is drained only at the flush.
    let mut agg = Aggregator::new(Options::default());
    let mut t = table("c:0.1|c\nc:0.2|c\nc:0.3|c");
    assert_eq!(t.counts().lines, 3);
    agg.absorb(&mut t);
    assert_eq!(counters(&agg.flush(1))[3].1, (0.1 + 0.2) + 0.3);
}

#[test]
fn restored_gauges_flush_until_a_new_value_comes() {
    let mut agg = Aggregator::new(options(10_000.0, Deletion::default()));
    assert!(agg.restore_gauge(b"g", 7.5));
    assert!(
        !agg.restore_gauge(b"g", 1.0),
        "a gauge with a value is kept"
    );
    assert!(!agg.restore_gauge(b"nan", f64::NAN));
    let s = agg.flush(100);
    assert_eq!(s.gauges().collect::<Vec<_>>(), vec![(&b"g"[..], 7.5)]);
    agg.absorb(&mut table("g:+1|g"));
    let s = agg.flush(110);
    assert_eq!(s.gauge(0), Some((&b"g"[..], 8.5)));
}

#[test]
fn a_short_last_interval_divides_rates_by_the_time_that_passed() {
    let mut agg = Aggregator::new(options(10_000.0, Deletion::default()));
    agg.absorb(&mut table("a:5|c\nt:1|ms\nt:3|ms"));
    let s = agg.flush_after(100, 2_000.0);
    assert_eq!(s.interval_ms, 2_000.0);
    assert!(counters(&s).contains(&("a".into(), 5.0, 2.5)));
    let (_, timer) = s.timers().find(|(k, _)| *k == b"t").unwrap();
    assert_eq!(timer.count_ps, 1.0);
}

#[test]
fn with_a_series_ttl_idle_series_of_every_kind_leave_with_their_totals() {
    let mut a = Aggregator::new(Options {
        series_ttl: Some(2),
        ..Options::default()
    });
    let mut t = Table::new(a.options().table);
    let mut flush = |a: &mut Aggregator, lines: &str| {
        t.ingest(lines.as_bytes());
        a.absorb(&mut t);
        let s = a.flush(1000);
        let mut names: Vec<String> = (s.counters().map(|(k, _)| k))
            .chain(s.gauges().map(|(k, _)| k))
            .chain(s.timers().map(|(k, _)| k))
            .chain(s.sets().map(|(k, _)| k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .filter(|k| !k.starts_with("statsd."))
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        flush(&mut a, "c:1|c\ng:1|g\nt:1|ms\ns:x|s"),
        ["c", "g", "s", "t"]
    );
    assert_eq!(flush(&mut a, "c:0|c"), ["c", "g", "s", "t"], "idle once");
    assert_eq!(
        flush(&mut a, ""),
        ["c", "g", "s", "t"],
        "c: idle once; the rest twice"
    );
    assert_eq!(flush(&mut a, ""), ["c"]);
    assert_eq!(flush(&mut a, ""), Vec::<String>::new());
    // A new sample brings a series back, its total started anew.
    t.ingest(b"c:5|c");
    a.absorb(&mut t);
    let s = a.flush(1000);
    let c = s.counters().find(|(k, _)| *k == b"c").map(|(_, c)| c.total);
    assert_eq!(c, Some(5.0));
    assert!(
        s.gauges().any(|(k, _)| k == b"statsd.timestamp_lag"),
        "own series stay"
    );
}
