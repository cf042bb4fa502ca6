//! Files a hostile local user can put in a shared folder: each is refused
//! or read, never followed, never waited on, never allowed to kill the
//! reader or to cost more than the reader's limits.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use statkit::shm::{Options, Registry};
use statkit_format::FormatError;
use statkit_scan::{read_file, read_file_with, Limits, ReadError, Refused};

fn publish(dir: &Path, capacity: u32) -> Registry {
    Registry::publish(Options {
        dir: dir.to_owned(),
        program: "victim".into(),
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

/// The crash: the owner truncates and regrows its file while a
/// reader reads it in a loop. Mapped, the reader died of SIGBUS in most
/// runs; copied, it reads or reports the file, and this test finishes.
#[test]
fn a_file_truncated_while_it_is_read_never_kills_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let registry = publish(dir.path(), 64);
    for m in 0..50 {
        registry.counter(&format!("c{m}"), &[]).unwrap().add(m);
        registry
            .histogram(&format!("h{m}"), &[])
            .unwrap()
            .record(0.5);
    }
    let bytes = std::fs::read(registry.path().unwrap()).unwrap();
    let path = dir.path().join("hostile-1.statkit");
    std::fs::write(&path, &bytes).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let owner = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || {
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            let mut n = 0u64;
            // Cut short for a moment, then whole again: long enough for a
            // reader to be caught mid-copy (a mapping then raised SIGBUS
            // in about a third of `slurp` runs).
            while !stop.load(Relaxed) {
                file.set_len(n % 3 * 4096).unwrap();
                std::thread::sleep(Duration::from_millis(2));
                file.write_all_at(&bytes, 0).unwrap();
                std::thread::sleep(Duration::from_millis(1));
                n += 1;
            }
        })
    };
    let (mut read, mut refused) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match read_file(&path) {
            Ok(_) => read += 1,
            Err(ReadError::Io { .. } | ReadError::Format { .. }) => refused += 1,
            Err(other) => panic!("{other}"),
        }
    }
    stop.store(true, Relaxed);
    owner.join().unwrap();
    assert!(read + refused > 100, "{read} read, {refused} refused");
}

/// A chained registry's main file and its first continuation.
fn chain(dir: &Path) -> (Registry, std::path::PathBuf, std::path::PathBuf) {
    let registry = publish(dir, 1);
    registry.counter("a", &[]).unwrap().inc();
    registry.counter("b", &[]).unwrap().inc();
    let main = registry.path().unwrap().to_owned();
    let next = statkit_format::naming::continuation(&main, 1);
    assert!(next.exists());
    assert_eq!(read_file(&main).unwrap().stats.len(), 2);
    (registry, main, next)
}

#[test]
fn a_continuation_that_is_a_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_registry, main, next) = chain(dir.path());
    std::fs::remove_file(&next).unwrap();
    mkfifo(&next);
    let started = Instant::now();
    match read_file(&main) {
        Err(ReadError::Format {
            source: FormatError::BrokenChain { segment: 1, reason },
            ..
        }) => assert!(reason.contains("FIFO"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn symbolic_links_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (_registry, main, next) = chain(dir.path());
    // The continuation as a link to a copy of itself.
    let copy = dir.path().join("elsewhere");
    std::fs::rename(&next, &copy).unwrap();
    std::os::unix::fs::symlink(&copy, &next).unwrap();
    match read_file(&main) {
        Err(ReadError::Format {
            source: FormatError::BrokenChain { segment: 1, reason },
            ..
        }) => assert!(reason.contains("symbolic link"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // A stats file that is a link, to a file the reader could read.
    let link = dir.path().join("link-1.statkit");
    std::os::unix::fs::symlink(&main, &link).unwrap();
    assert!(matches!(
        read_file(&link),
        Err(ReadError::Refused {
            source: Refused::Symlink,
            ..
        })
    ));
    // And a folder scan does not list it.
    let found = statkit_scan::discover(&[dir.path().to_owned()]).unwrap();
    assert_eq!(found, vec![main]);
}

#[test]
fn a_fifo_or_a_folder_named_like_a_stats_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo-1.statkit");
    mkfifo(&fifo);
    let folder = dir.path().join("folder-1.statkit");
    std::fs::create_dir(&folder).unwrap();
    for (path, kind) in [(fifo, "FIFO"), (folder, "folder")] {
        match read_file(&path) {
            Err(ReadError::Refused {
                source: Refused::NotAFile(found),
                ..
            }) => assert_eq!(found, kind),
            other => panic!("{other:?}"),
        }
    }
}

/// The 1 GB sparse mmstats file took 1.05 GB of memory to read.
#[test]
fn files_over_the_limits_are_refused_without_being_read() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = dir.path().join("big.mmstats");
    std::fs::write(&sparse, [1u8]).unwrap();
    OpenOptions::new()
        .write(true)
        .open(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let error = read_file(&sparse).unwrap_err();
    assert!(error.is_over_limit(), "{error}");
    assert!(error.to_string().contains("max_mmstats_bytes"), "{error}");
    // Refused on its length alone, before any of it is read: a folder of
    // such files costs an `fstat` each (1,000 took 5.9 s of reading zeros
    // before, 0.03 s now).
    assert!(
        error.to_string().contains("the file is 1073741824 bytes"),
        "{error}"
    );

    let registry = publish(dir.path(), 64);
    for m in 0..20 {
        registry
            .histogram(&format!("h{m}"), &[])
            .unwrap()
            .record(1.0);
    }
    let path = registry.path().unwrap();
    let tight = Limits {
        max_used_bytes: 64 * 1024,
        ..Limits::default()
    };
    let error = read_file_with(path, &tight).unwrap_err();
    assert!(error.is_over_limit(), "{error}");
    let short = Limits {
        max_file_len: 4096,
        ..Limits::default()
    };
    assert!(read_file_with(path, &short).unwrap_err().is_over_limit());
    // The registry has block 0 and this thread's block.
    let few = Limits {
        max_blocks: 1,
        ..Limits::default()
    };
    let error = read_file_with(path, &few).unwrap_err();
    assert!(error.to_string().contains("2 blocks"), "{error}");
    assert!(read_file(path).is_ok());
}

/// A chain's continuations count against the same budget as its main
/// file, so 63 continuations cannot multiply what one file may cost.
#[test]
fn a_chain_shares_one_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (_registry, main, _) = chain(dir.path());
    let one = statkit_scan::snapshot(&main, &Limits::default())
        .unwrap()
        .len() as u64;
    let budget = Limits {
        max_used_bytes: one + 8,
        ..Limits::default()
    };
    let error = read_file_with(&main, &budget).unwrap_err();
    assert!(error.is_over_limit(), "{error}");
    assert_eq!(error.path(), main);
}
