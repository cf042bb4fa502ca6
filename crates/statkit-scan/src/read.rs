//! One file, read and decoded, with its path on every error; a chained
//! file with its continuation files.

use std::io;
use std::path::{Path, PathBuf};

use statkit_format::layout::Header;
use statkit_format::naming::continuation;
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
/// done. A statkit file that names continuation files (`<path>.1`, ...)
/// comes back with their metrics appended; a missing, truncated or foreign
/// continuation fails the whole file, since its totals would be short.
pub fn read_file(path: &Path) -> Result<StatFile, ReadError> {
    let (mut file, header) = read_one(path)?;
    let Some(main) = header else {
        return Ok(file);
    };
    let broken = |segment, reason: String| ReadError::Format {
        path: path.to_owned(),
        source: FormatError::BrokenChain { segment, reason },
    };
    for n in 1..=main.segments {
        let next = continuation(path, n);
        let (part, header) = read_one(&next).map_err(|e| broken(n, e.to_string()))?;
        let same = header.is_some_and(|h| {
            h.segment == n
                && h.pid == main.pid
                && h.start_time == main.start_time
                && h.created_ns == main.created_ns
        });
        if !same {
            return Err(broken(
                n,
                format!("{} belongs to another file", next.display()),
            ));
        }
        file.stats.extend(part.stats);
    }
    Ok(file)
}

/// One file decoded, with its statkit header (`None` for mmstats).
fn read_one(path: &Path) -> Result<(StatFile, Option<Header>), ReadError> {
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
            Ok(file) => {
                let header = Header::decode(&bytes).ok().map(|(header, _)| header);
                return Ok((file, header));
            }
            Err(source) => {
                return Err(ReadError::Format {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
}
