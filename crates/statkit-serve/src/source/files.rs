//! The shared-memory stats folder and statvent's pipe folder as a source:
//! a thread reads every stats file and every pipe each scan interval and
//! feeds what changed, per process and summed over the host, into a table
//! of its own as statsd samples (`statkit_scan::feed` has the naming), so
//! the flusher and every sink treat them like received ones. The help
//! texts and units the files carry go beside the readings, to `/metrics`
//! (`files_help`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_format::StatFile;
use statkit_scan::feed::{Feed, Kind, Reading};
use statkit_scan::{discover, read_file_with, Limits};
use statkit_wire::statsd::{self, MetricType, Sample, Value};

use super::files_help::{Described, MAX_DESCRIBED};
use super::SourceCounts;
use crate::pipeline::Intake;

/// Counters and histograms whose last values are remembered between scans.
const MAX_SERIES: usize = 100_000;
/// How often a sleeping scanner checks for shutdown.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// What the scanner reads: the stats folder, the pipe folder, or both.
#[derive(Debug, Clone)]
pub(crate) struct Folders {
    pub stats: Option<PathBuf>,
    pub pipes: Option<statkit_pipe::read::Options>,
    /// What one stats file may cost, and how many are read per scan.
    pub limits: Limits,
    pub max_files: usize,
}

/// Scans `folders` every `interval` into `intake` until `stop` is set;
/// files refused for a limit are counted in `counts` and logged once each.
pub(crate) fn run(
    folders: &Folders,
    interval: Duration,
    intake: &Intake,
    counts: &SourceCounts,
    stop: &AtomicBool,
) {
    let mut feed = Feed::new(MAX_SERIES);
    let mut readings = Vec::new();
    let mut helps = Helps::new(intake.fill(|table| table.options().sanitize_keys));
    let mut reported_skips = 0;
    let mut refusals = Refusals::default();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let found = match folders.stats.as_deref() {
            Some(dir) => read_all(dir, &folders.limits, folders.max_files),
            None => Found::default(),
        };
        refusals.note(&found, counts);
        let files = found.files;
        let mut pipes = folders.pipes.as_ref().map(read_pipes).unwrap_or_default();
        // A process that publishes both a stats file and a pipe is read
        // from its file only.
        let published = statkit_scan::pipe_view::published_pids(files.iter().map(|(_, f)| f));
        pipes.retain(|pipe| !published.contains(&pipe.pid));
        readings.clear();
        feed.scan(
            files.iter().map(|(path, file)| (path.as_path(), file)),
            &pipes,
            &mut readings,
        );
        if !readings.is_empty() {
            intake.fill(|table| table.record_all(readings.iter().map(sample)));
        }
        helps.scan(&files, &counts.described);
        if feed.skipped > reported_skips {
            tracing::warn!(
                skipped = feed.skipped,
                "stats files hold more series than the scanner keeps"
            );
            reported_skips = feed.skipped;
        }
        while started.elapsed() < interval && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(STOP_CHECK.min(interval));
        }
    }
}

/// Each scan's descriptions, keyed as the table keys the readings.
struct Helps {
    sanitize: bool,
    found: Vec<statkit_scan::described::KeyHelp>,
    scratch: Vec<u8>,
    reported_left_out: u64,
}

impl Helps {
    fn new(sanitize: bool) -> Helps {
        Helps {
            sanitize,
            found: Vec::new(),
            scratch: Vec::new(),
            reported_left_out: 0,
        }
    }

    /// Puts what `files` describe into `described`; logs when some are
    /// left out, once per change of their number.
    fn scan(&mut self, files: &[(PathBuf, StatFile)], described: &Described) {
        self.found.clear();
        let files = files.iter().map(|(path, file)| (path.as_path(), file));
        let past = statkit_scan::described::key_help(files, MAX_DESCRIBED, &mut self.found);
        let (sanitize, scratch) = (self.sanitize, &mut self.scratch);
        described.replace(&self.found, past as u64, |key| {
            statsd::canonical_key(key.as_bytes(), b"", sanitize, scratch).to_vec()
        });
        let left_out = described.left_out();
        if left_out > 0 && left_out != self.reported_left_out {
            tracing::warn!(
                left_out,
                limit = MAX_DESCRIBED,
                "stats files describe more keys than /metrics keeps; the rest show the default help"
            );
        }
        self.reported_left_out = left_out;
    }
}

/// A reading as the statsd sample it stands for.
fn sample(reading: &Reading) -> Sample<'_> {
    let metric_type = match reading.kind {
        Kind::Counter => MetricType::Counter,
        Kind::Gauge => MetricType::Gauge,
    };
    Sample {
        name: reading.name.as_bytes(),
        tags: reading.tags.as_bytes(),
        metric_type,
        value: Value::Number(reading.value),
        sample_rate: 1.0,
        timestamp: None,
    }
}

/// The whole snapshots of the pipe folder (a folder that cannot be listed
/// is logged and read as empty).
fn read_pipes(options: &statkit_pipe::read::Options) -> Vec<statkit_pipe::read::Process> {
    match super::pipes::read(options) {
        Ok(scan) => scan.processes,
        Err(error) => {
            tracing::debug!(%error, "cannot scan the pipe folder");
            Vec::new()
        }
    }
}

/// What one read of the stats folder found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub files: Vec<(PathBuf, StatFile)>,
    /// Files over a reader's limit (hostile, or just too big), and why.
    pub refused: Vec<(PathBuf, String)>,
    /// Files past `max_files`, left unread.
    pub past_max: usize,
}

/// Every stats file of `dir` that reads within `limits`, at most
/// `max_files` of them; files that do not read for another reason (a
/// process exiting, a torn copy) are left to the next scan.
pub(crate) fn read_all(dir: &Path, limits: &Limits, max_files: usize) -> Found {
    let mut found = Found::default();
    if !dir.is_dir() {
        return found;
    }
    let paths = discover(&[dir.to_owned()]).unwrap_or_else(|error| {
        tracing::debug!(%error, dir = %dir.display(), "cannot list the stats folder");
        Vec::new()
    });
    found.past_max = paths.len().saturating_sub(max_files);
    for path in paths.into_iter().take(max_files) {
        match read_file_with(&path, limits) {
            Ok(file) => found.files.push((path, file)),
            Err(error) if error.is_over_limit() => found.refused.push((path, error.to_string())),
            Err(error) => tracing::debug!(%error, "skipped a stats file"),
        }
    }
    found
}

/// The refused files already logged, so each is logged (and counted) once
/// while it stays, not at every scan.
#[derive(Debug, Default)]
struct Refusals {
    logged: HashSet<PathBuf>,
    past_max: usize,
}

impl Refusals {
    fn note(&mut self, found: &Found, counts: &SourceCounts) {
        let now: HashSet<&PathBuf> = found.refused.iter().map(|(path, _)| path).collect();
        self.logged.retain(|path| now.contains(path));
        for (path, why) in &found.refused {
            if self.logged.insert(path.clone()) {
                counts.refuse_file();
                tracing::warn!(path = %path.display(), reason = %why, "stats file skipped: over a reader's limit (stats.max_bytes, stats.max_mmstats_bytes)");
            }
        }
        if found.past_max > 0 && found.past_max != self.past_max {
            tracing::warn!(
                skipped = found.past_max,
                "more stats files than stats.max_files; the rest are not read"
            );
        }
        self.past_max = found.past_max;
    }
}

/// Starts the scanner thread.
pub(crate) fn start(
    folders: Folders,
    interval: Duration,
    intake: Intake,
    counts: Arc<SourceCounts>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("statkit-files".into())
        .spawn(move || run(&folders, interval, &intake, &counts, &stop))
}
