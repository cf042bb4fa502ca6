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
    Path::new(name).extension().and_then(|e| e.to_str()) == Some(EXTENSION) || is_mmstats_file(name)
}

/// Where mmstats writes by default: `$MMSTATS_PATH`, else the temporary
/// folder.
pub fn mmstats_dir() -> PathBuf {
    std::env::var_os("MMSTATS_PATH")
        .filter(|v| !v.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from)
}

/// The files to read for `paths`: each folder's stats files in name order,
/// other paths as given (so a bad one is reported), duplicates dropped. No
/// paths means the stats folder's files and the mmstats files in mmstats'
/// default folder ([`mmstats_dir`]). A missing default folder is an empty
/// host, not an error.
pub fn discover(paths: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if paths.is_empty() {
        let dir = default_dir();
        if dir.is_dir() {
            list(&dir, &mut out, is_stats_file)?;
        }
        let mmstats = mmstats_dir();
        if mmstats.is_dir() && mmstats != dir {
            list(&mmstats, &mut out, is_mmstats_file)?;
        }
    }
    for path in paths {
        if path.is_dir() {
            list(path, &mut out, is_stats_file)?;
        } else {
            out.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|path| seen.insert(path.clone()));
    Ok(out)
}

/// Whether a file name is one of mmstats' (`*.mmstats`, `mmstats-*`).
fn is_mmstats_file(name: &str) -> bool {
    Path::new(name).extension().and_then(|e| e.to_str()) == Some(MMSTATS_EXTENSION)
        || name.starts_with("mmstats-")
}

fn list(dir: &Path, out: &mut Vec<PathBuf>, wanted: fn(&str) -> bool) -> io::Result<()> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && name.to_str().is_some_and(wanted) {
            found.push(entry.path());
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}
