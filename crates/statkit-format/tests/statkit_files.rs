//! statkit files: encode and decode agree, and every kind of bad file is
//! refused with its reason, never a panic.

use proptest::prelude::*;
use statkit_format::layout::{self, header, Layout};
use statkit_format::{decode, encode, mmstats, FormatError, Histogram, Identity, Stat, Value};

fn identity() -> Identity {
    Identity {
        pid: 4242,
        start_time: 123_456,
        created_ns: 1_700_000_000_000_000_000,
        program: "web".into(),
        retired: false,
        piped: false,
    }
}

fn sample() -> Vec<Stat> {
    let mut latency = Histogram::default();
    [0.001, 0.002, 0.25, 3.0]
        .iter()
        .for_each(|&v| latency.record(v));
    let stat = |label: &str, value| Stat {
        label: label.into(),
        value,
    };
    vec![
        stat("requests", Value::Counter(7)),
        stat("queue", Value::Gauge(-2.5)),
        stat("latency", Value::Histogram(latency)),
        stat("version", Value::Text("1.2.3".into())),
        stat(
            "load",
            Value::Average {
                count: 4,
                sum: 10.0,
            },
        ),
        stat("recent", Value::MovingAverage(0.75)),
    ]
}

fn encoded() -> Vec<u8> {
    encode(&identity(), &sample()).unwrap()
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn a_file_decodes_to_what_was_encoded() {
    let file = decode(&encoded()).unwrap();
    assert_eq!(file.stats, sample());
    assert_eq!(file.pid, Some(4242));
    assert_eq!(file.identity, Some(identity()));
}

#[test]
fn retired_totals_have_no_pid() {
    let retired = Identity {
        pid: 0,
        retired: true,
        ..identity()
    };
    let file = decode(&encode(&retired, &sample()).unwrap()).unwrap();
    assert_eq!(file.pid, None);
    assert!(file.identity.unwrap().retired);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = encoded();
    for len in 0..bytes.len() {
        let err = decode(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, FormatError::Truncated { .. }),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn foreign_files_are_named_as_such() {
    assert!(matches!(
        decode(b"hello world"),
        Err(FormatError::ForeignMagic { .. })
    ));
    assert!(matches!(
        decode(b"\x02rest"),
        Err(FormatError::ForeignMagic { .. })
    ));
    assert!(matches!(decode(b""), Err(FormatError::Truncated { .. })));
}

#[test]
fn another_version_is_refused() {
    let mut bytes = encoded();
    bytes[header::VERSION] = 3;
    assert_eq!(
        decode(&bytes),
        Err(FormatError::UnsupportedVersion { found: 3, known: 2 })
    );
}

/// A version 1 file has no chain fields: what lies at bytes 128..136 is
/// not read as a chain.
#[test]
fn version_1_files_are_read_without_a_chain() {
    let mut bytes = encoded();
    let expected = decode(&bytes).unwrap();
    bytes[header::VERSION] = 1;
    bytes[header::SEGMENTS] = 200;
    assert_eq!(decode(&bytes), Ok(expected));
    bytes[header::VERSION] = 2;
    assert!(matches!(
        decode(&bytes),
        Err(FormatError::SizeLying {
            field: "segments",
            ..
        })
    ));
}

#[test]
fn a_big_endian_file_is_refused() {
    let mut bytes = encoded();
    bytes[header::BYTE_ORDER..header::BYTE_ORDER + 4].reverse();
    assert_eq!(decode(&bytes), Err(FormatError::WrongEndianness));
}

#[test]
fn a_file_still_being_created_is_not_ready() {
    let mut bytes = encoded();
    set_u32(&mut bytes, header::STATE, 0);
    assert_eq!(decode(&bytes), Err(FormatError::NotReady));
}

#[test]
fn counts_larger_than_the_file_are_size_lies() {
    for (field, value) in [
        (header::ENTRIES, 7),
        (header::SLOTS_USED, 1_000_000),
        (header::CAPACITY, 1_000_000),
    ] {
        let mut bytes = encoded();
        set_u32(&mut bytes, field, value);
        assert!(
            matches!(decode(&bytes), Err(FormatError::SizeLying { .. })),
            "field at {field}: {:?}",
            decode(&bytes)
        );
    }
    let mut bytes = encoded();
    set_u32(&mut bytes, header::BLOCKS, 3);
    assert!(matches!(
        decode(&bytes),
        Err(FormatError::Truncated { what: "blocks", .. })
    ));
}

#[test]
fn a_histogram_caught_mid_write_is_torn() {
    let mut bytes = encoded();
    let layout = Layout {
        capacity: 6,
        block_size: u32::from_le_bytes(bytes[header::BLOCK_SIZE..][..4].try_into().unwrap()),
        descriptions: 0,
    };
    // The histogram is the third entry; its slot is in the entry.
    let entry = Layout::entry_offset(2) as usize;
    let slot = u32::from_le_bytes(
        bytes[entry + layout::entry::SLOT..][..4]
            .try_into()
            .unwrap(),
    );
    let begin = (layout.block_offset(1) + u64::from(slot) * 8) as usize;
    bytes[begin] = 1;
    assert_eq!(
        decode(&bytes),
        Err(FormatError::Torn {
            label: "latency".into()
        })
    );
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::Counter),
        (-1e12f64..1e12).prop_map(Value::Gauge),
        (-1e12f64..1e12).prop_map(Value::MovingAverage),
        "[a-z0-9 .]{0,64}".prop_map(Value::Text),
        (any::<u64>(), -1e12f64..1e12).prop_map(|(count, sum)| Value::Average { count, sum }),
        proptest::collection::vec(-1e13f64..1e13, 0..40).prop_map(|values| {
            let mut h = Histogram::default();
            values.iter().for_each(|&v| h.record(v));
            Value::Histogram(h)
        }),
    ]
}

proptest! {
    #[test]
    fn statkit_round_trips(
        stats in proptest::collection::vec(("[a-z][a-z0-9._]{0,111}", arb_value()), 0..12),
        pid in any::<u32>(),
        program in "[a-z]{0,56}",
    ) {
        let stats: Vec<Stat> = stats.into_iter().map(|(label, value)| Stat { label, value }).collect();
        let id = Identity { pid, program, ..identity() };
        let file = decode(&encode(&id, &stats).unwrap()).unwrap();
        prop_assert_eq!(file.stats, stats);
        prop_assert_eq!(file.identity, Some(id));
    }

    #[test]
    fn mmstats_round_trips(
        fields in proptest::collection::vec(("[a-z.]{1,40}", prop_oneof![
            any::<u64>().prop_map(mmstats::MmValue::U64),
            any::<i64>().prop_map(mmstats::MmValue::I64),
            any::<u32>().prop_map(mmstats::MmValue::U32),
            any::<i32>().prop_map(mmstats::MmValue::I32),
            any::<f64>().prop_filter("NaN", |x| !x.is_nan()).prop_map(mmstats::MmValue::F64),
            any::<bool>().prop_map(mmstats::MmValue::Bool),
            "[a-z]{0,10}".prop_map(|value| mmstats::MmValue::Text { size: 10, value }),
        ]), 0..30),
    ) {
        let file = decode(&mmstats::encode(&fields)).unwrap();
        prop_assert_eq!(file.stats.len(), fields.len());
        for (stat, (label, value)) in file.stats.iter().zip(&fields) {
            prop_assert_eq!(&stat.label, label);
            let want = match value.clone() {
                mmstats::MmValue::U64(n) => Value::Unsigned(n),
                mmstats::MmValue::U32(n) => Value::Unsigned(n.into()),
                mmstats::MmValue::I64(n) => Value::Signed(n),
                mmstats::MmValue::I32(n) => Value::Signed(n.into()),
                mmstats::MmValue::F64(x) => Value::Float(x),
                mmstats::MmValue::Bool(b) => Value::Bool(b),
                mmstats::MmValue::Text { value, .. } => Value::Text(value),
            };
            prop_assert_eq!(&stat.value, &want);
        }
    }

    #[test]
    fn damaged_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        for mut bytes in [encoded(), std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata/mmstats/alltypes.mmstats")).unwrap()] {
            for (at, byte) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
            let _ = decode(&bytes);
            let _ = decode(&bytes[..cut.index(bytes.len())]);
        }
    }
}

/// Inputs the fuzzer found (`fuzz/`), kept so they stay fixed.
#[test]
fn fuzzer_finds_stay_fixed() {
    // A blocks offset near 2^64: the file length check used to overflow.
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/fuzz-blocks-offset-overflow.statkit"
    ))
    .unwrap();
    assert!(decode(&bytes).is_err());
}

#[test]
fn a_text_of_bad_bytes_decodes_within_a_cell_and_re_encodes() {
    // 64 bytes of invalid UTF-8: each replaced by U+FFFD, the text grew
    // past what a cell holds and could not be encoded again.
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/fuzz-lossy-text-too-long.statkit"
    ))
    .unwrap();
    let file = decode(&bytes).unwrap();
    let identity = file.identity.as_ref().unwrap();
    let again = decode(&encode(identity, &file.stats).unwrap()).unwrap();
    let text = |f: &statkit_format::StatFile| {
        f.stats.iter().find_map(|s| match &s.value {
            Value::Text(t) => Some(t.clone()),
            _ => None,
        })
    };
    let before = text(&file).unwrap();
    assert!(
        before.contains('\u{FFFD}') && before.len() <= 64,
        "{before:?}"
    );
    assert_eq!(text(&again), Some(before));
}
