//! Arbitrary bytes into the snapshot decoder (what the sinks' disk queue
//! reads back after a restart). A crash, a panic or a broken invariant
//! below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_agg::Snapshot;

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = Snapshot::decode(data) else {
        return;
    };
    // What a sink reads of it never panics: every threshold names a
    // percentile that exists.
    for (_, timer) in snapshot.timers() {
        for threshold in timer.stats.iter().flat_map(|s| &s.thresholds) {
            assert!(threshold.percentile < snapshot.percentiles.len());
        }
    }
    let series = snapshot.counters().count()
        + snapshot.gauges().count()
        + snapshot.sets().count()
        + snapshot.timers().count();
    assert_eq!(series, snapshot.len());
    // The encoding is canonical: what decodes re-encodes to its bytes.
    let mut again = Vec::new();
    snapshot.encode(&mut again);
    assert_eq!(again, data);
});
