//! The store fed by real flushes: a table ingests statsd lines, the
//! aggregator flushes, the store takes the snapshot.

use std::sync::Arc;

use statkit_agg::{Aggregator, Snapshot, Table};

use crate::{load, Kind, LoadValue, Options, Resolution, Store};

/// Flushes of an aggregator with a 10 s interval and bucket bounds.
pub(crate) struct Feed {
    aggregator: Aggregator,
}

impl Feed {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        let options = statkit_agg::Options {
            buckets: Arc::from(bounds),
            ..statkit_agg::Options::default()
        };
        Self {
            aggregator: Aggregator::new(options),
        }
    }

    /// The flush at `time` of an interval that received `lines`.
    pub(crate) fn flush(&mut self, time: u64, lines: &str) -> Snapshot {
        let mut table = Table::new(self.aggregator.options().table);
        table.ingest(lines.as_bytes());
        self.aggregator.absorb(&mut table);
        self.aggregator.flush(time)
    }
}

pub(crate) fn store(bounds: &[f64]) -> Store {
    Store::new(Options {
        bounds: Arc::from(bounds),
        ..Options::default()
    })
}

#[test]
fn keeps_last_values_totals_and_history() {
    let mut feed = Feed::new(&[10.0, 100.0]);
    let mut store = store(&[10.0, 100.0]);
    store.ingest(&feed.flush(
        1000,
        "c:5|c\ng:3|g\nt:5|ms\nt:50|ms\nt:500|ms\ns:a|s\ns:b|s",
    ));
    store.ingest(&feed.flush(1010, "c:1|c\ng:+2|g\nt:20|ms"));
    let c = store.get(Kind::Counter, b"c").unwrap();
    assert_eq!(c.total, 6.0);
    assert_eq!(c.last, vec![0.1]);
    let rates: Vec<_> = c.history(Resolution::Flush, 0).collect();
    assert_eq!(rates, vec![(1000, vec![0.5]), (1010, vec![0.1])]);
    assert_eq!(store.get(Kind::Gauge, b"g").unwrap().last, vec![5.0]);
    let t = store.get(Kind::Timer, b"t").unwrap();
    assert_eq!(t.total, 4.0);
    assert_eq!(t.sum, 575.0);
    assert_eq!(t.buckets, vec![1.0, 3.0]);
    // rate, lower, mean, median, upper, p90 of the second flush.
    assert_eq!(t.last, vec![0.1, 20.0, 20.0, 20.0, 20.0, 20.0]);
    // The set was emptied by the second flush: zero members.
    assert_eq!(store.get(Kind::Set, b"s").unwrap().last, vec![0.0]);
    assert_eq!(store.pct_label(), "90");
    assert_eq!(store.last_flush(), 1010);
    // etsy's own counters are series too.
    assert!(store
        .get(Kind::Counter, b"statsd.packets_received")
        .is_some());
    assert!(store
        .get(Kind::Counter, b"statsd.udp_kernel_drops")
        .is_none());
}

#[test]
fn own_metrics_of_the_snapshot_become_counters() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    let mut snapshot = feed.flush(1000, "");
    snapshot.own.push(("udp_kernel_drops", 7.0));
    store.ingest(&snapshot);
    let drops = store
        .get(Kind::Counter, b"statsd.udp_kernel_drops")
        .unwrap();
    assert_eq!(drops.total, 7.0);
}

#[test]
fn series_past_the_limit_are_dropped_and_counted() {
    let mut feed = Feed::new(&[]);
    let mut store = Store::new(Options {
        max_series: 4,
        ..Options::default()
    });
    // The three etsy counters, then a, b, c: room for one more; b, c and
    // statkit's own metrics are dropped.
    let snapshot = feed.flush(1000, "a:1|c\nb:1|c\nc:1|c");
    store.ingest(&snapshot);
    assert_eq!(store.len(), 4);
    assert!(store.get(Kind::Counter, b"a").is_some());
    assert_eq!(store.dropped_series(), 2 + snapshot.own.len() as u64);
}

#[test]
fn load_view_uses_gstatsd_names_with_true_extremes() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    // gstatsd's sample: flush A then flush B in one frame.
    store.ingest(&feed.flush(1200, "t:10|ms\nt:20|ms\nt:30|ms\nc:1|c\nc:2|c\ng:5|g"));
    store.ingest(&feed.flush(1201, "t:5|ms\nc:1|c"));
    let view = load(&store, 1210, 1, false);
    assert_eq!(view.last_frame_time, 1200);
    let get = |name: &str| {
        view.stats
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("{name} missing from {:?}", view.stats))
    };
    assert_eq!(get("c"), LoadValue::Float(4.0));
    assert_eq!(get("stats.timers.t.count"), LoadValue::Int(4));
    assert_eq!(get("stats.timers.t.sum"), LoadValue::Float(65.0));
    assert_eq!(get("stats.timers.t.mean"), LoadValue::Float(12.5));
    // gstatsd said 5 (the last flush's maximum) and 0.
    assert_eq!(get("stats.timers.t.upper"), LoadValue::Float(30.0));
    assert_eq!(get("stats.timers.t.lower"), LoadValue::Float(5.0));
    assert_eq!(get("stats.gauges.g"), LoadValue::Float(5.0));
    // The current frame is not complete: nothing full yet.
    assert!(load(&store, 1210, 1, true).stats.is_empty());
    // A minute later it is.
    assert_eq!(load(&store, 1270, 15, true).stats.len(), view.stats.len());
}

#[test]
fn a_removed_series_is_gone_and_counts_no_more() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    store.ingest(&feed.flush(1000, "del.me:1|c\nkeep:1|c"));
    let before = store.len();
    assert!(store.remove(Kind::Counter, b"del.me"));
    assert!(!store.remove(Kind::Counter, b"del.me"));
    assert!(store.get(Kind::Counter, b"del.me").is_none());
    assert!(store.get(Kind::Counter, b"keep").is_some());
    assert_eq!(store.len(), before - 1);
}

#[test]
fn label_sets_past_the_limit_fold_into_the_overflow_series() {
    let mut feed = Feed::new(&[]);
    let mut store = Store::new(Options {
        max_series_per_name: 2,
        ..Options::default()
    });
    store.ingest(&feed.flush(
        1000,
        "req:1|c|#user:a\nreq:2|c|#user:b\nreq:3|c|#user:c,env:x\nreq:4|c|#user:d\nother:1|c|#user:z",
    ));
    store.ingest(&feed.flush(1010, "req:5|c|#user:e\nreq:6|c|#user:a"));
    let total = |store: &Store, key: &[u8]| store.get(Kind::Counter, key).map(|s| s.total);
    assert_eq!(total(&store, b"req;user=a"), Some(7.0));
    assert_eq!(total(&store, b"req;user=b"), Some(2.0));
    // Folded by the first refused key's tags; later ones join it, so the
    // sum over the name stays right.
    assert_eq!(
        total(&store, b"req;user=__overflow__;env=__overflow__"),
        Some(12.0)
    );
    assert_eq!(total(&store, b"req;user=d"), None);
    assert_eq!(total(&store, b"other;user=z"), Some(1.0));
    let overflows: Vec<_> = store.overflows().map(|(k, v)| (k.to_vec(), v)).collect();
    // Flush one folds c and d; flush two folds e and the zero reports of
    // the counters etsy keeps reporting (c and d again).
    assert_eq!(overflows, vec![(b"req".to_vec(), 5)]);
    // Removing a label set (as the admin port's delete does, from the
    // aggregation too) makes room for a new one.
    assert!(store.remove(Kind::Counter, b"req;user=b"));
    store.ingest(&Feed::new(&[]).flush(1020, "req:1|c|#user:f"));
    assert_eq!(total(&store, b"req;user=f"), Some(1.0));
    // The server's own series are never folded.
    assert!(store.is_own(b"statsd.metrics_received"));
    assert!(!store.is_own(b"statsd.a.b"));
    assert!(!store.is_own(b"statsd.x;t=1"));
}

#[test]
fn activity_is_a_count_members_or_a_gauge_report() {
    let mut feed = Feed::new(&[]);
    let mut store = store(&[]);
    store.ingest(&feed.flush(1000, "c:1|c\nt:5|ms\ns:a|s\ng:1|g"));
    // etsy reports the idle counter, timer and set with zeros, the gauge
    // with its value.
    store.ingest(&feed.flush(1010, ""));
    let active = |kind, key: &[u8]| store.get(kind, key).map(|s| (s.last_time, s.last_active));
    assert_eq!(active(Kind::Counter, b"c"), Some((1010, 1000)));
    assert_eq!(active(Kind::Timer, b"t"), Some((1010, 1000)));
    assert_eq!(active(Kind::Set, b"s"), Some((1010, 1000)));
    assert_eq!(active(Kind::Gauge, b"g"), Some((1010, 1010)));
}

#[test]
fn an_overflow_timer_adds_up_the_timers_it_stands_for() {
    let mut feed = Feed::new(&[10.0]);
    let mut store = Store::new(Options {
        max_series_per_name: 1,
        bounds: Arc::from([10.0]),
        ..Options::default()
    });
    store.ingest(&feed.flush(1000, "t:5|ms|#u:a\nt:20|ms|#u:b"));
    store.ingest(&feed.flush(1010, "t:1|ms|#u:c\nt:2|ms|#u:b"));
    let folded = store.get(Kind::Timer, b"t;u=__overflow__").unwrap();
    assert_eq!(
        (folded.total, folded.sum, folded.buckets.clone()),
        (3.0, 23.0, vec![2.0])
    );
    let kept = store.get(Kind::Timer, b"t;u=a").unwrap();
    assert_eq!((kept.total, kept.sum), (1.0, 5.0));
}

#[test]
fn series_no_flush_reports_are_forgotten_after_their_time() {
    let mut feed = Feed::new(&[]);
    let mut store = Store::new(Options {
        forget_after_s: 20,
        idle_ttl_s: 0,
        ..Options::default()
    });
    store.ingest(&feed.flush(1000, "kept:1|c\ngone:1|ms"));
    for t in [1010, 1020] {
        store.ingest(&feed.flush(t, "kept:1|c"));
    }
    assert!(
        store.get(Kind::Timer, b"gone").is_some(),
        "reported until now"
    );
    // From here the timer is no longer reported (as after an expiry or a
    // deletion in the aggregation).
    let mut fresh = Feed::new(&[]);
    store.ingest(&fresh.flush(1030, "kept:1|c"));
    assert!(store.get(Kind::Timer, b"gone").is_some(), "10 s unreported");
    store.ingest(&fresh.flush(1045, "kept:1|c"));
    assert!(store.get(Kind::Timer, b"gone").is_none(), "25 s unreported");
    assert!(store.get(Kind::Counter, b"kept").is_some());
}

#[test]
fn with_an_idle_ttl_a_series_goes_when_the_aggregation_lets_go() {
    let mut store = Store::new(Options {
        forget_after_s: 0,
        idle_ttl_s: 15,
        ..Options::default()
    });
    let mut feed = Feed::new(&[]);
    store.ingest(&feed.flush(1000, "c:1|c"));
    // Reported as zero: idle, but the aggregation still has it.
    store.ingest(&feed.flush(1020, ""));
    assert!(store.get(Kind::Counter, b"c").is_some());
    // No longer reported, and idle past the ttl: gone.
    store.ingest(&Feed::new(&[]).flush(1030, ""));
    assert!(store.get(Kind::Counter, b"c").is_none());
}
