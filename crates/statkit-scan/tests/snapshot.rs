//! A snapshot (compact copy of the used parts) decodes to what the whole
//! file decodes to, and a damaged file keeps its precise error.

use statkit::shm::{Options, Registry};
use statkit_format::{decode, FormatError};
use statkit_scan::{read_file, snapshot, ReadError};

#[test]
fn the_compact_copy_decodes_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "snap".into(),
        ..Options::default()
    })
    .unwrap();
    registry.counter("c", &[]).unwrap().add(3);
    registry.histogram("h", &[("k", "v")]).unwrap().record(0.5);
    registry.text("t", &[]).unwrap().set("hello");
    registry.gauge("g", &[]).unwrap().set(1.5);
    let path = registry.path().unwrap();
    let whole = decode(&std::fs::read(path).unwrap()).unwrap();
    let copy = snapshot(path).unwrap();
    assert!(copy.len() < 64 * 1024, "{} bytes", copy.len());
    assert_eq!(decode(&copy).unwrap(), whole);
}

#[test]
fn a_truncated_file_is_reported_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::publish(Options {
        dir: dir.path().to_owned(),
        program: "snap".into(),
        ..Options::default()
    })
    .unwrap();
    registry.counter("c", &[]).unwrap().inc();
    let bytes = std::fs::read(registry.path().unwrap()).unwrap();
    let cut = dir.path().join("cut.statkit");
    std::fs::write(&cut, &bytes[..bytes.len() - 4096]).unwrap();
    match read_file(&cut) {
        Err(ReadError::Format {
            source: FormatError::Truncated { what: "blocks", .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
