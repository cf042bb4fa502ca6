//! Which files a reader reads.

use std::io;
use std::path::{Path, PathBuf};

use statkit_format::naming::{dir_from, DIR_ENV, EXTENSION, MMSTATS_EXTENSION};

/// The stats folder: `STATKIT_DIR` when set, else `/dev/shm/statkit`.
pub fn default_dir() -> PathBuf {
    dir_from(std::env::var_os(DIR_ENV))
}

/// Whether a file name is one readers pick up from a folder: `*.statkit`,
/// `*.mmstats`, and mmstats' names before 0.7 (`mmstats-*`).
pub fn is_stats_file(name: &str) -> bool {
    let ext = Path::new(name).extension().and_then(|e| e.to_str());
    ext == Some(EXTENSION) || ext == Some(MMSTATS_EXTENSION) || name.starts_with("mmstats-")
}

/// The files to read for `paths`: each folder's stats files in name order,
/// other paths as given (so a bad one is reported), duplicates dropped; no
/// paths means the stats folder. A missing default folder is an empty host,
/// not an error.
pub fn discover(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if paths.is_empty() {
        let dir = default_dir();
        if dir.is_dir() {
            list(&dir, &mut out)?;
        }
    }
    for path in paths {
        if path.is_dir() {
            list(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|path| seen.insert(path.clone()));
    Ok(out)
}

fn list(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && name.to_str().is_some_and(is_stats_file) {
            found.push(entry.path());
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}
