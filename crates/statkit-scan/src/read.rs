//! One file, read and decoded, with its path on every error.

use std::io;
use std::path::{Path, PathBuf};

use statkit_format::{decode, FormatError, StatFile};

/// Times a torn read is retried before it is reported.
const TORN_RETRIES: usize = 5;

/// Why a file was skipped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Its contents are not a stats file this reader accepts.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: FormatError,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. } | ReadError::Format { path, .. } => path,
        }
    }
}

/// Reads and decodes `path`, reading again when a write was caught half
/// done.
pub fn read_file(path: &Path) -> Result<StatFile, ReadError> {
    let mut attempt = 0;
    loop {
        let bytes = super::snapshot(path).map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
        match decode(&bytes) {
            Err(FormatError::Torn { .. }) if attempt < TORN_RETRIES => {
                attempt += 1;
                std::thread::yield_now();
            }
            other => {
                return other.map_err(|source| ReadError::Format {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
}
