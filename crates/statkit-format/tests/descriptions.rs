//! The descriptions section: help texts and units round trip, files
//! written before the section existed still read, files with it read the
//! same through an older reader's eyes, and a lying section is refused.

use proptest::prelude::*;
use statkit_format::describe::{HELP_MAX, SECTION_MAX};
use statkit_format::layout::{header, HEADER_SIZE, HEADER_SIZE_V2, VERSION};
use statkit_format::{decode, encode_with, Description, FormatError, Identity, Stat, Value};

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

fn stats() -> Vec<Stat> {
    vec![
        Stat {
            label: "requests{code=200}".into(),
            value: Value::Counter(7),
        },
        Stat {
            label: "queue".into(),
            value: Value::Gauge(-2.5),
        },
    ]
}

fn descriptions() -> Vec<Description> {
    vec![
        Description::new("requests", "", "requests served, by status").unwrap(),
        Description::new("latency_seconds", "seconds", "time to answer").unwrap(),
    ]
}

fn described() -> Vec<u8> {
    encode_with(&identity(), &stats(), &descriptions()).unwrap()
}

fn set(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

#[test]
fn descriptions_round_trip_and_are_found_by_label() {
    let file = decode(&described()).unwrap();
    assert_eq!(file.stats, stats());
    assert_eq!(file.descriptions, descriptions());
    let requests = file.description("requests{code=200}").unwrap();
    assert_eq!(requests.help, "requests served, by status");
    assert_eq!(file.description("queue"), None);
}

/// A version 2 file written before the section existed: a 136-byte
/// header (`testdata/v2-header-136.statkit`, from the encoder of then).
#[test]
fn a_file_without_the_section_reads_with_no_descriptions() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/v2-header-136.statkit"
    ))
    .unwrap();
    assert_eq!(
        u16::from_le_bytes([bytes[header::HEADER_SIZE], bytes[header::HEADER_SIZE + 1]]),
        HEADER_SIZE_V2
    );
    let file = decode(&bytes).unwrap();
    assert_eq!(file.stats.len(), 3);
    assert_eq!(file.stats[0].label, "requests{code=200}");
    assert_eq!(file.stats[0].value, Value::Counter(7));
    assert!(file.descriptions.is_empty());
}

/// A reader of the 136-byte header never looks at bytes 136..152 and
/// finds the entries at the header's own size: with those bytes wiped, a
/// new file still decodes to the same values (and no descriptions), and
/// the version it would check is unchanged.
#[test]
fn an_older_reader_reads_the_values_of_a_described_file() {
    let mut bytes = described();
    assert_eq!(bytes[header::VERSION], VERSION as u8);
    assert_eq!(
        u16::from_le_bytes([bytes[header::HEADER_SIZE], bytes[header::HEADER_SIZE + 1]]),
        HEADER_SIZE
    );
    set(&mut bytes, usize::from(HEADER_SIZE_V2), &[0; 16]);
    let file = decode(&bytes).unwrap();
    assert_eq!(file.stats, stats());
    assert!(file.descriptions.is_empty());
}

#[test]
fn every_truncation_of_a_described_file_is_an_error() {
    let bytes = described();
    for len in 0..bytes.len() {
        let err = decode(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, FormatError::Truncated { .. }),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn a_lying_section_is_refused() {
    let section =
        |bytes: &[u8], at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let original = described();
    let size = section(&original, header::DESCRIPTIONS_SIZE);
    let offset = u64::from_le_bytes(
        original[header::DESCRIPTIONS_OFFSET..][..8]
            .try_into()
            .unwrap(),
    );
    let lying = |at: usize, value: &[u8]| {
        let mut bytes = original.clone();
        set(&mut bytes, at, value);
        decode(&bytes)
    };
    let size_lie = |field: &str, result: Result<_, FormatError>| {
        assert!(
            matches!(&result, Err(FormatError::SizeLying { field: f, .. }) if *f == field),
            "{field}: {result:?}"
        )
    };
    size_lie(
        "descriptions used",
        lying(header::DESCRIPTIONS_USED, &(size + 8).to_le_bytes()),
    );
    size_lie(
        "descriptions size",
        lying(header::DESCRIPTIONS_SIZE, &(SECTION_MAX + 8).to_le_bytes()),
    );
    size_lie(
        "descriptions end",
        lying(header::DESCRIPTIONS_OFFSET, &(offset + 4096).to_le_bytes()),
    );
    let corrupt = |result: Result<_, FormatError>| {
        assert!(matches!(result, Err(FormatError::Corrupt(_))), "{result:?}")
    };
    corrupt(lying(
        header::DESCRIPTIONS_OFFSET,
        &(offset - 8).to_le_bytes(),
    ));
    corrupt(lying(
        header::DESCRIPTIONS_OFFSET,
        &(offset + 4).to_le_bytes(),
    ));
    corrupt(lying(header::DESCRIPTIONS_USED, &(size - 4).to_le_bytes()));
    // A help length past its limit, in the first record.
    size_lie(
        "description help length",
        lying(offset as usize + 4, &(HELP_MAX as u16 + 1).to_le_bytes()),
    );
}

fn description() -> impl Strategy<Value = Description> {
    ("[a-z][a-z0-9_.]{0,40}", "[a-z_]{0,20}", "\\PC{0,80}")
        .prop_filter_map("within limits", |(n, u, h)| {
            Description::new(&n, &u, &h).ok()
        })
}

proptest! {
    #[test]
    fn described_files_round_trip(
        labels in proptest::collection::vec("[a-z][a-z0-9._]{0,40}", 0..8),
        descriptions in proptest::collection::vec(description(), 0..8),
    ) {
        let stats: Vec<Stat> = labels.into_iter().enumerate()
            .map(|(i, label)| Stat { label, value: Value::Counter(i as u64) })
            .collect();
        let mut unique: Vec<Description> = Vec::new();
        for d in descriptions {
            if !unique.iter().any(|u| u.name == d.name) {
                unique.push(d);
            }
        }
        let file = decode(&encode_with(&identity(), &stats, &unique).unwrap()).unwrap();
        prop_assert_eq!(file.stats, stats);
        prop_assert_eq!(file.descriptions, unique);
    }

    #[test]
    fn damaged_described_files_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = described();
        // Damage aimed at the header and the section, where the new
        // fields are, as often as anywhere else.
        let hot = usize::from(HEADER_SIZE) + 2 * 128 + 128;
        for (at, byte) in &flips {
            let i = at.index(hot.min(bytes.len()));
            bytes[i] = *byte;
        }
        let _ = decode(&bytes);
        let _ = decode(&bytes[..cut.index(bytes.len())]);
    }
}

/// `testdata/described.statkit` is what this encoder writes (the Python
/// reader's tests read it); `STATKIT_BLESS=1` writes it again.
#[test]
fn the_described_fixture_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/testdata/described.statkit"
    );
    if std::env::var_os("STATKIT_BLESS").is_some() {
        std::fs::write(path, described()).unwrap();
    }
    assert_eq!(std::fs::read(path).unwrap(), described());
}
