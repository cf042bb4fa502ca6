//! Real files written by mmstats 0.8.0 decode to what mmstats' own reader
//! printed for them (`testdata/mmstats/reader-decoded.txt`).

use std::path::Path;

use statkit_format::{decode, mmstats, Format, Value};

/// One line of the reference output: a label and Python's repr of a value.
struct Expected {
    label: String,
    repr: String,
}

fn testdata() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/mmstats"
    ))
}

/// Parses `== file` headers and `  u'label' = repr` lines.
fn reference() -> Vec<(String, Vec<Expected>)> {
    let text = std::fs::read_to_string(testdata().join("reader-decoded.txt")).unwrap();
    let mut files: Vec<(String, Vec<Expected>)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            files.push((name.to_owned(), Vec::new()));
        } else if let Some((label, repr)) = line.trim().split_once(" = ") {
            let label = python_str(label);
            files.last_mut().unwrap().1.push(Expected {
                label,
                repr: repr.to_owned(),
            });
        }
    }
    files
}

/// Undoes Python 2's repr of a unicode string: `u'h\xe9llo'`.
fn python_str(repr: &str) -> String {
    let inner = repr
        .strip_prefix("u'")
        .and_then(|s| s.strip_suffix('\''))
        .unwrap();
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            assert_eq!(chars.next(), Some('x'), "only \\x escapes in the fixture");
            let hex: String = chars.by_ref().take(2).collect();
            out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
        } else {
            out.push(c);
        }
    }
    out
}

fn matches(value: &Value, repr: &str) -> bool {
    match value {
        Value::Unsigned(n) => repr.parse::<u64>() == Ok(*n),
        Value::Signed(n) => repr.parse::<i64>() == Ok(*n),
        Value::Float(x) => repr.parse::<f64>() == Ok(*x) && repr.contains('.'),
        Value::Bool(b) => repr == if *b { "True" } else { "False" },
        Value::Text(s) => python_str(repr) == *s,
        other => panic!("mmstats decoded to a statkit value {other:?}"),
    }
}

#[test]
fn every_sample_decodes_to_what_mmstats_read() {
    let files = reference();
    assert_eq!(files.len(), 8);
    for (name, expected) in files {
        let bytes = std::fs::read(testdata().join(&name)).unwrap();
        let file = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.format, Format::Mmstats);
        assert_eq!(file.stats.len(), expected.len(), "{name}");
        for (stat, want) in file.stats.iter().zip(&expected) {
            assert_eq!(stat.label, want.label, "{name}: order");
            assert!(
                matches(&stat.value, &want.repr),
                "{name}: {} = {:?}, mmstats read {}",
                stat.label,
                stat.value,
                want.repr
            );
        }
    }
}

#[test]
fn the_pid_is_the_last_sys_pid_field() {
    let read = |name: &str| {
        decode(&std::fs::read(testdata().join(name)).unwrap())
            .unwrap()
            .pid
    };
    assert_eq!(read("alltypes.mmstats"), Some(13740));
    assert_eq!(read("one-staticuint.mmstats"), Some(12345));
    assert_eq!(read("one-counter.mmstats"), None);
}

#[test]
fn our_encoder_writes_the_sample_byte_for_byte() {
    let counter = mmstats::encode(&[("hits".into(), mmstats::MmValue::U64(42))]);
    let sample = std::fs::read(testdata().join("one-counter.mmstats")).unwrap();
    // mmstats' third write left 2 in the other buffer; ours writes the value twice.
    assert_eq!(counter[..16], sample[..16]);
    assert_eq!(counter.len(), sample.len());
    assert_eq!(
        decode(&counter).unwrap().stats,
        decode(&sample).unwrap().stats
    );
    let flag = mmstats::encode(&[("flag".into(), mmstats::MmValue::Bool(true))]);
    assert_eq!(
        flag,
        std::fs::read(testdata().join("one-bool.mmstats")).unwrap()
    );
    let name = mmstats::encode(&[(
        "name".into(),
        mmstats::MmValue::Text {
            size: 16,
            value: "h\u{e9}llo".into(),
        },
    )]);
    assert_eq!(
        name,
        std::fs::read(testdata().join("one-string.mmstats")).unwrap()
    );
}
