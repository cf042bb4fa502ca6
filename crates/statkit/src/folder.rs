//! Folders shared with other users, which the library creates or checks.

use std::ffi::CString;
use std::fs::{DirBuilder, File};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

/// Opens a shared folder (the stats folder, the pipe folder), creating it
/// (and its parents) if missing:
/// world-writable with the sticky bit like `/tmp`, so every user's
/// processes can publish into it and none can remove or replace another's
/// file. A folder that exists already is used only if it is a folder (not
/// a link to one) that `naming::check_folder` accepts; otherwise the error
/// says why and what to do.
pub(crate) fn open_shared(dir: &Path) -> io::Result<OwnedFd> {
    let made = match DirBuilder::new().recursive(false).mode(0o700).create(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)?;
            }
            match DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let c = CString::new(dir.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a valid path; the descriptor is owned below.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENOTDIR) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} is not a folder (a link is not followed)", dir.display()),
            ),
            _ => e,
        });
    }
    // SAFETY: just opened, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if made {
        // Made 0700 first, so it is never open to others before it is
        // sticky; fchmod on the descriptor, not the path.
        // SAFETY: a descriptor we own.
        if unsafe { libc::fchmod(fd.as_raw_fd(), 0o1777) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    let meta = File::from(fd.try_clone()?).metadata()?;
    // SAFETY: geteuid cannot fail.
    let us = unsafe { libc::geteuid() };
    statkit_format::naming::check_folder(meta.uid(), meta.mode(), us).map_err(|why| {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refusing the folder {}: {why}", dir.display()),
        )
    })?;
    Ok(fd)
}
