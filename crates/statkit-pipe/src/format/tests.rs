use proptest::prelude::*;

use super::{parse, write, Malformed, Reason, WriteError};
use crate::Value;

/// statvent 1.0.1's own output (research samples: process "a").
const SAMPLE: &[u8] = include_bytes!("../../tests/fixtures/statvent-a.stats");

fn get(stats: &[(String, Value)], name: &str) -> Option<Value> {
    stats.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

#[test]
fn reads_statvents_own_output() {
    let parsed = parse(SAMPLE);
    assert!(parsed.malformed.is_empty(), "{:?}", parsed.malformed);
    assert_eq!(parsed.stats.len(), 20);
    assert_eq!(parsed.stats[0], ("load".to_owned(), Value::Float(0.5)));
    assert_eq!(get(&parsed.stats, "requests"), Some(Value::Int(5)));
    assert_eq!(get(&parsed.stats, "latency.100th"), Some(Value::Int(10)));
    assert_eq!(get(&parsed.stats, "flt.mean"), Some(Value::Float(1.0)));
    // Split on the last colon.
    assert_eq!(get(&parsed.stats, "name: with colon"), Some(Value::Int(7)));
}

#[test]
fn writes_what_statvent_writes() {
    let parsed = parse(SAMPLE);
    let text = write(parsed.stats.iter().map(|(n, v)| (n.as_str(), *v))).unwrap();
    assert_eq!(text.as_bytes(), SAMPLE);
}

#[test]
fn reports_bad_lines_and_keeps_the_rest() {
    let parsed = parse(b"a: 1\nno colon here\n: 3\nb: x\nc:\xff 2\na: 9\n\n  d :  -4  \r\n");
    let names: Vec<_> = parsed.stats.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "d"]);
    assert_eq!(get(&parsed.stats, "d"), Some(Value::Int(-4)));
    let reasons: Vec<_> = parsed
        .malformed
        .iter()
        .map(|m| (m.line, m.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (2, Reason::NoColon),
            (3, Reason::EmptyName),
            (4, Reason::NotANumber),
            (5, Reason::NotUtf8),
            (6, Reason::Duplicate),
        ]
    );
    assert_eq!(
        parsed.malformed[0],
        Malformed {
            line: 2,
            text: "no colon here".into(),
            reason: Reason::NoColon
        }
    );
}

#[test]
fn numbers_read_as_python_reads_them() {
    let parsed = parse(b"a: +5\nb: 1e3\nc: inf\nd: 99999999999999999999\ne: 2.500000\n");
    let values: Vec<_> = parsed.stats.iter().map(|(_, v)| *v).collect();
    assert_eq!(
        values,
        [
            Value::Int(5),
            Value::Float(1000.0),
            Value::Float(f64::INFINITY),
            Value::Float(1e20),
            Value::Float(2.5)
        ]
    );
}

#[test]
fn floats_print_with_six_decimals() {
    let text = write([
        ("a", Value::Float(0.5)),
        ("b", Value::Float(f64::NEG_INFINITY)),
        ("c", Value::Float(f64::NAN)),
        ("d", Value::Int(-3)),
    ])
    .unwrap();
    assert_eq!(text, "a: 0.500000\nb: -inf\nc: nan\nd: -3\n");
}

#[test]
fn refuses_names_that_would_not_read_back() {
    for bad in ["", " a", "a ", "a\nb"] {
        assert_eq!(
            write([(bad, Value::Int(1))]),
            Err(WriteError::Name(bad.into()))
        );
    }
}

fn name() -> impl Strategy<Value = String> {
    // Any characters but line breaks, not blank at either end; colons and
    // spaces inside are allowed.
    "[^\\s][^\n\r]{0,20}[^\\s]|[^\\s]"
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        // Multiples of 1/64 print exactly with six decimals.
        (-(1i64 << 40)..(1i64 << 40)).prop_map(|k| Value::Float(k as f64 / 64.0)),
    ]
}

proptest! {
    #[test]
    fn parse_reads_back_what_write_wrote(
        stats in proptest::collection::btree_map(name(), value(), 0..20)
    ) {
        let text = write(stats.iter().map(|(n, v)| (n.as_str(), *v))).unwrap();
        let parsed = parse(text.as_bytes());
        prop_assert!(parsed.malformed.is_empty(), "{:?}", parsed.malformed);
        let expected: Vec<_> = stats.into_iter().collect();
        prop_assert_eq!(parsed.stats, expected);
    }

    #[test]
    fn any_bytes_parse_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let parsed = parse(&bytes);
        let lines = bytes.split(|&b| b == b'\n').count();
        prop_assert!(parsed.stats.len() + parsed.malformed.len() <= lines);
    }
}
