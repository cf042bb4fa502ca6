//! Opening a file of a shared folder without trusting it.
//!
//! The stats folder is world-writable (1777) and mmstats files live in
//! `/tmp`, so any local user may have put anything at a name a reader
//! opens: a symbolic link to a file they cannot read themselves, a FIFO on
//! which `open(2)` would block until a writer comes (forever), a device, a
//! sparse file of a terabyte. Every such file is therefore opened with
//! `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC` and checked with `fstat(2)` on the
//! descriptor (not the path, which may have been swapped since): a regular
//! file, no longer than the caller's limit, or it is refused.
//! `O_NONBLOCK` makes the open of a FIFO return at once; on a regular file
//! it changes nothing.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read, before any of its bytes were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The name is a symbolic link: readers of shared folders follow none,
    /// or a user could make a root reader open any file.
    #[error("a symbolic link (not followed)")]
    Symlink,
    /// A FIFO, socket, device or folder where a regular file belongs.
    #[error("not a regular file but a {0}")]
    NotAFile(&'static str),
    /// The file, or what its header says is in use, is larger than the
    /// reader's [`Limits`](crate::Limits) allow.
    #[error("{what} is {size} {unit}, more than the {limit} allowed (Limits::{option})")]
    OverLimit {
        /// What was measured.
        what: &'static str,
        /// Its size.
        size: u64,
        /// What `size` counts: bytes, blocks.
        unit: &'static str,
        /// The limit.
        limit: u64,
        /// The [`Limits`](crate::Limits) field that sets it.
        option: &'static str,
    },
}

/// Why [`open_regular`] failed: the system's error, or a refusal.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(io::Error),
    Refused(Refused),
}

/// Opens `path` for reading as a regular file no longer than `max_len`
/// bytes; returns it with its length.
pub(crate) fn open_regular(path: &Path, max_len: u64) -> Result<(File, u64), OpenError> {
    let file = File::options()
        .read(true)
        // std adds O_CLOEXEC to every open.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // O_NOFOLLOW on a link.
            Some(libc::ELOOP) => OpenError::Refused(Refused::Symlink),
            _ => OpenError::Io(e),
        })?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let name = if kind.is_fifo() {
            "FIFO"
        } else if kind.is_dir() {
            "folder"
        } else if kind.is_socket() {
            "socket"
        } else if kind.is_block_device() || kind.is_char_device() {
            "device"
        } else {
            "special file"
        };
        return Err(OpenError::Refused(Refused::NotAFile(name)));
    }
    if meta.len() > max_len {
        return Err(OpenError::Refused(Refused::OverLimit {
            what: "the file",
            size: meta.len(),
            unit: "bytes",
            limit: max_len,
            option: "max_file_len",
        }));
    }
    Ok((file, meta.len()))
}
