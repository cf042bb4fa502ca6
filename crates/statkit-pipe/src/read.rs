//! Reading the FIFOs of a pipe folder, each writer's one snapshot.
//!
//! A statvent writer blocks opening its FIFO `<pid>.stats` for writing
//! until a reader opens it, writes its snapshot, closes, and recreates the
//! FIFO for the next reader. [`scan`] opens every such FIFO of the folder
//! at once without blocking and waits for all of them together with
//! `poll(2)`:
//!
//! - **Stale.** A FIFO that no writer holds open when it is opened here
//!   (a first read finds end of file rather than "would block") and that
//!   no writer opens within [`Options::stale_after`] (statvent's web
//!   service waits 0.1 s) has no live writer: it is removed (unless a new
//!   FIFO has replaced it at that path meanwhile) and reported. A writer
//!   waiting in its open counts as there however slowly it then writes.
//! - **Whole snapshots only.** A snapshot counts when the writer closed its
//!   end (end of file after it connected), the text is empty or ends with a
//!   line break, and the process named by the file is still alive
//!   afterwards. A writer that dies mid-snapshot also closes its end, so
//!   the last two conditions are what tell its partial text apart: it is
//!   discarded, and its FIFO, with no writer left, is removed as stale by
//!   the next scan. (The pid is the one in the file name, so a folder
//!   shared across pid namespaces is not supported.)
//! - **Bounds.** At most [`Options::max_pipes`] FIFOs per scan (the rest
//!   are counted as skipped), at most [`Options::max_bytes`] per snapshot
//!   (a longer one is discarded), and at most [`Options::read_timeout`] for
//!   a writer to finish once connected.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::format::{parse, Malformed};
use crate::Value;

/// statvent's pipe folder.
pub const DEFAULT_DIR: &str = "/tmp/stats-pipe";

/// The environment variable that overrides [`DEFAULT_DIR`] for statkit's
/// publisher and readers.
pub const DIR_ENV: &str = "STATKIT_PIPE_DIR";

/// The pipe folder: `STATKIT_PIPE_DIR` when set and not empty, else
/// [`DEFAULT_DIR`].
pub fn default_dir() -> PathBuf {
    std::env::var_os(DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// Where and how [`scan`] reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub dir: PathBuf,
    pub max_pipes: usize,
    pub max_bytes: usize,
    pub stale_after: Duration,
    pub read_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_DIR),
            max_pipes: 1024,
            max_bytes: 1 << 20,
            stale_after: Duration::from_millis(100),
            read_timeout: Duration::from_secs(1),
        }
    }
}

/// One process's whole snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub path: PathBuf,
    pub stats: Vec<(String, Value)>,
    /// Lines of its snapshot that were skipped.
    pub malformed: Vec<Malformed>,
}

impl AsRef<[(String, Value)]> for Process {
    fn as_ref(&self) -> &[(String, Value)] {
        &self.stats
    }
}

/// Why a FIFO gave no snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Discarded {
    #[error("the writer ended before a whole snapshot (it died mid-write)")]
    Partial,
    #[error("the snapshot is longer than {0} bytes")]
    TooLarge(usize),
    #[error("the writer did not finish within the read timeout")]
    TimedOut,
    #[error("{0}")]
    Io(String),
}

/// What one scan of the folder found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scan {
    /// Whole snapshots, by pid.
    pub processes: Vec<Process>,
    /// FIFOs with no writer, removed.
    pub stale: Vec<PathBuf>,
    /// FIFOs that gave no snapshot, and why.
    pub discarded: Vec<(PathBuf, Discarded)>,
    /// `<pid>.stats` FIFOs left unread past [`Options::max_pipes`].
    pub skipped: usize,
    /// Other entries of the folder, not read.
    pub ignored: usize,
}

/// Why the folder could not be scanned at all.
#[derive(Debug, thiserror::Error)]
#[error("cannot list the pipe folder {dir}: {source}")]
pub struct ScanError {
    pub dir: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Reads one snapshot from every `<pid>.stats` FIFO of `options.dir`
/// (a missing folder has none). Blocks for at most
/// `options.read_timeout` (plus opening the FIFOs).
pub fn scan(options: &Options) -> Result<Scan, ScanError> {
    let mut scan = Scan::default();
    let fifos = match list(options, &mut scan) {
        Ok(fifos) => fifos,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(scan),
        Err(source) => {
            return Err(ScanError {
                dir: options.dir.clone(),
                source,
            })
        }
    };
    read_fifos(fifos, options, &mut scan);
    Ok(scan)
}

/// Reads one snapshot from each of `fifos` (pid and path) as [`scan`] reads
/// a folder's, adding what it found to `scan`.
pub fn read_fifos(fifos: Vec<(u32, PathBuf)>, options: &Options, scan: &mut Scan) {
    let mut pending = Vec::with_capacity(fifos.len());
    for (pid, path) in fifos {
        match Pending::open(pid, path) {
            Ok(p) => pending.push(p),
            Err((path, e)) => scan.discarded.push((path, Discarded::Io(e.to_string()))),
        }
    }
    wait(pending, options, scan);
    scan.processes.sort_by_key(|p| p.pid);
}

/// The `<pid>.stats` FIFOs of the folder, at most `max_pipes` of them.
fn list(options: &Options, scan: &mut Scan) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut fifos = Vec::new();
    for entry in std::fs::read_dir(&options.dir)? {
        let entry = entry?;
        let is_fifo = entry.file_type().is_ok_and(|t| t.is_fifo());
        match pid_of(&entry.file_name().to_string_lossy()) {
            Some(pid) if is_fifo && fifos.len() < options.max_pipes => {
                fifos.push((pid, entry.path()))
            }
            Some(_) if is_fifo => scan.skipped += 1,
            _ => scan.ignored += 1,
        }
    }
    Ok(fifos)
}

/// The pid of a `<pid>.stats` name (a positive `pid_t`).
pub fn pid_of(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".stats")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pid: u32 = digits.parse().ok()?;
    (pid > 0 && libc::pid_t::try_from(pid).is_ok()).then_some(pid)
}

/// A FIFO being read.
#[derive(Debug)]
struct Pending {
    pid: u32,
    path: PathBuf,
    file: File,
    text: Vec<u8>,
    /// Whether a writer has shown up: it held the FIFO open at our first
    /// read, or has written or hung up since.
    connected: bool,
}

impl Pending {
    fn open(pid: u32, path: PathBuf) -> Result<Pending, (PathBuf, io::Error)> {
        // Non-blocking: opening a FIFO for reading otherwise waits for a
        // writer, which a stale FIFO never gets. Not through a symbolic
        // link, and only a FIFO: the entry may have been replaced since it
        // was listed.
        let opened = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path)
            .and_then(|file| match file.metadata()?.file_type().is_fifo() {
                true => Ok(file),
                false => Err(io::Error::other("not a FIFO any more")),
            });
        match opened {
            Ok(file) => Ok(Pending {
                pid,
                path,
                file,
                text: Vec::new(),
                connected: false,
            }),
            Err(e) => Err((path, e)),
        }
    }

    /// Reads what is there.
    fn drain(&mut self, max_bytes: usize) -> Drained {
        let mut chunk = [0u8; 8192];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => return Drained::End,
                Ok(n) if self.text.len() + n > max_bytes => {
                    return Drained::Failed(Discarded::TooLarge(max_bytes))
                }
                Ok(n) => self.text.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Drained::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Drained::Failed(Discarded::Io(e.to_string())),
            }
        }
    }

    /// The snapshot read to its end: whole, or discarded.
    fn finish(self, scan: &mut Scan) {
        let whole = self.text.last().is_none_or(|&b| b == b'\n') && alive(self.pid);
        if !whole {
            scan.discarded.push((self.path, Discarded::Partial));
            return;
        }
        let parsed = parse(&self.text);
        scan.processes.push(Process {
            pid: self.pid,
            path: self.path,
            stats: parsed.stats,
            malformed: parsed.malformed,
        });
    }

    /// Removes a FIFO no writer came to, unless the path is now another
    /// file (a restarted writer's new FIFO).
    fn remove_stale(self, scan: &mut Scan) {
        let same = match (self.file.metadata(), std::fs::symlink_metadata(&self.path)) {
            (Ok(ours), Ok(now)) => ours.dev() == now.dev() && ours.ino() == now.ino(),
            _ => false,
        };
        if same {
            if let Err(e) = std::fs::remove_file(&self.path) {
                let reason = format!("stale, but cannot remove it: {e}");
                scan.discarded.push((self.path, Discarded::Io(reason)));
                return;
            }
        }
        scan.stale.push(self.path);
    }
}

/// What a read of a FIFO found.
#[derive(Debug)]
enum Drained {
    /// Nothing more for now, and a writer holds the FIFO open.
    Open,
    /// End of file: no writer holds it open (any more, or yet).
    End,
    Failed(Discarded),
}

/// Whether process `pid` exists (one we may not signal exists too).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; pid > 0, so it
    // names one process, never a group.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Polls every pending FIFO until each is read, stale or timed out.
fn wait(pending: Vec<Pending>, options: &Options, scan: &mut Scan) {
    let start = Instant::now();
    let stale_at = start + options.stale_after;
    let give_up = start + options.read_timeout.max(options.stale_after);
    // A first read tells the FIFOs with a writer (statvent's waits in its
    // open, and our open has just let it through) from those with none.
    let mut pending: Vec<Pending> = pending
        .into_iter()
        .filter_map(|p| step(p, options.max_bytes, true, scan))
        .collect();
    while !pending.is_empty() {
        let waiting_for_writers = pending.iter().any(|p| !p.connected);
        let until = if waiting_for_writers && stale_at < give_up {
            stale_at
        } else {
            give_up
        };
        let ready = poll(&pending, until.saturating_duration_since(Instant::now()));
        pending = pending
            .into_iter()
            .zip(ready)
            .filter_map(|(p, events)| match events {
                0 => Some(p),
                _ => step(p, options.max_bytes, false, scan),
            })
            .collect();
        let now = Instant::now();
        if now >= stale_at {
            let (connected, stale): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|p| p.connected);
            stale.into_iter().for_each(|p| p.remove_stale(scan));
            pending = connected;
        }
        if now >= give_up {
            for p in pending.drain(..) {
                scan.discarded.push((p.path, Discarded::TimedOut));
            }
        }
    }
}

/// Reads what a FIFO has; the FIFO back if it is not done with. On the
/// `first` read, an end of file with nothing read means no writer yet.
fn step(mut p: Pending, max_bytes: usize, first: bool, scan: &mut Scan) -> Option<Pending> {
    match p.drain(max_bytes) {
        Drained::Open => {
            p.connected = true;
            Some(p)
        }
        Drained::End if first && p.text.is_empty() => Some(p),
        Drained::End => {
            p.finish(scan);
            None
        }
        Drained::Failed(why) => {
            scan.discarded.push((p.path, why));
            None
        }
    }
}

/// `poll(2)` on every pending FIFO for reading; the events of each.
fn poll(pending: &[Pending], timeout: Duration) -> Vec<libc::c_short> {
    let mut fds: Vec<libc::pollfd> = pending
        .iter()
        .map(|p| libc::pollfd {
            fd: p.file.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Round up, so a wait of a fraction of a millisecond is not a busy loop.
    let millis = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the
    // duration of the call, and every fd is open (owned by `pending`).
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if r < 0 {
        // EINTR (or EAGAIN): nothing is ready; the caller's deadlines still hold.
        return vec![0; fds.len()];
    }
    fds.iter().map(|f| f.revents).collect()
}

#[cfg(test)]
mod tests {
    use super::pid_of;

    #[test]
    fn only_pid_dot_stats_names_are_pipes() {
        assert_eq!(pid_of("4242.stats"), Some(4242));
        for other in [
            "0.stats",
            ".stats",
            "-1.stats",
            "+4.stats",
            "x.stats",
            "4242.stats.tmp",
            "4242",
            "99999999999.stats",
        ] {
            assert_eq!(pid_of(other), None, "{other}");
        }
    }
}
