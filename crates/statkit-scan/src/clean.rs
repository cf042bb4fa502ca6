//! `statkit clean`: removes the files of processes that are gone.
//!
//! Before a dead statkit process' file is removed, its counters, histograms
//! and averages are added into its program's retired totals,
//! `<program>.retired.statkit` in the same folder (a statkit file flagged
//! retired, with no pid), so host totals summed over the folder never go
//! backwards when a process' file disappears. The retired file is replaced
//! atomically (written aside, then renamed), and one clean at a time runs
//! per folder (an `flock` on `<folder>/.statkit-clean.lock`). Dead mmstats
//! files are removed without folding: they do not say which values are
//! counters.
//!
//! Should a clean stop between writing the retired totals and removing the
//! dead files, the next one would count those files twice; the window is
//! one rename and a few unlinks.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use statkit_format::naming::retired_file;
use statkit_format::{encode, Format, Identity, Stat, StatFile, Value};

use crate::{discover, liveness, read_file, Liveness, ReadError, Totals};

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
    let _lock = lock(folder(retired))?;
    let mut totals = Totals::default();
    let mut program = String::new();
    if retired.exists() {
        let existing = read_file(retired).map_err(io::Error::other)?;
        if existing.format != Format::Statkit {
            return Err(io::Error::other(
                "the retired totals file is not a statkit file",
            ));
        }
        totals.add_stats(&existing.stats);
    }
    for (_, file) in files {
        if let Some(identity) = &file.identity {
            program.clone_from(&identity.program);
        }
        totals.add_stats(file.stats.iter().filter(|s| retires(&s.value)));
    }
    let stats: Vec<Stat> = totals.into_stats();
    let identity = Identity {
        pid: 0,
        start_time: 0,
        created_ns: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        program,
        retired: true,
    };
    let bytes = encode(&identity, &stats).map_err(io::Error::other)?;
    let aside = retired.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, retired)
}

/// The values that survive their process: those that only ever add up.
fn retires(value: &Value) -> bool {
    matches!(
        value,
        Value::Counter(_) | Value::Histogram(_) | Value::Average { .. }
    )
}

/// The folder's lock file, held with an exclusive `flock` until dropped.
fn lock(dir: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(".statkit-clean.lock"))?;
    // SAFETY: flock on a descriptor we own; released when it closes.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}
