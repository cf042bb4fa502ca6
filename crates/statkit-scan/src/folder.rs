//! Creating files in a folder other users can write, without being led
//! astray by what they put there.
//!
//! `statkit clean` often runs as root in the world-writable stats folder.
//! Writing its retired totals by path (`<program>.retired.tmp-<pid>`, then
//! a rename) would follow a symbolic link a user planted at that name and
//! overwrite the link's target; a folder swapped for a link between two
//! calls would send the files elsewhere. So the folder is opened once
//! (`O_DIRECTORY | O_NOFOLLOW`), checked on its descriptor
//! ([`check_folder`]: sticky, or ours or root's and closed to others), and
//! every file is then created, renamed and removed relative to that
//! descriptor (`openat`, `renameat`, `unlinkat`), with `O_EXCL |
//! O_NOFOLLOW` and mode 0600.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use statkit_format::naming::check_folder;

/// An opened, checked folder.
#[derive(Debug)]
pub(crate) struct Folder {
    fd: OwnedFd,
    path: PathBuf,
}

impl Folder {
    /// Opens `path` (not through a link) and checks that files made in it
    /// cannot be replaced by another user.
    pub fn open(path: &Path) -> io::Result<Folder> {
        let c = c_string(path.as_os_str().as_bytes())?;
        // SAFETY: a valid path; the descriptor is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "{} is not a folder (a link is not followed)",
                        path.display()
                    ),
                ),
                _ => e,
            });
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let meta = File::from(fd.try_clone()?).metadata()?;
        // SAFETY: geteuid cannot fail.
        let us = unsafe { libc::geteuid() };
        check_folder(meta.uid(), meta.mode(), us).map_err(|why| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("refusing to write in {}: {why}", path.display()),
            )
        })?;
        Ok(Folder {
            fd,
            path: path.to_owned(),
        })
    }

    /// Creates `name` anew, mode 0600, for writing. Something already at
    /// that name (a link planted at a predictable temporary name, say) is
    /// removed, not followed or truncated, and the creation tried once more.
    pub fn create_new(&self, name: &str) -> io::Result<File> {
        let c = c_string(name.as_bytes())?;
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let create = || {
            // SAFETY: a valid name relative to a folder descriptor we own.
            match unsafe { libc::openat(self.fd.as_raw_fd(), c.as_ptr(), flags, 0o600) } {
                // SAFETY: just opened, owned by the `File` from here on.
                fd if fd >= 0 => Ok(unsafe { File::from_raw_fd(fd) }),
                _ => Err(io::Error::last_os_error()),
            }
        };
        match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.remove(name)?;
                create()
            }
            other => other,
        }
    }

    /// Opens the lock file `name` (created 0600 if missing, never through
    /// a link, a regular file) and takes an exclusive `flock` on it,
    /// waiting at most `patience`: anyone may create and hold the lock file
    /// of a shared folder, and a lock held forever must not hang us.
    pub fn lock(&self, name: &str, patience: Duration) -> io::Result<File> {
        let c = c_string(name.as_bytes())?;
        // SAFETY: a valid name relative to a folder descriptor we own.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                libc::O_WRONLY
                    | libc::O_CREAT
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK
                    | libc::O_CLOEXEC,
                0o600,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: just opened, owned by the `File` from here on.
        let file = unsafe { File::from_raw_fd(fd) };
        if !file.metadata()?.is_file() {
            return Err(io::Error::other(format!(
                "{} is not a regular file",
                self.path.join(name).display()
            )));
        }
        let deadline = Instant::now() + patience;
        loop {
            // SAFETY: flock on a descriptor we own; released when it closes.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(file);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock {
                return Err(e);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{} stayed locked for {patience:?}: another clean runs, or someone holds it",
                        self.path.join(name).display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Renames `from` to `to`, both in this folder (replacing what is at
    /// `to`, link or not, without following it).
    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (c_string(from.as_bytes())?, c_string(to.as_bytes())?);
        let dir = self.fd.as_raw_fd();
        // SAFETY: valid names relative to a folder descriptor we own.
        match unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Removes `name` from this folder (a link itself, not its target).
    pub fn remove(&self, name: &str) -> io::Result<()> {
        let c = c_string(name.as_bytes())?;
        // SAFETY: a valid name relative to a folder descriptor we own.
        match unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::ErrorKind::InvalidInput.into())
}
