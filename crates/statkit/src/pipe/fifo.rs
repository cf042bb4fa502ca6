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

/// Opens `path` for writing, waiting for a reader to open it.
pub fn wait_for_reader(path: &Path) -> io::Result<File> {
    let c = c_path(path)?;
    loop {
        // SAFETY: a valid path; the descriptor is owned by the `File`.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            return Ok(unsafe { File::from_raw_fd(fd) });
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
