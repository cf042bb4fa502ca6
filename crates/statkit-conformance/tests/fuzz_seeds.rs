//! The parser's fuzz corpus starts from the suite's datagrams: every
//! distinct datagram of at most 4 KB is a file `conformance-<case>-<n>` in
//! `fuzz/seeds/statsd_parse/`, so libFuzzer begins with each line shape and
//! edge the suite asks about. This test fails when the files and the suite
//! disagree; `STATKIT_WRITE_FUZZ_SEEDS=1` makes it write them instead.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use statkit_conformance::load_suite;

/// Seed files written from the suite start with this; the others are
/// hand-written and left alone.
const PREFIX: &str = "conformance-";

/// Longer datagrams (the limit cases' 4 KB keys and 64 KB datagrams) are
/// left out: libFuzzer sizes its inputs after the largest seed when no
/// `-max_len` is given, and inputs that long would slow every run.
const MAX_SEED: usize = 4096;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// File name -> bytes, one file per distinct datagram (the first case to
/// send it names it).
fn wanted() -> BTreeMap<String, Vec<u8>> {
    let cases = load_suite(&root().join("conformance"))
        .unwrap_or_else(|e| panic!("the suite does not load: {e}"));
    let mut seen = HashSet::new();
    let mut files = BTreeMap::new();
    for case in &cases {
        for (n, datagram) in case.datagrams.iter().enumerate() {
            if datagram.is_empty() || datagram.len() > MAX_SEED || !seen.insert(datagram.clone()) {
                continue;
            }
            let name = format!("{PREFIX}{}-{}", case.id.replace('/', "-"), n + 1);
            files.insert(name, datagram.clone());
        }
    }
    files
}

/// The seed files from the suite now in the corpus folder.
fn present(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_owned();
            name.starts_with(PREFIX).then(|| {
                let bytes = std::fs::read(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                (name, bytes)
            })
        })
        .collect()
}

#[test]
fn the_parser_corpus_holds_every_datagram_of_the_suite() {
    let dir = root().join("fuzz/seeds/statsd_parse");
    let wanted = wanted();
    if std::env::var_os("STATKIT_WRITE_FUZZ_SEEDS").is_some() {
        for name in present(&dir).keys().filter(|n| !wanted.contains_key(*n)) {
            let path = dir.join(name);
            std::fs::remove_file(&path)
                .unwrap_or_else(|e| panic!("cannot remove {}: {e}", path.display()));
        }
        for (name, bytes) in &wanted {
            let path = dir.join(name);
            std::fs::write(&path, bytes)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
    let present = present(&dir);
    let stale: Vec<&String> = wanted
        .iter()
        .filter(|(name, bytes)| present.get(*name) != Some(*bytes))
        .map(|(name, _)| name)
        .chain(present.keys().filter(|n| !wanted.contains_key(*n)))
        .collect();
    assert!(
        stale.is_empty(),
        "fuzz/seeds/statsd_parse/ disagrees with the suite ({} files, e.g. {:?}): run \
         `STATKIT_WRITE_FUZZ_SEEDS=1 cargo test -p statkit-conformance --test fuzz_seeds`",
        stale.len(),
        stale.first()
    );
}
