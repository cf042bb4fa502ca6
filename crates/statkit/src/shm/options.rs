//! Where a process' stats file goes and what its header says about it.

use std::path::{Path, PathBuf};

pub use statkit_format::naming::{DEFAULT_DIR, DIR_ENV};

/// The stats folder: `STATKIT_DIR` when set and not empty, else
/// [`DEFAULT_DIR`]. Readers use the same rule.
pub fn default_dir() -> PathBuf {
    statkit_format::naming::dir_from(std::env::var_os(DIR_ENV))
}

/// How a [`Registry`](super::Registry) lays out and names its file.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder (default: [`default_dir`]).
    pub dir: PathBuf,
    /// The program name in the header and file name (default: the
    /// executable's file name).
    pub program: String,
    /// Metrics the file has room for (default 4096). Entries are 128 bytes
    /// and the file is sparse: pages never written take no memory.
    pub capacity: u32,
    /// Bytes of cells per thread, rounded down to a multiple of 4096
    /// (default 1 MiB, sparse like the entries): a counter takes 8 bytes, a
    /// histogram 4160.
    pub block_size: u32,
    /// Files the stats may take (default 16, at most 64): when the main
    /// file's entries or cells run out, a continuation file
    /// `<file>.<n>` with the same room is added while writers keep
    /// writing. Each thread reserves `max_segments * block_size` bytes of
    /// address space (not memory) for its cells.
    pub max_segments: u32,
    /// Threads that get cells of their own (default 1024). Threads beyond
    /// it, or started while the file cannot grow, share one block outside
    /// the file and are counted in
    /// [`RegistryStats::overflow_threads`](super::RegistryStats).
    pub max_threads: u32,
    /// Bytes of room for `describe_*` help texts and units (default 64
    /// KiB, sparse; at most `statkit_format::describe::SECTION_MAX`): a
    /// description takes 8 bytes plus its name, unit and text, rounded up
    /// to 8. Past it, a description is refused.
    pub descriptions: u32,
    /// Last values each histogram keeps for the pipe publisher's
    /// statvent statistics (default 100, statvent's; 0 keeps none, and the
    /// publisher then takes them from the histogram's buckets).
    pub recent: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dir: default_dir(),
            program: program_name(),
            capacity: 4096,
            block_size: 1 << 20,
            max_segments: 16,
            max_threads: 1024,
            descriptions: 64 * 1024,
            recent: 100,
        }
    }
}

impl Options {
    /// The file's path for process `pid`: `<dir>/<program>-<pid>.statkit`.
    pub fn path(&self, pid: u32) -> PathBuf {
        self.dir
            .join(statkit_format::naming::process_file(&self.program, pid))
    }
}

/// The executable's file name, or "statkit" when there is none.
fn program_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            Path::new(&arg0)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "statkit".into())
}

/// This process' start time in clock ticks after boot: field 22 of
/// `/proc/self/stat`. With the pid, it tells a live writer from a process
/// that got its pid later. 0 where `/proc` is missing.
pub fn process_start_time() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| statkit_format::naming::parse_start_time(&stat))
        .unwrap_or(0)
}
