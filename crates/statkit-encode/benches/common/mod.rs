//! The flush the encoders' benches encode: 100k series, 60k counters (a
//! third of them tagged), 20k gauges, 20k timers, with 7 bucket bounds.

use std::sync::Arc;

use statkit_agg::{Aggregator, Snapshot, Table};

/// The timers' bucket bounds.
pub fn bounds() -> Arc<[f64]> {
    Arc::from([1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0])
}

/// One flush of the 100k series.
pub fn flush_100k() -> Snapshot {
    let options = statkit_agg::Options {
        buckets: bounds(),
        ..statkit_agg::Options::default()
    };
    let mut aggregator = Aggregator::new(options.clone());
    let mut table = Table::new(statkit_agg::TableOptions {
        max_series: 2_000_000,
        ..options.table
    });
    let mut lines = String::new();
    for i in 0..100_000 {
        lines.clear();
        match i % 5 {
            0 | 1 => lines.push_str(&format!("app.requests.{i}:1|c")),
            2 => lines.push_str(&format!("app.hits.{i}:2|c|#env:prod,host:h{}", i % 50)),
            3 => lines.push_str(&format!("app.load.{i}:{i}|g")),
            _ => lines.push_str(&format!("app.latency.{i}:{}|ms", i % 700)),
        }
        table.ingest(lines.as_bytes());
    }
    aggregator.absorb(&mut table);
    aggregator.flush(1_700_000_000)
}
