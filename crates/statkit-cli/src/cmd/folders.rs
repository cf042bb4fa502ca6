//! Where `slurp`, `poll` and `clean` looked, and why they found nothing.
//!
//! The readers take their folders from the environment (`STATKIT_DIR`,
//! `MMSTATS_PATH`, `STATKIT_PIPE_DIR`) or from their arguments; a person
//! who sees no output cannot tell a missing folder from a folder of other
//! files, or a mistyped variable from processes that are not running. These
//! lines say it, on standard error, so standard output stays the data.

use std::io::IsTerminal as _;
use std::os::unix::fs::FileTypeExt as _;
use std::path::{Path, PathBuf};

use statkit_pipe::read as pipes;
use statkit_scan::{discover, liveness, read_file, Liveness};

/// What a reader found in one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The folder does not exist.
    Missing,
    /// The path exists and is not a folder.
    NotAFolder,
    /// The folder could not be listed.
    Unreadable(String),
    /// The folder holds nothing.
    Empty,
    /// The folder holds `entries` entries, none of the kind read.
    NoneOfThem { entries: usize },
    /// The folder holds `count` of the files or pipes read.
    Some { count: usize },
}

/// A folder a reader looked in, why it looked there, and what it found.
#[derive(Debug, Clone)]
pub struct Folder {
    pub path: PathBuf,
    /// What the reader looks for there: "stats files", "statvent pipes".
    pub kind: &'static str,
    /// Where the folder came from: "$STATKIT_DIR", "an argument".
    pub origin: String,
    pub found: Found,
}

impl std::fmt::Display for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.kind;
        write!(f, "{} ({kind}, {}): ", self.path.display(), self.origin)?;
        match &self.found {
            Found::Missing => write!(f, "no such folder"),
            Found::NotAFolder => write!(f, "not a folder"),
            Found::Unreadable(why) => write!(f, "cannot be listed: {why}"),
            Found::Empty => write!(f, "empty"),
            Found::NoneOfThem { entries } => write!(f, "no {kind} among {entries} entries"),
            Found::Some { count } => write!(f, "found {count}"),
        }
    }
}

/// The folders the stats file readers look in for `paths` (as
/// `statkit_scan::discover` takes them), with what each holds.
pub fn stats_folders(paths: &[PathBuf]) -> Vec<Folder> {
    let mut folders = Vec::new();
    if paths.is_empty() {
        let dir = statkit_scan::default_dir();
        let origin = from_env("STATKIT_DIR");
        folders.push(stats_folder(&dir, "stats files", origin, &[]));
        let mmstats = statkit_scan::mmstats_dir();
        if mmstats != dir {
            let origin = from_env("MMSTATS_PATH");
            folders.push(stats_folder(&mmstats, "mmstats files", origin, &[]));
        }
    }
    for path in paths.iter().filter(|p| p.is_dir()) {
        let selection = std::slice::from_ref(path);
        folders.push(stats_folder(
            path,
            "stats files",
            ARGUMENT.into(),
            selection,
        ));
    }
    folders
}

/// The folders the pipe readers look in for `paths`: the pipe folder when
/// there are none, else the folders among them.
pub fn pipe_folders(paths: &[PathBuf]) -> Vec<Folder> {
    if paths.is_empty() {
        let dir = pipes::default_dir();
        return vec![pipe_folder(&dir, from_env(pipes::DIR_ENV))];
    }
    paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| pipe_folder(p, ARGUMENT.into()))
        .collect()
}

/// Arguments that name no file and look like a shell pattern: the shell
/// passes a pattern that matches nothing as typed (`/tmp/*.mmstats`).
pub fn unmatched_patterns(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter(|p| {
            let pattern = p.to_string_lossy().contains(['*', '?', '[']);
            pattern && std::fs::symlink_metadata(p).is_err()
        })
        .cloned()
        .collect()
}

/// Says on standard error that `paths` matched no file.
pub fn report_patterns(command: &str, patterns: &[PathBuf]) {
    for pattern in patterns {
        eprintln!(
            "statkit {command}: {}: the pattern matched nothing (the shell passes a pattern \
             that matches no file as typed)",
            pattern.display()
        );
    }
}

/// Of the stats files `paths` select, how many there are and how many of
/// them belong to processes that have exited.
pub fn count_dead(paths: &[PathBuf]) -> (usize, usize) {
    let files = discover(paths).unwrap_or_default();
    let dead = files
        .iter()
        .filter(|path| read_file(path).is_ok_and(|file| liveness(&file) == Liveness::Dead))
        .count();
    (files.len(), dead)
}

/// Prints `folders`, one per line after `headline`, on standard error.
pub fn report(command: &str, headline: &str, folders: &[Folder]) {
    eprintln!("statkit {command}: {headline}");
    for folder in folders {
        eprintln!("  {folder}");
    }
}

/// Whether a person reads standard error: notes that are only useful to
/// one (which folders were read, when something was) are kept off a
/// script's logs.
pub fn for_a_person() -> bool {
    std::io::stderr().is_terminal()
}

/// The origin of a folder named on the command line.
const ARGUMENT: &str = "an argument";

/// "$STATKIT_DIR" when the variable chose the folder, "the default:
/// $STATKIT_DIR is not set" otherwise.
fn from_env(variable: &str) -> String {
    match std::env::var_os(variable) {
        Some(value) if !value.is_empty() => format!("${variable}"),
        _ => format!("the default: ${variable} is not set"),
    }
}

fn stats_folder(dir: &Path, kind: &'static str, origin: String, selection: &[PathBuf]) -> Folder {
    let found = listing(dir, || {
        let all = discover(selection).unwrap_or_default();
        all.iter().filter(|p| p.parent() == Some(dir)).count()
    });
    Folder {
        path: dir.to_owned(),
        kind,
        origin,
        found,
    }
}

fn pipe_folder(dir: &Path, origin: String) -> Folder {
    let found = listing(dir, || {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_fifo()))
                    .filter(|e| pipes::pid_of(&e.file_name().to_string_lossy()).is_some())
                    .count()
            })
            .unwrap_or(0)
    });
    Folder {
        path: dir.to_owned(),
        kind: "statvent pipes",
        origin,
        found,
    }
}

/// What `dir` holds; `count` counts the entries of the kind read.
fn listing(dir: &Path, count: impl FnOnce() -> usize) -> Found {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::Missing,
        Err(e) => return Found::Unreadable(e.to_string()),
        Ok(meta) if !meta.is_dir() => return Found::NotAFolder,
        Ok(_) => {}
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries.count(),
        Err(e) => return Found::Unreadable(e.to_string()),
    };
    if entries == 0 {
        return Found::Empty;
    }
    match count() {
        0 => Found::NoneOfThem { entries },
        count => Found::Some { count },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_say_what_they_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let show =
            |p: &Path| stats_folder(p, "stats files", ARGUMENT.into(), &[p.to_owned()]).found;
        assert_eq!(show(&path.join("nope")), Found::Missing);
        assert_eq!(show(&path), Found::Empty);
        std::fs::write(path.join("notes.txt"), "x").unwrap();
        assert_eq!(show(&path), Found::NoneOfThem { entries: 1 });
        assert_eq!(show(&path.join("notes.txt")), Found::NotAFolder);
        std::fs::write(path.join("a.statkit"), "x").unwrap();
        assert_eq!(show(&path), Found::Some { count: 1 });
        let folder = stats_folder(&path.join("nope"), "stats files", "$X".into(), &[]);
        assert_eq!(
            folder.to_string(),
            format!(
                "{} (stats files, $X): no such folder",
                path.join("nope").display()
            )
        );
        assert_eq!(
            stats_folder(
                &path,
                "stats files",
                ARGUMENT.into(),
                std::slice::from_ref(&path)
            )
            .to_string(),
            format!("{} (stats files, an argument): found 1", path.display())
        );
    }

    #[test]
    fn patterns_are_arguments_that_look_like_globs_and_name_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("a[1].statkit");
        std::fs::write(&real, "x").unwrap();
        let glob = dir.path().join("*.mmstats");
        let plain = dir.path().join("missing.statkit");
        assert_eq!(unmatched_patterns(&[real, glob.clone(), plain]), vec![glob]);
    }
}
