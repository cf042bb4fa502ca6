//! The state folder: created 0700 by the server, refused when it is not a
//! folder of the server's own user, and locked for as long as the server
//! runs, so two servers never write the same history (or, later, the same
//! checkpoints and queues).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The lock file's name in the folder; it holds the pid of the server
/// that has it.
pub const LOCK: &str = "lock";

/// Why the state folder cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateDirError {
    #[error("cannot create the state folder {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the state folder {path} is not a folder (a symbolic link or a file is in the way)")]
    NotAFolder { path: PathBuf },
    #[error("the state folder {path} belongs to user {owner}, not to this server's user {ours}: choose another with --state-dir, or --state-dir off")]
    NotOurs {
        path: PathBuf,
        owner: u32,
        ours: u32,
    },
    #[error("the state folder {path} is in use by another statkit serve{}: stop it, or give this one another --state-dir", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse { path: PathBuf, pid: Option<u32> },
    #[error("cannot lock the state folder {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The state folder, locked until dropped.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    /// Holds the lock (`flock` ends with the file's last descriptor).
    _lock: File,
}

impl StateDir {
    /// Creates `path` (0700) if needed, checks that it is a folder of this
    /// user's, tightens its mode to 0700, and locks it.
    pub fn open(path: &Path) -> Result<StateDir, StateDirError> {
        let create = |source| StateDirError::Create {
            path: path.to_owned(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(create)?;
        let meta = std::fs::symlink_metadata(path).map_err(create)?;
        if !meta.is_dir() {
            return Err(StateDirError::NotAFolder {
                path: path.to_owned(),
            });
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        let ours = unsafe { libc::geteuid() };
        if meta.uid() != ours {
            return Err(StateDirError::NotOurs {
                path: path.to_owned(),
                owner: meta.uid(),
                ours,
            });
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(create)?;
        }
        let lock = lock(path)?;
        Ok(StateDir {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes the folder's lock and writes this process's pid into it.
fn lock(dir: &Path) -> Result<File, StateDirError> {
    let path = dir.join(LOCK);
    let failed = |source| StateDirError::Lock {
        path: dir.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(failed)?;
    // SAFETY: the descriptor is open for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::WouldBlock {
            return Err(failed(error));
        }
        let mut text = String::new();
        let pid = file
            .read_to_string(&mut text)
            .ok()
            .and_then(|_| text.trim().parse().ok());
        return Err(StateDirError::InUse {
            path: dir.to_owned(),
            pid,
        });
    }
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    writeln!(file, "{}", std::process::id()).map_err(failed)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_is_created_private_and_locked_once() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("a/state");
        let first = StateDir::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let lock = std::fs::metadata(path.join(LOCK)).unwrap().mode() & 0o777;
        assert_eq!(lock, 0o600);
        match StateDir::open(&path) {
            Err(StateDirError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        StateDir::open(&path).expect("free again once the first is gone");
    }

    #[test]
    fn a_loose_mode_is_tightened_and_a_symlink_refused() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("loose");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        drop(StateDir::open(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o700);
        let link = parent.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(matches!(
            StateDir::open(&link),
            Err(StateDirError::NotAFolder { .. })
        ));
    }

    #[test]
    fn another_users_folder_is_refused() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return; // only root can give a folder away
        }
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("theirs");
        std::fs::create_dir(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        assert!(matches!(
            StateDir::open(&path),
            Err(StateDirError::NotOurs { owner: 65534, .. })
        ));
    }
}
