//! `statkit slurp`: every stats file's values, as text or JSON.
//!
//! A file that cannot be read is reported on stderr with its reason and
//! skipped; the others are still printed, and the exit status is then 1.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use statkit_scan::{discover, read_file, render};

#[derive(Debug, clap::Args)]
pub struct SlurpArgs {
    /// Print one JSON array with an object per file:
    /// {"path", "format", "pid", "stats": {label: value}}.
    #[arg(long)]
    json: bool,

    /// Stats files, or folders to read every `*.statkit` and `*.mmstats`
    /// file of. Default: $STATKIT_DIR, else /dev/shm/statkit.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: SlurpArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut objects = Vec::new();
    let mut skipped = 0;
    for path in discover(&args.paths)? {
        match read_file(&path) {
            Ok(file) if args.json => objects.push(render::json_file(&path, &file)),
            Ok(file) => render::text(&mut out, &path, &file)?,
            Err(error) => {
                eprintln!("statkit slurp: skipped {error}");
                skipped += 1;
            }
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
