//! `statkit poll`: a live table of per-interval changes, summed over every
//! process (see `statkit_scan::poll`).
//!
//! Blank cells mean no file has the field; when that is because no process
//! publishes at all (or only processes that have exited left files), stderr
//! says so, and where poll looks, each time that changes.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use statkit_scan::poll::Poller;
use statkit_scan::{discover, read_file};

use super::folders;
use crate::cmd::UsageError;

/// Labels shown as examples when a field is missing.
const EXAMPLES: usize = 8;

/// Says on stderr which fields no file has (their column stays blank),
/// with the prefix that would find them when a label ends in one (a
/// forgotten `-p` is the usual cause), else a few labels the files have.
fn note_missing_labels(prefix: &str, fields: &[String], paths: &[PathBuf]) {
    let mut labels = BTreeSet::new();
    for path in discover(paths).unwrap_or_default() {
        if let Ok(file) = read_file(&path) {
            labels.extend(file.stats.into_iter().map(|stat| stat.label));
        }
    }
    for field in fields {
        let label = format!("{prefix}{field}");
        if labels.is_empty() || labels.contains(&label) {
            continue;
        }
        let ending = format!(".{field}");
        let hint = match labels.iter().find(|l| l.ends_with(&ending)) {
            Some(found) => format!(
                "{found} has it: try -p {}",
                &found[..found.len() - field.len()]
            ),
            None => {
                let some: Vec<&str> = labels.iter().take(EXAMPLES).map(String::as_str).collect();
                let more = if labels.len() > EXAMPLES { ", ..." } else { "" };
                format!("labels they have: {}{more}", some.join(", "))
            }
        };
        eprintln!(
            "statkit poll: no stats file has the label {label} (its column stays blank); {hint}"
        );
    }
}

/// Whether any running process publishes, as far as the files show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Publishers {
    /// No stats file at all.
    NoFiles,
    /// Files, each of a process that has exited.
    AllExited,
    /// At least one file of a running process (or of unknown liveness).
    Some,
}

impl Publishers {
    fn now(paths: &[PathBuf]) -> Publishers {
        match folders::count_dead(paths) {
            (0, _) => Publishers::NoFiles,
            (total, dead) if dead == total => Publishers::AllExited,
            _ => Publishers::Some,
        }
    }

    /// Says on stderr what changed from `before` (`None`: the first row).
    fn note(self, before: Option<Publishers>, paths: &[PathBuf]) {
        match self {
            Publishers::NoFiles => folders::report(
                "poll",
                "no process publishes stats files (rows stay blank until one starts); it looks in:",
                &folders::stats_folders(paths),
            ),
            Publishers::AllExited => eprintln!(
                "statkit poll: every stats file is of a process that has exited (rows show no \
                 change until one starts; `statkit clean` folds them into retired totals)"
            ),
            Publishers::Some if before.is_some() => {
                eprintln!("statkit poll: a running process publishes again");
            }
            Publishers::Some => {}
        }
    }
}

/// Rows between repeated headers.
const HEADER_EVERY: u64 = 20;

#[derive(Debug, clap::Args)]
pub struct PollArgs {
    /// Put in front of every field name to make the label (no dot added).
    #[arg(short, long, default_value = "")]
    prefix: String,

    /// Seconds between rows.
    #[arg(short, long, value_name = "SEC", default_value_t = 1.0)]
    delay: f64,

    /// Rows to print, then exit (default: until interrupted).
    #[arg(short, long, value_name = "COUNT")]
    count: Option<u64>,

    /// Comma-separated fields, e.g. requests,errors.
    #[arg(value_name = "FIELDS")]
    fields: String,

    /// Stats files or folders (default: as for `statkit slurp`).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: PollArgs) -> anyhow::Result<ExitCode> {
    let fields: Vec<String> = args
        .fields
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    if fields.is_empty() {
        return Err(UsageError("FIELDS names no field".into()).into());
    }
    let delay = Duration::try_from_secs_f64(args.delay)
        .map_err(|_| UsageError(format!("--delay {} is not a number of seconds", args.delay)))?;
    let mut poller = Poller::new(&args.prefix, fields.clone(), args.paths.clone());
    let mut out = std::io::stdout().lock();
    let mut rows = 0u64;
    let mut publishers = None;
    while args.count.is_none_or(|count| rows < count) {
        if rows > 0 {
            std::thread::sleep(delay);
        }
        let now = Publishers::now(&args.paths);
        if publishers != Some(now) {
            now.note(publishers, &args.paths);
            if now == Publishers::Some {
                note_missing_labels(&args.prefix, &fields, &args.paths);
            }
            publishers = Some(now);
        }
        if rows % HEADER_EVERY == 0 {
            writeln!(out, "{}", poller.header())?;
        }
        let (row, errors) = poller.row()?;
        for error in errors {
            eprintln!("statkit poll: skipped {error}");
        }
        writeln!(out, "{row}")?;
        out.flush()?;
        rows += 1;
    }
    Ok(ExitCode::SUCCESS)
}
