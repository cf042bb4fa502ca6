//! Arbitrary bytes through a receiver's table, the merge and the flush,
//! with limits small enough that every refusal path and the switch from
//! exact timer values to a sketch are reached; timers carry Prometheus
//! buckets. A crash, a panic or a broken invariant below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_agg::{Aggregator, Options, SampleWeighting, Table, TableOptions};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the sample-rate mode, so both are fuzzed.
    let weighting = match data.first() {
        Some(b) if b % 2 == 1 => SampleWeighting::Weighted,
        _ => SampleWeighting::Etsy,
    };
    let table_options = TableOptions {
        weighting,
        timer_exact_limit: 4,
        max_series: 16,
        max_key_bytes: 64,
        max_set_members: 8,
        ..TableOptions::default()
    };
    let options = Options {
        table: table_options,
        buckets: std::sync::Arc::from([1.0, 10.0, 100.0]),
        ..Options::default()
    };
    let mut table = Table::new(table_options);
    let mut aggregator = Aggregator::new(options);
    // Datagrams split at NUL bytes; a flush between every few, so values
    // cross intervals and idle series are dropped and revived.
    for (i, datagram) in data.split(|&b| b == 0).enumerate() {
        table.ingest(datagram);
        if i % 3 == 2 {
            aggregator.absorb(&mut table);
            check(&aggregator.flush(i as u64));
        }
    }
    aggregator.absorb(&mut table);
    check(&aggregator.flush(u64::MAX));
});

fn check(snapshot: &statkit_agg::Snapshot) {
    assert_eq!(snapshot.num_stats, snapshot.len());
    for (_, counter) in snapshot.counters() {
        assert!(!counter.count.is_nan());
    }
    for (_, timer) in snapshot.timers() {
        if let Some(stats) = &timer.stats {
            assert!(stats.lower <= stats.upper, "{stats:?}");
            assert!(stats.lower <= stats.median && stats.median <= stats.upper, "{stats:?}");
            // Cumulative buckets: never decreasing, never past the count.
            assert_eq!(timer.buckets.len(), 3, "{timer:?}");
            assert!(timer.buckets.windows(2).all(|w| w[0] <= w[1]), "{timer:?}");
            let last = timer.buckets[2];
            assert!(last <= timer.count * (1.0 + 1e-9), "{timer:?}");
        } else {
            assert!(timer.buckets.is_empty(), "{timer:?}");
        }
    }
}
