//! The shared-memory stats folder as a source: a thread reads every stats
//! file each scan interval and feeds what changed, per process and summed
//! over the host, into a table of its own as statsd lines
//! (`statkit_scan::feed` has the naming), so the flusher and every sink
//! treat them like received samples.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use statkit_agg::Table;
use statkit_scan::feed::Feed;
use statkit_scan::{discover, read_file};

use super::lock;

/// Counters and histograms whose last values are remembered between scans.
const MAX_SERIES: usize = 100_000;
/// How often a sleeping scanner checks for shutdown.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// Scans `dir` every `interval` into `table` until `stop` is set.
pub(crate) fn run(dir: &Path, interval: Duration, table: &Mutex<Table>, stop: &AtomicBool) {
    let mut feed = Feed::new(MAX_SERIES);
    let mut lines = Vec::new();
    let mut reported_skips = 0;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let files = read_all(dir);
        lines.clear();
        feed.scan(
            files.iter().map(|(path, file)| (path.as_path(), file)),
            &mut lines,
        );
        if !lines.is_empty() {
            lock(table).ingest(&lines);
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

fn read_all(dir: &Path) -> Vec<(PathBuf, statkit_format::StatFile)> {
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

/// Starts the scanner thread when the folder is configured.
pub(crate) fn start(
    dir: Option<PathBuf>,
    interval: Duration,
    table: Arc<Mutex<Table>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(dir) = dir else { return Ok(None) };
    std::thread::Builder::new()
        .name("statkit-files".into())
        .spawn(move || run(&dir, interval, &table, &stop))
        .map(Some)
}
