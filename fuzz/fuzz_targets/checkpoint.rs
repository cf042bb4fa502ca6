//! Arbitrary bytes as a checkpoint: read whole (header, length and
//! checksum included), or, when the first byte is odd, framed with a
//! header and checksum that match, so that the payload's parser sees them.
//! Whatever decodes must encode back to the same bytes, restore into an
//! aggregator with small limits (into one table, so that left-over tables
//! are absorbed too), flush, take new traffic, and be captured again. A
//! crash, a panic or a broken invariant below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_agg::{Aggregator, Checkpoint, CheckpointError, Options, Table, TableOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 1 {
        frame(rest)
    } else {
        rest.to_vec()
    };
    let Ok(checkpoint) = Checkpoint::decode(&bytes) else {
        return;
    };
    let mut again = Vec::new();
    checkpoint.encode(&mut again);
    assert!(again == bytes, "a decoded checkpoint encodes to other bytes");

    let table_options = TableOptions {
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
    let mut aggregator = Aggregator::new(options);
    let mut table = Table::new(table_options);
    for mut left in checkpoint.restore(&mut aggregator, &mut [&mut table]) {
        aggregator.absorb(&mut left);
    }
    for datagram in [&b"c:1|c\ng:+1|g\nt:5|ms\ns:x|s"[..], b"c:0.5|c|@0.3\nt:1|ms"] {
        table.ingest(datagram);
        aggregator.absorb(&mut table);
        let snapshot = aggregator.flush(1);
        assert_eq!(snapshot.num_stats, snapshot.len());
    }
    let mut captured = Vec::new();
    Checkpoint::capture(&aggregator, &[&table]).encode(&mut captured);
    match Checkpoint::decode(&captured) {
        // Counts restored just under the bound a checkpoint allows (2^62)
        // may pass it with the lines above.
        Ok(_) | Err(CheckpointError::Invalid("ingest count")) => {}
        Err(e) => panic!("a capture does not decode: {e}"),
    }
});

/// `payload` as a checkpoint file: magic, version 1, length, payload,
/// CRC-32.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut bytes = b"STKCHKPT".to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    bytes
}
