//! Issue 12's attacks on the readers, as a local user would make them:
//! `slurp` and `serve` meet a stats file its owner truncates over and
//! over, a continuation that is a FIFO, links, and files past the limits.
//! Neither dies, hangs or follows a link; serve still shuts down cleanly.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::util::{self, run_bounded, Dir, Statkit};
use statkit::shm::{Options, Registry};

fn publish(dir: &Path, program: &str, capacity: u32) -> Registry {
    Registry::publish(Options {
        dir: dir.to_owned(),
        program: program.into(),
        capacity,
        ..Options::default()
    })
    .unwrap()
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

fn slurp(paths: &[&Path]) -> Output {
    let mut command = Command::new(util::statkit_bin());
    command.arg("slurp").args(paths).env_remove("STATKIT_DIR");
    run_bounded(command, Duration::from_secs(10))
}

/// A copy of a real stats file at `<dir>/truncated-1.statkit`, cut to a
/// few pages and grown back, over and over, until the returned flag is set.
fn truncating(dir: &Path, source: &Registry) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let bytes = std::fs::read(source.path().unwrap()).unwrap();
    let path = dir.join("truncated-1.statkit");
    std::fs::write(&path, &bytes).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let owner = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            let mut n = 0u64;
            // Cut short for a moment, then whole again: with the file
            // mapped, a third of `slurp` runs died of SIGBUS this way.
            while !stop.load(Relaxed) {
                let _ = file.set_len(n % 3 * 4096);
                std::thread::sleep(Duration::from_millis(2));
                let _ = file.write_all_at(&bytes, 0);
                std::thread::sleep(Duration::from_millis(1));
                n += 1;
            }
        })
    };
    (stop, owner)
}

/// `<dir>/chained-<pid>.statkit` whose continuation `.1` is now a FIFO.
fn fifo_chain(dir: &Path) -> (Registry, PathBuf) {
    let registry = publish(dir, "chained", 1);
    registry.counter("a", &[]).unwrap().inc();
    registry.counter("b", &[]).unwrap().inc();
    let main = registry.path().unwrap().to_owned();
    let next = statkit_format::naming::continuation(&main, 1);
    std::fs::remove_file(&next).unwrap();
    mkfifo(&next);
    (registry, main)
}

fn hostile_folder(dir: &Path) -> (Registry, Registry, Arc<AtomicBool>, JoinHandle<()>) {
    let victim = publish(dir, "victim", 64);
    for m in 0..40 {
        victim.counter(&format!("c{m}"), &[]).unwrap().add(m);
        victim.histogram(&format!("h{m}"), &[]).unwrap().record(0.5);
    }
    let (chain, _) = fifo_chain(dir);
    std::os::unix::fs::symlink("/etc/shadow", dir.join("link-1.statkit")).unwrap();
    let (stop, owner) = truncating(dir, &victim);
    (victim, chain, stop, owner)
}

#[test]
fn slurp_survives_a_file_truncated_while_it_reads_and_a_fifo_continuation() {
    let dir = Dir::new("hostile-slurp");
    let (victim, _chain, stop, owner) = hostile_folder(dir.path());
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut runs = 0;
    while Instant::now() < deadline {
        let output = slurp(&[dir.path()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        // 0 or 1 (a file was skipped), never a signal (SIGBUS was 135).
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{:?}: {stderr}",
            output.status
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(victim.path().unwrap().to_str().unwrap()));
        assert!(stderr.contains("FIFO"), "{stderr}");
        runs += 1;
    }
    stop.store(true, Relaxed);
    owner.join().unwrap();
    assert!(runs >= 3, "{runs} runs");
    // A link named on the command line is not followed either.
    let output = slurp(&[&dir.path().join("link-1.statkit")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("symbolic link"), "{stderr}");
}

#[test]
fn serve_keeps_scanning_a_hostile_folder_and_shuts_down_in_time() {
    let files = Dir::new("hostile-serve-files");
    let pipes = Dir::new("hostile-serve-pipes");
    let (_victim, _chain, stop, owner) = hostile_folder(files.path());
    let mut statkit = Statkit::start(&[
        "--flush-interval",
        "1",
        "--console=false",
        "--stats-dir",
        files.path().to_str().unwrap(),
        "--stats-scan-interval",
        "0.1",
        "--pipe-dir",
        pipes.path().to_str().unwrap(),
    ]);
    let http = statkit.http.expect("an HTTP address");
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        let answer = util::http_get(http, "/api/v1/processes", "");
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            statkit.process.try_wait().is_none(),
            "serve exited:\n{}",
            statkit.process.log()
        );
    }
    stop.store(true, Relaxed);
    owner.join().unwrap();
    let started = Instant::now();
    let (status, killed) = statkit.process.stop();
    assert!(!killed, "serve did not stop within its grace");
    assert!(status.success(), "{status:?}:\n{}", statkit.process.log());
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A stats file over a reader's limit is skipped, logged once (not at every
/// scan) and counted once as `stats_files_refused`.
#[test]
fn an_oversized_file_is_logged_and_counted_once() {
    let dir = Dir::new("hostile-limit");
    // An mmstats file (no statkit header) of 4 KiB, over a 1 KiB limit.
    std::fs::write(dir.path().join("big.mmstats"), vec![0u8; 4096]).unwrap();
    let graphite = crate::util::GraphiteReceiver::start();
    let statkit = Statkit::start(&[
        "--stats-dir",
        dir.path().to_str().unwrap(),
        "--stats-scan-interval",
        "50ms",
        "--stats-max-mmstats-bytes",
        "1024",
        "--flush-interval",
        "300ms",
        "--graphite",
        &graphite.addr().to_string(),
    ]);
    // Several flushes, and many more scans, later.
    graphite.wait_for_flush(4, crate::util::TIMEOUT);
    let log = statkit.process.log();
    assert_eq!(log.matches("stats file skipped").count(), 1, "{log}");
    let refused: f64 = graphite
        .flushes()
        .iter()
        .filter_map(|flush| flush.value("stats.statsd.stats_files_refused"))
        .sum();
    assert_eq!(refused, 1.0);
}
