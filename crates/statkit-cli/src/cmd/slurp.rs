//! `statkit slurp`: every stats file's and statvent pipe's values, as text
//! or JSON.
//!
//! A file that cannot be read, or a pipe that gave no whole snapshot, is
//! reported on stderr with its reason and skipped; the others are still
//! printed, and the exit status is then 1. A pipe no process writes (stale)
//! is removed and reported; a pipe's malformed line is reported and
//! skipped. Neither changes the exit status.
//!
//! When nothing is read, stderr says where slurp looked and what it found
//! there (see [`super::folders`]); a shell pattern that matched no file is
//! said so, and is not an error: like an empty folder, it is a host with
//! nothing to show.

use std::io::Write as _;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use statkit_pipe::read::{self as pipes, Scan};
use statkit_scan::{discover, liveness, read_file, render, Liveness};

use super::folders;

#[derive(Debug, clap::Args)]
pub struct SlurpArgs {
    /// Print one JSON array with an object per file or pipe:
    /// {"path", "format", "pid", "stats": {label: value}}.
    #[arg(long)]
    json: bool,

    /// Stats files, statvent pipes (`<pid>.stats`), or folders to read
    /// every `*.statkit` and `*.mmstats` file and `<pid>.stats` pipe of.
    /// Default: $STATKIT_DIR (else /dev/shm/statkit), the mmstats files in
    /// $MMSTATS_PATH (else the temporary folder), and the pipes in
    /// $STATKIT_PIPE_DIR (else /tmp/stats-pipe).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: SlurpArgs) -> anyhow::Result<ExitCode> {
    let patterns = folders::unmatched_patterns(&args.paths);
    folders::report_patterns("slurp", &patterns);
    let given: Vec<PathBuf> = args
        .paths
        .iter()
        .filter(|p| !patterns.contains(p))
        .cloned()
        .collect();
    let mut out = std::io::stdout().lock();
    let mut objects = Vec::new();
    if !args.paths.is_empty() && given.is_empty() {
        // Only patterns that matched nothing: reading the default folders
        // instead would show what was not asked for.
        if args.json {
            writeln!(out, "[]")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (fifos, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        given.iter().cloned().partition(|p| is_fifo(p));
    let mut skipped = 0;
    let (mut files, mut exited) = (0, 0);
    for path in discover(&paths)? {
        let file = match read_file(&path) {
            Ok(file) => file,
            Err(error) => {
                eprintln!("statkit slurp: skipped {error}");
                skipped += 1;
                continue;
            }
        };
        if args.json {
            objects.push(render::json_file(&path, &file));
        } else {
            render::text(&mut out, &path, &file)?;
        }
        files += 1;
        exited += usize::from(liveness(&file) == Liveness::Dead);
    }
    let scan = read_pipes(&given, fifos)?;
    skipped += report(&scan);
    explain(&paths, &given, (files, exited), scan.processes.len());
    for pipe in &scan.processes {
        if args.json {
            objects.push(render::json_pipe(pipe));
        } else {
            render::pipe_text(&mut out, pipe)?;
        }
    }
    if args.json {
        serde_json::to_writer(&mut out, &objects)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Says where slurp looked: always when it read nothing, and to a person
/// at a terminal also when it read something. Files that are all of
/// exited processes (`files`: read, and of those of exited processes) are
/// pointed out, with `statkit clean`.
fn explain(paths: &[PathBuf], given: &[PathBuf], files: (usize, usize), pipes: usize) {
    let (files, exited) = files;
    let stats = folders::stats_folders(paths);
    let pipe_dirs = folders::pipe_folders(given);
    let looked: Vec<folders::Folder> = stats.into_iter().chain(pipe_dirs).collect();
    if files == 0 && pipes == 0 {
        if !looked.is_empty() {
            folders::report("slurp", "nothing to read; it looked in:", &looked);
        }
        return;
    }
    if files > 0 && exited == files && pipes == 0 {
        eprintln!(
            "statkit slurp: every stats file read belongs to a process that has exited; \
             `statkit clean` folds them into retired totals"
        );
    }
    if folders::for_a_person() && !looked.is_empty() {
        let headline = format!("read {files} stats files and {pipes} pipes from:");
        folders::report("slurp", &headline, &looked);
    }
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// The pipes of every folder in `paths` (the pipe folder when there are
/// none) and the `fifos` given by name, read together.
fn read_pipes(paths: &[PathBuf], fifos: Vec<PathBuf>) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    let dirs: Vec<PathBuf> = if paths.is_empty() {
        vec![pipes::default_dir()]
    } else {
        paths.iter().filter(|p| p.is_dir()).cloned().collect()
    };
    for dir in dirs {
        let options = pipes::Options {
            dir,
            ..pipes::Options::default()
        };
        let found = pipes::scan(&options)?;
        scan.processes.extend(found.processes);
        scan.stale.extend(found.stale);
        scan.discarded.extend(found.discarded);
        scan.skipped += found.skipped;
    }
    let mut named = Vec::new();
    for path in fifos {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        match name.as_deref().and_then(pipes::pid_of) {
            Some(pid) => named.push((pid, path)),
            None => {
                let why = "a pipe must be named <pid>.stats".to_owned();
                scan.discarded.push((path, pipes::Discarded::Io(why)));
            }
        }
    }
    pipes::read_fifos(named, &pipes::Options::default(), &mut scan);
    Ok(scan)
}

/// Reports what the pipes' scan did not print; the number that count as
/// skipped (no whole snapshot).
fn report(scan: &Scan) -> usize {
    for path in &scan.stale {
        eprintln!(
            "statkit slurp: removed stale pipe {} (no process writes it)",
            path.display()
        );
    }
    for pipe in &scan.processes {
        for bad in &pipe.malformed {
            eprintln!(
                "statkit slurp: {} line {}: {} (skipped: {:?})",
                pipe.path.display(),
                bad.line,
                bad.reason,
                bad.text
            );
        }
    }
    for (path, why) in &scan.discarded {
        eprintln!("statkit slurp: skipped pipe {}: {why}", path.display());
    }
    if scan.skipped > 0 {
        eprintln!(
            "statkit slurp: skipped {} pipes past the limit",
            scan.skipped
        );
    }
    scan.discarded.len() + scan.skipped
}
