//! statvent's named pipe: a background thread keeps a FIFO at
//! `<dir>/<pid>.stats` and writes one snapshot of a [`Registry`] to every
//! reader that opens it, in statvent's line format, so statvent's readers
//! (and `statkit slurp`, `statkit serve`) read a statkit program.
//!
//! ```no_run
//! statkit::pipe::start()?;            // the default registry, default folder
//! statkit::incr("requests", 1);        // in the stats file and on the pipe
//! statkit::record("latency", 0.012);   // latency.median, .95th, ... on the pipe
//! # Ok::<(), statkit::pipe::PipeError>(())
//! ```
//!
//! The values are the registry's own: one set of handles feeds the stats
//! file and the pipe. Only the publisher thread waits for readers; the
//! metric calls never do. After a snapshot the FIFO is removed and made
//! again for the next reader, as statvent does. A FIFO left at the path by
//! a dead process that had the same pid is replaced. A child made by
//! `fork` starts a publisher of its own under its own pid (a
//! `pthread_atfork` hook), whose FIFO appears 0.1 s later (a child that
//! `exec`s another program by then makes none). The FIFO is removed when the [`Publisher`] is
//! dropped and at normal exit (an `atexit` hook); a process killed by a
//! signal leaves it for readers to find stale and remove.

mod fifo;
mod live;
mod stats;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::shm::Registry;

pub use stats::statvent_percentile;

/// statvent's pipe folder.
pub const DEFAULT_DIR: &str = statkit_pipe::read::DEFAULT_DIR;

/// The environment variable that overrides [`DEFAULT_DIR`].
pub const DIR_ENV: &str = statkit_pipe::read::DIR_ENV;

/// How long a forked child waits before making its FIFO (see
/// `Shared::launch_in_child`).
const CHILD_DELAY: Duration = Duration::from_millis(100);

/// How long a reader that opened the pipe may take to read a snapshot.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the publisher puts its FIFO.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder (default: `STATKIT_PIPE_DIR` when set and not empty, else
    /// [`DEFAULT_DIR`]). Created 1777 (sticky, like `/tmp`) if missing; an
    /// existing one must be a folder, not a link, and either sticky or ours
    /// (or root's) and closed to others, since whoever can replace the
    /// FIFO could otherwise make the publisher write elsewhere.
    pub dir: PathBuf,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dir: statkit_pipe::read::default_dir(),
        }
    }
}

/// Why a publisher could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipeError {
    #[error("cannot create the pipe folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot make the FIFO {path}: {source}")]
    Fifo {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("this process already publishes at {0}")]
    Busy(PathBuf),
    #[error("cannot start the publisher thread: {0}")]
    Thread(#[source] io::Error),
}

/// A running publisher; dropping it stops the thread and removes the FIFO.
#[derive(Debug)]
pub struct Publisher {
    shared: Arc<Shared>,
}

/// What the publisher thread and its owner share.
#[derive(Debug)]
struct Shared {
    registry: Registry,
    dir: PathBuf,
    stop: AtomicBool,
    /// The pid whose thread runs, `None` once it ended.
    running: Mutex<Option<u32>>,
    ended: Condvar,
}

impl Publisher {
    /// Publishes `registry` at `<options.dir>/<pid>.stats`. The folder and
    /// the FIFO exist when this returns.
    pub fn start(registry: &Registry, options: Options) -> Result<Publisher, PipeError> {
        registry.feed_rings();
        let shared = Arc::new(Shared {
            registry: registry.clone(),
            dir: options.dir,
            stop: AtomicBool::new(false),
            running: Mutex::new(None),
            ended: Condvar::new(),
        });
        live::add(&shared)?;
        if let Err(e) = shared.launch() {
            live::remove(&shared);
            return Err(e);
        }
        registry.mark_piped(true);
        Ok(Publisher { shared })
    }

    /// This process' FIFO.
    pub fn path(&self) -> PathBuf {
        self.shared.path()
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        live::remove(&self.shared);
        self.shared.stop();
        self.shared.registry.mark_piped(false);
    }
}

/// Starts publishing the default registry ([`crate::shm::global`]) with
/// the default [`Options`]; later calls do nothing. The FIFO is removed at
/// normal exit.
pub fn start() -> Result<(), PipeError> {
    static GLOBAL: OnceLock<Publisher> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    let _once = STARTING.lock().unwrap_or_else(|e| e.into_inner());
    if GLOBAL.get().is_none() {
        let _ = GLOBAL.set(Publisher::start(crate::shm::global(), Options::default())?);
    }
    Ok(())
}

impl Shared {
    /// The FIFO of the process calling (a forked child has its own).
    fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.stats", std::process::id()))
    }

    /// Makes the folder and this process' FIFO and starts the thread.
    fn launch(self: &Arc<Self>) -> Result<(), PipeError> {
        let path = self.path();
        crate::folder::open_shared(&self.dir).map_err(|source| PipeError::Folder {
            path: self.dir.clone(),
            source,
        })?;
        fifo::make(&path).map_err(|source| PipeError::Fifo {
            path: path.clone(),
            source,
        })?;
        self.spawn(move |shared| shared.run(&path))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(self.path());
            })
    }

    /// Starts the thread in a child made by `fork`. Most children `exec`
    /// another program at once, which ends the thread: the FIFO is made
    /// only after [`CHILD_DELAY`], so those leave none behind.
    fn launch_in_child(self: &Arc<Self>) -> Result<(), PipeError> {
        self.spawn(|shared| {
            std::thread::sleep(CHILD_DELAY);
            let path = shared.path();
            let made = crate::folder::open_shared(&shared.dir).and_then(|_| fifo::make(&path));
            match made {
                Ok(()) => shared.run(&path),
                Err(_) => shared.mark_ended(),
            }
        })
    }

    fn spawn(
        self: &Arc<Self>,
        body: impl FnOnce(&Shared) + Send + 'static,
    ) -> Result<(), PipeError> {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::process::id());
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name("statkit-pipe".into())
            .spawn(move || body(&shared));
        spawned.map(drop).map_err(|e| {
            self.mark_ended();
            PipeError::Thread(e)
        })
    }

    /// The thread: a snapshot per reader until stopped.
    fn run(&self, path: &Path) {
        fifo::block_sigpipe();
        while !self.stop.load(Acquire) {
            let Ok(mut pipe) = fifo::wait_for_reader(path) else {
                // The FIFO went away under us (removed by hand): make it
                // again after a pause.
                std::thread::sleep(Duration::from_millis(100));
                let _ = fifo::make(path);
                continue;
            };
            if self.stop.load(Acquire) {
                break;
            }
            // A reader that leaves early or stalls costs this snapshot only.
            let _ = fifo::send(&mut pipe, self.snapshot().as_bytes(), WRITE_TIMEOUT);
            // The next FIFO is in place before the reader sees the end of
            // this one, so a reader that opens the path again right away
            // never finds the spent one (statvent closes first).
            let _ = std::fs::remove_file(path);
            if !self.stop.load(Acquire) {
                let _ = fifo::make(path);
            }
            drop(pipe);
        }
        let _ = std::fs::remove_file(path);
        self.mark_ended();
    }

    /// The registry in statvent's lines. Labels are valid stat names (no
    /// line breaks, no surrounding spaces), so no stat is ever refused.
    fn snapshot(&self) -> String {
        let mut out = String::new();
        for (name, value) in stats::stats(self.registry.own_values()) {
            let _ = statkit_pipe::format::write_stat(&mut out, &name, value);
        }
        out
    }

    fn mark_ended(&self) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.ended.notify_all();
    }

    /// Stops this process' thread: knocks on the FIFO until the thread,
    /// waiting for a reader, notices (bounded: 2 s), then removes it.
    fn stop(&self) {
        self.stop.store(true, Release);
        let path = self.path();
        let me = Some(std::process::id());
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..200 {
            if *running != me {
                break;
            }
            fifo::knock(&path);
            running = self
                .ended
                .wait_timeout(running, Duration::from_millis(10))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(running);
        let _ = std::fs::remove_file(path);
    }
}
