//! `statkit poll`: a live table of per-interval changes, summed over every
//! process (see `statkit_scan::poll`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use statkit_scan::poll::Poller;

use crate::cmd::UsageError;

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

    /// Stats files or folders (default: the stats folder).
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
    let mut poller = Poller::new(&args.prefix, fields, args.paths);
    let mut out = std::io::stdout().lock();
    let mut rows = 0u64;
    while args.count.is_none_or(|count| rows < count) {
        if rows > 0 {
            std::thread::sleep(delay);
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
