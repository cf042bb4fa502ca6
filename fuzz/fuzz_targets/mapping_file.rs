//! Arbitrary bytes as a statsd_exporter mapping file (up to the first NUL)
//! and a statsd name (after it): the YAML reader and the validator must
//! refuse or load it without panicking, every error must name a line of
//! the text, and a loaded file must map the name the same with and
//! without its cache.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statkit_mapping::{Cache, LoadError, Mapper, MetricKind};

fuzz_target!(|data: &[u8]| {
    let (file, name) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"a.b.c"[..]),
    };
    let Ok(text) = std::str::from_utf8(file) else {
        return;
    };
    // YAML breaks lines at `\n`, `\r` and `\r\n`; one more for the end.
    let lines = text.bytes().filter(|&b| b == b'\n' || b == b'\r').count() + 2;
    match Mapper::from_yaml(text) {
        Ok(mapper) => {
            assert!(mapper.warnings().iter().all(|w| w.line >= 1 && w.line <= lines));
            let mut cache = Cache::new(2);
            for kind in MetricKind::ALL {
                let direct = mapper.map(name, kind);
                assert_eq!(cache.map(&mapper, name, kind), &direct);
                assert_eq!(cache.map(&mapper, name, kind), &direct);
            }
        }
        Err(LoadError::Syntax { line, .. }) => assert!(line <= lines, "line {line} of {lines}"),
        Err(LoadError::Invalid(found)) => {
            assert!(!found.is_empty());
            assert!(found.iter().all(|d| d.line >= 1 && d.line <= lines), "{found:?}");
        }
    }
});
