use proptest::prelude::*;

use super::*;
use crate::tests::{store, Feed};
use crate::{load, Resolution};

/// A store that has seen a few flushes of every kind.
fn fed() -> Store {
    let mut feed = Feed::new(&[10.0, 100.0]);
    let mut store = store(&[10.0, 100.0]);
    for (i, lines) in [
        "c:5|c|#env:prod\ng:3|g\nt:5|ms\nt:50|ms\ns:a|s",
        "c:1|c|#env:prod\ng:+2|g\nt:20|ms",
        "g:-1|g\ns:b|s\ns:c|s",
    ]
    .iter()
    .enumerate()
    {
        store.ingest(&feed.flush(1_000 + 30 * i as u64, lines));
    }
    store
}

/// Everything observable about a store, for comparing two.
fn view(store: &Store) -> String {
    let mut out = String::new();
    for (kind, key, s) in store.iter() {
        out.push_str(&format!(
            "{kind:?} {key:?} {:?} {:?}\n",
            s.last, s.last_time
        ));
        // The running totals, what Prometheus scrapes.
        out.push_str(&format!("{:?} {:?} {:?}\n", s.total, s.sum, s.buckets));
        for resolution in [Resolution::Flush, Resolution::Minute] {
            out.push_str(&format!(
                "{:?}\n",
                s.history(resolution, 0).collect::<Vec<_>>()
            ));
        }
    }
    out.push_str(&format!("{:?}", load(store, 1_100, 15, false)));
    out
}

#[test]
fn a_store_survives_the_round_trip() {
    let before = fed();
    let bytes = encode(&before);
    let after = decode(&bytes, before.options().clone()).unwrap();
    assert_eq!(view(&after), view(&before));
    assert_eq!(after.len(), before.len());
    assert_eq!(after.last_flush(), before.last_flush());
    assert_eq!(after.pct_label(), "90");
    // The restored store goes on: a gauge keeps its value for the next flush.
    assert_eq!(after.get(Kind::Gauge, b"g").unwrap().last, vec![4.0]);
}

#[test]
fn foreign_corrupt_and_future_files_are_refused() {
    let bytes = encode(&fed());
    let options = || fed().options().clone();
    assert_eq!(
        decode(b"hello world", options()).unwrap_err(),
        StateError::Foreign
    );
    assert_eq!(decode(b"", options()).unwrap_err(), StateError::Foreign);
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    assert_eq!(
        decode(&flipped, options()).unwrap_err(),
        StateError::Checksum
    );
    let mut future = bytes.clone();
    future[8] = 2;
    assert_eq!(
        decode(&future, options()).unwrap_err(),
        StateError::Version(2)
    );
    let cut = &bytes[..bytes.len() - 10];
    assert!(matches!(
        decode(cut, options()).unwrap_err(),
        StateError::Truncated(_)
    ));
}

#[test]
fn a_smaller_budget_or_other_bounds_restore_what_fits() {
    let before = fed();
    let bytes = encode(&before);
    let options = Options {
        max_series: 3,
        bounds: std::sync::Arc::from([1.0]),
        ..before.options().clone()
    };
    let after = decode(&bytes, options).unwrap();
    assert_eq!(after.len(), 3);
    assert!(after.dropped_series() > before.dropped_series());
    for (_, _, s) in after.iter() {
        assert!(s.buckets.is_empty());
    }
}

proptest! {
    /// No byte string makes decoding panic or allocate without bound.
    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = b"STKSTORE\x01\0\0\0".to_vec();
        bytes.extend_from_slice(&tail);
        let _ = decode(&bytes, Options::default());
    }

    /// Any single flipped byte is caught (by the checksum or a check
    /// before it).
    #[test]
    fn any_flipped_byte_is_caught(at in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = encode(&fed());
        let i = at.index(bytes.len());
        bytes[i] ^= 1 << bit;
        prop_assert!(decode(&bytes, fed().options().clone()).is_err());
    }
}
