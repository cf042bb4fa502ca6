//! What another user can put in the pipe folder instead of a FIFO: a link
//! (to a FIFO or to a file), a regular file, a folder. None of it is
//! followed, read or waited on; none of it is removed as a stale pipe.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

use statkit_pipe::read::{read_fifos, scan, Discarded, Options, Scan};

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn links_files_and_folders_named_like_pipes_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let fifo = outside.path().join("fifo");
    mkfifo(&fifo);
    let precious = outside.path().join("precious");
    std::fs::write(&precious, "precious: 1\n").unwrap();
    let me = std::process::id();
    std::os::unix::fs::symlink(&fifo, dir.path().join(format!("{me}.stats"))).unwrap();
    std::os::unix::fs::symlink(&precious, dir.path().join("1.stats")).unwrap();
    std::fs::write(dir.path().join("2.stats"), "plain: 1\n").unwrap();
    std::fs::create_dir(dir.path().join("3.stats")).unwrap();

    let options = Options {
        dir: dir.path().to_owned(),
        ..Options::default()
    };
    let started = Instant::now();
    let found = scan(&options).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        found.processes.is_empty() && found.stale.is_empty(),
        "{found:?}"
    );
    assert_eq!(found.ignored, 4);
    // Named directly (as `slurp` names FIFOs given on its command line).
    let mut named = Scan::default();
    let paths = ["{me}.stats", "1.stats", "2.stats", "3.stats"].map(|n| {
        let name = n.replace("{me}", &me.to_string());
        (me, dir.path().join(name))
    });
    read_fifos(paths.to_vec(), &options, &mut named);
    assert!(named.processes.is_empty(), "{named:?}");
    assert_eq!(named.discarded.len(), 4, "{named:?}");
    assert!(named
        .discarded
        .iter()
        .all(|(_, why)| matches!(why, Discarded::Io(_))));
    assert!(fifo.exists() && precious.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
}
