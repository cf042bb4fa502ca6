//! Files the server keeps in its state folder (the history, the
//! checkpoint): read without following a link or waiting on a FIFO,
//! written whole or not at all, 0600, and moved aside when they cannot be
//! read, so a damaged file costs what it held, never the start.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::support::unix_now;

/// A kept file's bytes: never through a symbolic link, never waiting on a
/// FIFO, a regular file only.
pub(crate) fn read_own(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_own(std::fs::OpenOptions::new().read(true), path)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}

/// Opens `path` as `options` say, never through a symbolic link and never
/// waiting on a FIFO, and only if it is a regular file.
fn open_own(options: &mut std::fs::OpenOptions, path: &Path) -> io::Result<File> {
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Whether an [`overwrite`] must reach the disk before it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteOut {
    /// Synced: a power cut leaves the new bytes.
    Synced,
    /// Left to the kernel: a `kill -9` leaves the new bytes, a power cut
    /// may leave the old ones or a torn mix.
    Lazy,
}

/// Writes `bytes` to `path` atomically: to a temporary file beside it,
/// synced, renamed over `path`, the folder synced; a crash at any moment,
/// `kill -9` or a power cut, leaves the old file or the new one.
pub(crate) fn save(bytes: &[u8], path: &Path) -> io::Result<()> {
    let temporary = sibling(path, "tmp");
    // Only the server's user reads what it kept; a link planted at the
    // temporary name (a `state.file` in a shared folder) is not written
    // through.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true).mode(0o600);
    let mut file = open_own(&mut options, &temporary)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        // A full disk: leave no half-written temporary behind.
        let _ = std::fs::remove_file(&temporary);
        return Err(e);
    }
    std::fs::rename(&temporary, path)?;
    sync_folder(path)
}

/// Overwrites `path` in place with `bytes` (creating it 0600, never
/// through a link, a regular file only), synced with
/// [`WriteOut::Synced`]. Not atomic: for files whose readers tell a torn
/// write by a checksum and keep a second copy (the checkpoints). Creating
/// the file syncs its folder, so that a later synced write is not lost
/// with the file's name.
pub(crate) fn overwrite(bytes: &[u8], path: &Path, write_out: WriteOut) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let existed = std::fs::symlink_metadata(path).is_ok();
    let file = open_own(
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600),
        path,
    )?;
    file.write_all_at(bytes, 0)?;
    file.set_len(bytes.len() as u64)?;
    if write_out == WriteOut::Synced {
        file.sync_data()?;
    }
    if !existed {
        sync_folder(path)?;
    }
    Ok(())
}

/// Syncs the folder `path` is in, so its entries survive a power cut.
fn sync_folder(path: &Path) -> io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(folder)?.sync_all()
}

/// Renames a kept file (`what`, for the log) that could not be read out
/// of the way, to `<name>.bad-<unix time>`.
pub(crate) fn set_aside(path: &Path, what: &str, why: &str) {
    let aside = sibling(path, &format!("bad-{}", unix_now()));
    match std::fs::rename(path, &aside) {
        Ok(()) => tracing::warn!(
            path = %path.display(),
            reason = why,
            moved_to = %aside.display(),
            "{what} not loaded; moved it aside and starting without it"
        ),
        Err(e) => tracing::warn!(
            path = %path.display(),
            reason = why,
            error = %e,
            "{what} not loaded, and moving it aside failed; starting without it"
        ),
    }
}

/// `path` with `.suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}
