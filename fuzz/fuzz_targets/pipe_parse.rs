//! Arbitrary bytes into statvent's pipe line parser and the host-wide
//! merge. A crash, a panic or a broken invariant below is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_pipe::{merge, parse, write, Value};

fuzz_target!(|data: &[u8]| {
    let parsed = parse(data);
    let lines = data.split(|&b| b == b'\n').count();
    assert!(parsed.stats.len() + parsed.malformed.len() <= lines);
    for bad in &parsed.malformed {
        assert!(bad.line >= 1 && bad.line <= lines);
    }
    // Every stat writes back as statvent writes it and reads back as
    // itself: the same names, integers exact, floats still floats.
    let text = write(parsed.stats.iter().map(|(n, v)| (n.as_str(), *v)))
        .expect("a parsed name is a writable name");
    let again = parse(text.as_bytes());
    assert!(again.malformed.is_empty(), "{:?}", again.malformed);
    assert_eq!(again.stats.len(), parsed.stats.len());
    for ((name, before), (name_again, after)) in parsed.stats.iter().zip(&again.stats) {
        assert_eq!(name, name_again);
        match (before, after) {
            (Value::Int(a), Value::Int(b)) => assert_eq!(a, b),
            (Value::Float(_), Value::Float(_)) => {}
            other => panic!("{name:?} changed kind: {other:?}"),
        }
    }
    // Merging the snapshot with itself never panics and keeps its names.
    let merged = merge(&[parsed.stats.clone(), parsed.stats.clone()]);
    assert_eq!(merged.len(), parsed.stats.len());
});
