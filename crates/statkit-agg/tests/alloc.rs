//! The receive path's promise: once a key has been seen, aggregating
//! another line for it allocates nothing. A counting global allocator
//! checks it for every kind of line, tags and sanitized keys included.

use statkit_agg::{Aggregator, Options, Table, TableOptions};
use statkit_testkit::allocations_during;

#[global_allocator]
static GLOBAL: statkit_testkit::CountingAllocator = statkit_testkit::CountingAllocator;

#[test]
fn known_keys_aggregate_without_allocating() {
    // Timers keep every value, so they are left out here: within one
    // interval their vector grows by design (amortized, not per line).
    let datagram = b"api.hits:1|c\napi.hits:2|c|@0.5\nq.depth:4|g\nq.depth:+1|g\nusers:alice|s\n\
we ird/key!:1|c\ntagged:1|c|#env:prod,canary\nbad line\nx:abc|c\n_e{1,1}:a|b\n_sc|svc|0\n";
    let mut table = Table::new(TableOptions::default());
    table.ingest(datagram);
    let allocations = allocations_during(|| {
        for _ in 0..1000 {
            table.ingest(datagram);
        }
    });
    assert_eq!(allocations, 0);
}

#[test]
fn steady_traffic_allocates_nothing_across_flushes() {
    // Timers and sets keep their buffers in the table between intervals,
    // so once traffic is steady even their values cost no allocation.

    let datagram = b"lat:12.5|ms\nlat:7|ms|@0.5\nusers:alice|s\nusers:bob|s\nhits:1|c\nq:+1|g\n";
    let mut table = Table::new(TableOptions::default());
    let mut aggregator = Aggregator::new(Options::default());
    let mut during_ingest = 0;
    for round in 0..50 {
        let allocations = allocations_during(|| {
            for _ in 0..20 {
                table.ingest(datagram);
            }
        });
        if round >= 3 {
            during_ingest += allocations;
        }
        aggregator.absorb(&mut table);
        aggregator.flush(round);
    }
    assert_eq!(during_ingest, 0);
}
