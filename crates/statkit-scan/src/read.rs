//! One file, read and decoded, with its path on every error; a chained
//! file with its continuation files; the limits that bound what reading a
//! file may cost.

use std::io;
use std::path::{Path, PathBuf};

use statkit_format::layout::Header;
use statkit_format::naming::continuation;
use statkit_format::{decode, FormatError, StatFile};

/// Times a torn read is retried before it is reported.
const TORN_RETRIES: usize = 5;

pub use crate::open::Refused;

/// What reading one file may cost at most. Every file of a shared folder
/// is someone else's input: these bound the memory and the work one file
/// (with its continuations) takes, whatever it claims. A file past a limit
/// is skipped with [`ReadError::Refused`] (see [`ReadError::is_over_limit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest file accepted, as `fstat` gives it (default 16 GiB).
    /// statkit files are sparse and copied only where used, so their
    /// length costs nothing; the library's defaults make a file of 1,024
    /// threads 1 GiB long.
    pub max_file_len: u64,
    /// Most bytes copied from one statkit file and its continuations
    /// together: header, entries in use and each block's cells in use
    /// (default 64 MiB, which holds 1,024 threads' blocks of 8,000
    /// counters). Decoding costs at most a few steps per byte copied, so
    /// this bounds the work too.
    pub max_used_bytes: u64,
    /// Most blocks in one statkit file and its continuations together
    /// (default 65,536: 1,024 threads in each of 64 files). Each block in
    /// use is one `pread` (three with multi-word cells), so a file of
    /// millions of tiny blocks would cost millions of system calls within
    /// the byte limit.
    pub max_blocks: u64,
    /// Longest file without statkit's header (mmstats files, read whole;
    /// default 16 MiB: mmstats writes a page or a few).
    pub max_mmstats_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_len: 16 << 30,
            max_used_bytes: 64 << 20,
            max_blocks: 1 << 16,
            max_mmstats_bytes: 16 << 20,
        }
    }
}

/// Why a file was skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
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
    /// It was not read: a link, not a regular file, or over a [`Limits`].
    #[error("{path}: {source}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Refused,
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
            ReadError::Io { path, .. }
            | ReadError::Refused { path, .. }
            | ReadError::Format { path, .. } => path,
        }
    }

    /// Whether the file was skipped for being larger than a [`Limits`]
    /// allows (callers count these apart: they are a misbehaving or hostile
    /// writer, not a passing state).
    pub fn is_over_limit(&self) -> bool {
        matches!(
            self,
            ReadError::Refused {
                source: Refused::OverLimit { .. },
                ..
            }
        )
    }
}

/// Reads and decodes `path`, reading again when a write was caught half
/// done. A statkit file that names continuation files (`<path>.1`, ...)
/// comes back with their metrics appended; a missing, truncated or foreign
/// continuation fails the whole file, since its totals would be short.
/// Within the default [`Limits`].
pub fn read_file(path: &Path) -> Result<StatFile, ReadError> {
    read_file_with(path, &Limits::default())
}

/// [`read_file`] within `limits`; [`Limits::max_used_bytes`] bounds the
/// main file and its continuations together.
pub fn read_file_with(path: &Path, limits: &Limits) -> Result<StatFile, ReadError> {
    let mut limits = *limits;
    let (mut file, header) = read_one(path, &mut limits)?;
    let Some(main) = header else {
        return Ok(file);
    };
    let broken = |segment, reason: String| ReadError::Format {
        path: path.to_owned(),
        source: FormatError::BrokenChain { segment, reason },
    };
    for n in 1..=main.segments {
        let next = continuation(path, n);
        let (part, header) = match read_one(&next, &mut limits) {
            Ok(read) => read,
            // The chain as a whole is over the limit: counted as such.
            Err(ReadError::Refused {
                source: source @ Refused::OverLimit { .. },
                ..
            }) => {
                return Err(ReadError::Refused {
                    path: path.to_owned(),
                    source,
                })
            }
            Err(e) => return Err(broken(n, e.to_string())),
        };
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

/// One file decoded, with its statkit header (`None` for mmstats); what
/// it copied is taken off `limits.max_used_bytes` and its blocks off
/// `limits.max_blocks`, for the next file of the chain.
fn read_one(path: &Path, limits: &mut Limits) -> Result<(StatFile, Option<Header>), ReadError> {
    let mut attempt = 0;
    loop {
        let bytes = super::snapshot(path, limits)?;
        match decode(&bytes) {
            Err(FormatError::Torn { .. }) if attempt < TORN_RETRIES => {
                attempt += 1;
                std::thread::yield_now();
            }
            Ok(file) => {
                let header = Header::decode(&bytes).ok().map(|(header, _)| header);
                if header.is_some() {
                    limits.max_used_bytes =
                        limits.max_used_bytes.saturating_sub(bytes.len() as u64);
                }
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
