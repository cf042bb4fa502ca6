//! Arbitrary bytes into the statsd parser and the key builder. A crash, a
//! panic or a broken invariant below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_wire::statsd::{
    canonical_key, is_kept_key_byte, parse_datagram, MetricType, ParseError, Sample, Value, Visitor,
};

/// Checks each report as it arrives and builds every sample's key, so the
/// key builder also sees names and tags exactly as the parser cut them.
struct Check {
    scratch: Vec<u8>,
}

impl<'a> Visitor<'a> for Check {
    fn sample(&mut self, sample: Sample<'a>) {
        assert!(!sample.name.is_empty());
        assert!(sample.sample_rate.is_finite() && sample.sample_rate > 0.0);
        match sample.value {
            Value::Number(n) => assert!(n.is_finite()),
            Value::Delta(n) => assert!(n.is_finite() && sample.metric_type == MetricType::Gauge),
            Value::Member(_) => assert_eq!(sample.metric_type, MetricType::Set),
        }
        if sample.metric_type == MetricType::Timer {
            assert!(matches!(sample.value, Value::Number(n) if n >= 0.0));
        }
        let key = canonical_key(sample.name, sample.tags, true, &mut self.scratch);
        assert!(key.iter().all(|&b| is_kept_key_byte(b)));
    }

    fn invalid(&mut self, line: &'a [u8], _: ParseError) {
        assert!(!line.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    parse_datagram(
        data,
        &mut Check {
            scratch: Vec::new(),
        },
    );

    // The first byte picks where the name ends and the tags begin.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (name, tags) = rest.split_at(usize::from(split).min(rest.len()));
    let mut scratch = Vec::new();
    let key = canonical_key(name, tags, true, &mut scratch).to_vec();
    assert!(key.iter().all(|&b| is_kept_key_byte(b)));
    let mut again = Vec::new();
    assert_eq!(
        canonical_key(&key, b"", true, &mut again),
        &key[..],
        "sanitizing is idempotent"
    );
    let mut raw = Vec::new();
    let unsanitized = canonical_key(name, tags, false, &mut raw);
    assert!(unsanitized.len() >= name.len());
});
