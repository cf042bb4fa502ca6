//! Arbitrary bytes into the stats file decoder (statkit and mmstats v1). A
//! crash, a panic or a broken invariant below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_format::{decode, encode_with, Format, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(file) = decode(data) else {
        return;
    };
    for stat in &file.stats {
        if let Value::Histogram(h) = &stat.value {
            // Whatever the file says, statistics never panic.
            let _ = (h.mean(), h.quantile(0.5), h.quantile(0.999));
        }
    }
    // Descriptions are one per name, within the format's limits.
    for (i, d) in file.descriptions.iter().enumerate() {
        assert!(!file.descriptions[..i].iter().any(|e| e.name == d.name));
        assert!(d.help.len() <= statkit_format::describe::HELP_MAX);
    }
    // A statkit file that decoded re-encodes, and decodes back the same,
    // descriptions included.
    if let (Format::Statkit, Some(identity)) = (file.format, &file.identity) {
        let bytes = encode_with(identity, &file.stats, &file.descriptions)
            .expect("decoded statkit values re-encode");
        let again = decode(&bytes).expect("an encoded file decodes");
        assert_eq!(again.descriptions, file.descriptions);
        assert_eq!(again.stats.len(), file.stats.len());
        for (after, before) in again.stats.iter().zip(&file.stats) {
            assert_eq!(after.label, before.label);
            let comparable = match &before.value {
                // NaN is never equal to itself.
                _ if format!("{:?}", before.value).contains("NaN") => false,
                // An empty histogram's buckets (left by a lying file) are
                // not part of its value.
                Value::Histogram(h) => h.count != 0,
                _ => true,
            };
            if comparable {
                assert_eq!(after.value, before.value);
            }
        }
    }
});
