//! The FIFO's system calls: make it, wait for a reader, write one snapshot.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Makes the FIFO at `path` (mode 0666 less the umask, as statvent's
/// `mkfifo`). A FIFO already there can only be a dead process's, since
/// this process holds the pid now: it is replaced. Anything else there is
/// an error (`AlreadyExists`).
pub fn make(path: &Path) -> io::Result<()> {
    match mkfifo(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if !std::fs::symlink_metadata(path)?.file_type().is_fifo() {
                return Err(e);
            }
            std::fs::remove_file(path)?;
            mkfifo(path)
        }
        result => result,
    }
}

fn mkfifo(path: &Path) -> io::Result<()> {
    let c = c_path(path)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o666) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens `path` for writing, waiting for a reader to open it. Not through
/// a link, and only a FIFO: the folder is shared (under `/tmp` by
/// default), and a link or a file put in place of the FIFO must not make
/// this process write its stats into some other file.
pub fn wait_for_reader(path: &Path) -> io::Result<File> {
    let c = c_path(path)?;
    loop {
        // SAFETY: a valid path; the descriptor is owned by the `File`.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            // SAFETY: just opened, owned by the `File` from here on.
            let file = unsafe { File::from_raw_fd(fd) };
            if !file.metadata()?.file_type().is_fifo() {
                return Err(io::Error::other(format!(
                    "{} is no longer a FIFO",
                    path.display()
                )));
            }
            return Ok(file);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Opens `path` for reading without waiting, and closes it: wakes a
/// publisher waiting in [`wait_for_reader`].
pub fn knock(path: &Path) {
    if let Ok(c) = c_path(path) {
        // SAFETY: a valid path; the descriptor is closed right away.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
    }
}

/// Writes `bytes` to the reader, giving up after `timeout` (a reader that
/// opens the pipe and never reads) or when the reader goes away.
pub fn send(pipe: &mut File, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    let fd = pipe.as_raw_fd();
    // SAFETY: plain fcntl calls on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let deadline = Instant::now() + timeout;
    let mut rest = bytes;
    while !rest.is_empty() {
        match pipe.write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                let mut poll = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut poll, 1, left.as_millis().min(1000) as i32 + 1) };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Blocks SIGPIPE in the calling thread, so a reader that leaves early
/// makes `write` fail with `EPIPE` rather than kill a program that kept
/// the default disposition (C and Python hosts do).
pub fn block_sigpipe() {
    // SAFETY: a signal set built with the libc calls, for this thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
}

#[cfg(test)]
mod tests {
    use super::wait_for_reader;

    /// The pipe folder is shared: a link or a plain file put where the
    /// FIFO was must not receive this process' stats.
    #[test]
    fn the_publisher_writes_into_nothing_but_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious");
        std::fs::write(&precious, "do not touch").unwrap();
        let link = dir.path().join("1.stats");
        std::os::unix::fs::symlink(&precious, &link).unwrap();
        let error = wait_for_reader(&link).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ELOOP), "{error}");
        let plain = dir.path().join("2.stats");
        std::fs::write(&plain, "").unwrap();
        let error = wait_for_reader(&plain).unwrap_err();
        assert!(error.to_string().contains("no longer a FIFO"), "{error}");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not touch");
        assert_eq!(std::fs::read(&plain).unwrap(), b"");
    }
}
