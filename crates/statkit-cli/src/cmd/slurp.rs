//! `statkit slurp`: every stats file's and statvent pipe's values, as text
//! or JSON.
//!
//! A file that cannot be read, or a pipe that gave no whole snapshot, is
//! reported on stderr with its reason and skipped; the others are still
//! printed, and the exit status is then 1. A pipe no process writes (stale)
//! is removed and reported; a pipe's malformed line is reported and
//! skipped. Neither changes the exit status.

use std::io::Write as _;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use statkit_pipe::read::{self as pipes, Scan};
use statkit_scan::{discover, read_file, render};

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
    let (fifos, paths): (Vec<PathBuf>, Vec<PathBuf>) =
        args.paths.iter().cloned().partition(|p| is_fifo(p));
    let mut out = std::io::stdout().lock();
    let mut objects = Vec::new();
    let mut skipped = 0;
    for path in discover(&paths)? {
        match read_file(&path) {
            Ok(file) if args.json => objects.push(render::json_file(&path, &file)),
            Ok(file) => render::text(&mut out, &path, &file)?,
            Err(error) => {
                eprintln!("statkit slurp: skipped {error}");
                skipped += 1;
            }
        }
    }
    let scan = read_pipes(&args.paths, fifos)?;
    skipped += report(&scan);
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

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// The pipes of every folder in `paths` (the pipe folder when there are
/// none) and the `fifos` given by name, read together.
fn read_pipes(paths: &[PathBuf], fifos: Vec<PathBuf>) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    let folders: Vec<PathBuf> = if paths.is_empty() {
        vec![pipes::default_dir()]
    } else {
        paths.iter().filter(|p| p.is_dir()).cloned().collect()
    };
    for dir in folders {
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
