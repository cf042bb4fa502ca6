//! `statkit clean`: removes the files of processes that are gone.
//!
//! Before a dead statkit process' file is removed, its counters, histograms
//! and averages are added into its program's retired totals,
//! `<program>.retired.statkit` in the same folder (a statkit file flagged
//! retired, with no pid), so host totals summed over the folder never go
//! backwards when a process' file disappears. The retired file is replaced
//! atomically (written aside, then renamed), and one clean at a time runs
//! per folder (an `flock` on `<folder>/.statkit-clean.lock`). The folder
//! is someone else's input too: it is opened and checked once, and every
//! file is created in it with `O_EXCL | O_NOFOLLOW` relative to that
//! descriptor (`folder.rs`), so a link planted at the temporary name never
//! makes clean write through it. Dead mmstats
//! files are removed without folding: they do not say which values are
//! counters.
//!
//! Should a clean stop between writing the retired totals and removing the
//! dead files, the next one would count those files twice; the window is
//! one rename and a few unlinks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use statkit_format::naming::retired_file;
use statkit_format::{encode_with, Description, Format, Identity, Stat, StatFile, Value};

use crate::folder::Folder;
use crate::{discover, liveness, read_file, Liveness, ReadError, Totals};

/// The folder's clean lock.
const LOCK_FILE: &str = ".statkit-clean.lock";
/// How long a clean waits for another (or for whoever holds the lock).
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// What clean did (or, dry, would do) with one file.
#[derive(Debug)]
pub enum Action {
    /// The writer is gone; the file was removed, its totals folded into
    /// `retired` (statkit files only).
    Removed {
        /// The file.
        path: PathBuf,
        /// Its writer's pid.
        pid: u32,
        /// The retired totals it was folded into.
        retired: Option<PathBuf>,
    },
    /// The writer runs.
    Alive {
        /// The file.
        path: PathBuf,
    },
    /// Retired totals, or an mmstats file with no pid: kept.
    Kept {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// Not a readable stats file: left alone.
    Invalid(ReadError),
    /// Removing or folding failed.
    Failed {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        error: String,
    },
}

/// Cleans the files `paths` name (folders, files; none: the stats
/// folder). With `dry_run`, reports what it would do and changes nothing.
pub fn clean(paths: &[PathBuf], dry_run: bool) -> io::Result<Vec<Action>> {
    let mut actions = Vec::new();
    let mut dead: BTreeMap<PathBuf, Vec<(PathBuf, StatFile)>> = BTreeMap::new();
    for path in discover(paths)? {
        let file = match read_file(&path) {
            Ok(file) => file,
            Err(error) => {
                actions.push(Action::Invalid(error));
                continue;
            }
        };
        match liveness(&file) {
            Liveness::Alive => actions.push(Action::Alive { path }),
            Liveness::Retired => actions.push(Action::Kept {
                path,
                reason: "retired totals",
            }),
            Liveness::Unknown => actions.push(Action::Kept {
                path,
                reason: "no pid in the file",
            }),
            Liveness::Dead => {
                let group = match &file.identity {
                    Some(identity) => folder(&path).join(retired_file(&identity.program)),
                    None => PathBuf::new(),
                };
                dead.entry(group).or_default().push((path, file));
            }
        }
    }
    for (retired, files) in dead {
        actions.extend(retire(&retired, files, dry_run));
    }
    Ok(actions)
}

fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Folds one program's dead files into `retired` (empty for mmstats files)
/// and removes them.
fn retire(retired: &Path, files: Vec<(PathBuf, StatFile)>, dry_run: bool) -> Vec<Action> {
    let folds = !retired.as_os_str().is_empty();
    let failed = |files: Vec<(PathBuf, StatFile)>, error: String| {
        files
            .into_iter()
            .map(|(path, _)| Action::Failed {
                path,
                error: error.clone(),
            })
            .collect()
    };
    if folds && !dry_run {
        if let Err(error) = fold(retired, &files) {
            return failed(
                files,
                format!("cannot update {}: {error}", retired.display()),
            );
        }
    }
    files
        .into_iter()
        .map(|(path, file)| {
            let removed = if dry_run { Ok(()) } else { remove_chain(&path) };
            match removed {
                Ok(()) => Action::Removed {
                    pid: file.pid.unwrap_or(0),
                    retired: folds.then(|| retired.to_owned()),
                    path,
                },
                Err(error) => Action::Failed {
                    path,
                    error: error.to_string(),
                },
            }
        })
        .collect()
}

/// Removes a stats file and its continuation files (`<path>.1`, ...).
fn remove_chain(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)?;
    for n in 1..statkit_format::layout::MAX_SEGMENTS {
        match std::fs::remove_file(statkit_format::naming::continuation(path, n)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            other => other?,
        }
    }
    Ok(())
}

/// Adds the dead files' counters, histograms and averages into the retired
/// totals file, under the folder's clean lock.
fn fold(retired: &Path, files: &[(PathBuf, StatFile)]) -> io::Result<()> {
    let dir = Folder::open(folder(retired))?;
    let _lock = dir.lock(LOCK_FILE, LOCK_PATIENCE)?;
    let mut totals = Totals::default();
    let mut program = String::new();
    let mut described: Vec<Description> = Vec::new();
    // Whatever is at that name, a link included (which the read refuses).
    if std::fs::symlink_metadata(retired).is_ok() {
        let existing = read_file(retired).map_err(io::Error::other)?;
        if existing.format != Format::Statkit {
            return Err(io::Error::other(
                "the retired totals file is not a statkit file",
            ));
        }
        totals.add_stats(&existing.stats);
        described = existing.descriptions;
    }
    for (_, file) in files {
        if let Some(identity) = &file.identity {
            program.clone_from(&identity.program);
        }
        totals.add_stats(file.stats.iter().filter(|s| retires(&s.value)));
        described.extend(file.descriptions.iter().cloned());
    }
    let stats: Vec<Stat> = totals.into_stats();
    let descriptions = retired_descriptions(described, &stats);
    let identity = Identity {
        pid: 0,
        start_time: 0,
        created_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        program,
        retired: true,
        piped: false,
    };
    let bytes = encode_with(&identity, &stats, &descriptions).map_err(io::Error::other)?;
    let name = file_name(retired)?;
    let aside = file_name(&retired.with_extension(format!("tmp-{}", std::process::id())))?;
    let written = dir
        .create_new(&aside)
        .and_then(|mut file| file.write_all(&bytes))
        .and_then(|()| dir.rename(&aside, &name));
    if written.is_err() {
        let _ = dir.remove(&aside);
    }
    written
}

/// The descriptions the retired totals keep: of the names they hold, the
/// last one given (the dead files' over the retired file's), as many as a
/// file's section has room for.
fn retired_descriptions(all: Vec<Description>, stats: &[Stat]) -> Vec<Description> {
    let names: HashSet<&str> = stats
        .iter()
        .map(|s| s.label.split_once('{').map_or(s.label.as_str(), |(n, _)| n))
        .collect();
    let mut kept: Vec<Description> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for description in all {
        if !names.contains(description.name.as_str()) {
            continue;
        }
        match at.get(&description.name) {
            Some(&index) => kept[index] = description,
            None => {
                at.insert(description.name.clone(), kept.len());
                kept.push(description);
            }
        }
    }
    let mut room = statkit_format::describe::SECTION_MAX as usize;
    kept.retain(|d| {
        let fits = d.record_len() <= room;
        room -= if fits { d.record_len() } else { 0 };
        fits
    });
    kept
}

/// The last component of a path clean made itself (ASCII: see
/// `naming::file_safe`).
fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("{} has no file name", path.display())))
}

/// The values that survive their process: those that only ever add up.
fn retires(value: &Value) -> bool {
    matches!(
        value,
        Value::Counter(_) | Value::Histogram(_) | Value::Average { .. }
    )
}
