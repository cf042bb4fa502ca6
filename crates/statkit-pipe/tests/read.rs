//! `read::scan` against real FIFOs, written by threads of this process the
//! way statvent writes them: create the FIFO, open it for writing (which
//! waits for a reader), write the snapshot, close, remove.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use statkit_pipe::read::{scan, Discarded, Options};
use statkit_pipe::{Reason, Value};

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {path:?}"
    );
}

/// A writer serving one reader with `text`, then removing its FIFO. The
/// open gives up (and the thread ends) if no reader comes within 5 s.
fn writer(path: PathBuf, text: &'static [u8]) -> JoinHandle<()> {
    mkfifo(&path);
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut file = loop {
            // Non-blocking open for writing fails with ENXIO until a reader
            // comes; retrying keeps the test bounded where a blocking open
            // would wait forever.
            match std::fs::File::options()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
            {
                Ok(f) => break f,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("no reader came to {path:?}: {e}"),
            }
        };
        file.write_all(text).unwrap();
        drop(file);
        let _ = std::fs::remove_file(&path);
    })
}

fn options(dir: &Path) -> Options {
    Options {
        dir: dir.to_owned(),
        // Generous for a loaded test machine: a writer thread that is slow
        // to be scheduled must not look stale.
        stale_after: Duration::from_secs(1),
        read_timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn me() -> u32 {
    std::process::id()
}

/// A pid that no process has: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn reads_a_snapshot_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let w = writer(
        dir.path().join(format!("{}.stats", me())),
        b"requests: 5\nload: 0.500000\nname: with colon: 7\nbroken line\n",
    );
    std::fs::write(dir.path().join("notes.txt"), "not a pipe").unwrap();
    let found = scan(&options(dir.path())).unwrap();
    w.join().unwrap();
    assert_eq!(found.processes.len(), 1, "{found:?}");
    let p = &found.processes[0];
    assert_eq!(p.pid, me());
    assert_eq!(
        p.stats,
        [
            ("requests".to_owned(), Value::Int(5)),
            ("load".to_owned(), Value::Float(0.5)),
            ("name: with colon".to_owned(), Value::Int(7)),
        ]
    );
    assert_eq!(p.malformed.len(), 1);
    assert_eq!(
        (p.malformed[0].line, p.malformed[0].reason),
        (4, Reason::NoColon)
    );
    assert_eq!(found.ignored, 1);
    assert!(found.stale.is_empty() && found.discarded.is_empty());
}

#[test]
fn a_fifo_with_no_writer_is_stale_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("4000000.stats");
    mkfifo(&stale);
    let found = scan(&options(dir.path())).unwrap();
    assert_eq!(found.stale, std::slice::from_ref(&stale));
    assert!(!stale.exists());
    assert!(found.processes.is_empty());
}

#[test]
fn partial_snapshots_are_discarded() {
    let dir = tempfile::tempdir().unwrap();
    // Ends mid-line: the writer stopped before the snapshot's end.
    let cut = dir.path().join(format!("{}.stats", me()));
    let w1 = writer(cut.clone(), b"a: 1\nb: 2");
    // Whole lines, but its process is gone: it died after writing them.
    let dead = dir.path().join(format!("{}.stats", dead_pid()));
    let w2 = writer(dead.clone(), b"a: 1\n");
    let mut found = scan(&options(dir.path())).unwrap();
    w1.join().unwrap();
    w2.join().unwrap();
    found.discarded.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![(cut, Discarded::Partial), (dead, Discarded::Partial)];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.discarded, expected);
    assert!(found.processes.is_empty());
}

#[test]
fn bounds_pipes_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join(format!("{}.stats", me()));
    let w = writer(big.clone(), b"a_long_name: 123456789\n");
    let found = scan(&Options {
        max_bytes: 10,
        ..options(dir.path())
    })
    .unwrap();
    // The writer may see the reader go away mid-write; either way it ends.
    let _ = w.join();
    assert_eq!(found.discarded, [(big, Discarded::TooLarge(10))]);

    let dir = tempfile::tempdir().unwrap();
    for pid in [4000001, 4000002, 4000003] {
        mkfifo(&dir.path().join(format!("{pid}.stats")));
    }
    let found = scan(&Options {
        max_pipes: 2,
        ..options(dir.path())
    })
    .unwrap();
    assert_eq!((found.stale.len(), found.skipped), (2, 1));
}

#[test]
fn a_missing_folder_has_no_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let found = scan(&options(&dir.path().join("absent"))).unwrap();
    assert_eq!(found, Default::default());
}
