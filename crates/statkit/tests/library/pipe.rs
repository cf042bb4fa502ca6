//! The pipe publisher read the way statvent's readers read it.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use statkit::pipe::{Options, Publisher};
use statkit::shm::{self, Registry};
use statkit_pipe::{read, Value};

fn registry() -> Registry {
    Registry::in_memory(shm::Options::default()).unwrap()
}

fn options(dir: &Path) -> Options {
    Options {
        dir: dir.to_owned(),
    }
}

/// One snapshot, read as statvent's web service reads it (a blocking open
/// and read to the end), on a thread so a broken publisher fails the test
/// rather than hanging it.
fn read_fifo(path: &Path) -> String {
    let (tx, rx) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || tx.send(std::fs::read_to_string(path)));
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the publisher answered within 10 s")
        .expect("the FIFO read")
}

fn scan(dir: &Path) -> read::Scan {
    read::scan(&read::Options {
        dir: dir.to_owned(),
        ..read::Options::default()
    })
    .unwrap()
}

#[test]
fn a_reader_gets_exact_lines_and_every_reader_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    registry.counter("requests", &[]).unwrap().add(3);
    registry.gauge("load", &[]).unwrap().set(0.5);
    registry.text("version", &[]).unwrap().set("1.0");
    let latency = registry.histogram("latency", &[]).unwrap();
    // The ring of last values fills from the publisher's start.
    let publisher = Publisher::start(&registry, options(dir.path())).unwrap();
    (1..=10).for_each(|v| latency.record(f64::from(v)));
    let path = dir.path().join(format!("{}.stats", std::process::id()));
    assert_eq!(publisher.path(), path);

    assert_eq!(
        read_fifo(&path),
        "requests: 3\nload: 0.500000\nlatency.median: 5.000000\nlatency.95th: 9.000000\n\
         latency.99th: 9.000000\nlatency.100th: 10.000000\nlatency.mean: 5.500000\nlatency.count: 10\n"
    );
    registry.counter("requests", &[]).unwrap().inc();
    let again = read_fifo(&path);
    assert!(again.starts_with("requests: 4\n"), "{again}");

    // (A child forked by another test meanwhile may have left a stale
    // FIFO of its own here: only ours is looked at.)
    let scan = scan(dir.path());
    let process = scan
        .processes
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("our snapshot");
    assert!(process.malformed.is_empty());
    assert!(process.stats.contains(&("requests".into(), Value::Int(4))));
    assert!(process
        .stats
        .contains(&("latency.mean".into(), Value::Float(5.5))));

    drop(publisher);
    assert!(!path.exists());
}

#[test]
fn a_stale_fifo_with_our_pid_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}.stats", std::process::id()));
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let registry = registry();
    registry.counter("alive", &[]).unwrap().inc();
    let _publisher = Publisher::start(&registry, options(dir.path())).unwrap();
    assert_eq!(read_fifo(&path), "alive: 1\n");
}

#[test]
fn a_second_publisher_on_the_same_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    let _first = Publisher::start(&registry, options(dir.path())).unwrap();
    let second = Publisher::start(&registry, options(dir.path()));
    assert!(matches!(second, Err(statkit::pipe::PipeError::Busy(_))));
}

#[test]
fn a_forked_child_publishes_under_its_own_pid() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry();
    registry.counter("forked", &[]).unwrap().add(2);
    let publisher = Publisher::start(&registry, options(dir.path())).unwrap();
    // SAFETY: the child only reads a FIFO and leaves with `_exit`.
    let child = unsafe { libc::fork() };
    assert!(child >= 0);
    if child == 0 {
        let mine = dir.path().join(format!("{}.stats", std::process::id()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !mine.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let ok = read_fifo(&mine) == "forked: 2\n";
        let _ = std::fs::remove_file(&mine);
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    let waited = wait_bounded(child, &mut status);
    assert!(waited, "the child ended within 20 s");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    // The parent's pipe is untouched.
    assert_eq!(read_fifo(&publisher.path()), "forked: 2\n");
}

fn wait_bounded(child: libc::pid_t, status: &mut i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if unsafe { libc::waitpid(child, status, libc::WNOHANG) } == child {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child, libc::SIGKILL) };
    false
}

const EXIT_HELPER: &str = "STATKIT_TEST_PIPE_EXIT_DIR";

/// Run as a child by the next test: starts the default publisher, shows
/// its FIFO, and exits normally.
#[test]
fn exit_helper() {
    let Some(dir) = std::env::var_os(EXIT_HELPER) else {
        return;
    };
    std::env::set_var("STATKIT_PIPE_DIR", &dir);
    std::env::set_var("STATKIT_DIR", &dir);
    statkit::pipe::start().unwrap();
    statkit::incr("done", 1);
    statkit::record("latency.{0}", 2.0);
    let text = read_fifo(&PathBuf::from(&dir).join(format!("{}.stats", std::process::id())));
    assert!(
        text.starts_with("done: 1\nlatency.median: 2.000000\n"),
        "{text}"
    );
    let path = PathBuf::from(dir).join(format!("{}.stats", std::process::id()));
    assert!(path.exists());
    println!("FIFO {}", path.display());
}

#[test]
fn the_fifo_is_removed_at_normal_exit() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pipe::exit_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EXIT_HELPER, dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| Some(l.split_once("FIFO ")?.1))
        .expect(&stdout);
    assert!(!Path::new(line).exists(), "{line} is left");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
