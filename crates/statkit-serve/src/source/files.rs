//! The shared-memory stats folder and statvent's pipe folder as a source:
//! a thread reads every stats file and every pipe each scan interval and
//! feeds what changed, per process and summed over the host, into a table
//! of its own as statsd samples (`statkit_scan::feed` has the naming), so
//! the flusher and every sink treat them like received ones.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit_scan::feed::{Feed, Kind, Reading};
use statkit_scan::{discover, read_file};
use statkit_wire::statsd::{MetricType, Sample, Value};

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
}

/// Scans `folders` every `interval` into `intake` until `stop` is set.
pub(crate) fn run(folders: &Folders, interval: Duration, intake: &Intake, stop: &AtomicBool) {
    let mut feed = Feed::new(MAX_SERIES);
    let mut readings = Vec::new();
    let mut reported_skips = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let files = folders.stats.as_deref().map(read_all).unwrap_or_default();
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

/// Every stats file of `dir` that reads (the others are logged).
pub(crate) fn read_all(dir: &Path) -> Vec<(PathBuf, statkit_format::StatFile)> {
    if !dir.is_dir() {
        return Vec::new();
    }
    let paths = discover(&[dir.to_owned()]).unwrap_or_else(|error| {
        tracing::debug!(%error, dir = %dir.display(), "cannot list the stats folder");
        Vec::new()
    });
    paths
        .into_iter()
        .filter_map(|path| match read_file(&path) {
            Ok(file) => Some((path, file)),
            Err(error) => {
                tracing::debug!(%error, "skipped a stats file");
                None
            }
        })
        .collect()
}

/// Starts the scanner thread.
pub(crate) fn start(
    folders: Folders,
    interval: Duration,
    intake: Intake,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("statkit-files".into())
        .spawn(move || run(&folders, interval, &intake, &stop))
}
