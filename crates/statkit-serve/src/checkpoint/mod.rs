//! Aggregation checkpoints: the open interval on disk, so a `kill -9` loses
//! at most the lines of the last checkpoint interval and counts nothing
//! twice.
//!
//! A checkpoint holds a [`Checkpoint`] (the aggregate, each receiver's
//! pending samples and the series' totals since first seen) and sometimes
//! a flush that is on its way to the sinks' disk queues (the *outbox*).
//! Checkpoints go alternately into two files of the state folder,
//! `checkpoint.0` and `checkpoint.1`, each overwritten in place and
//! numbered: a crash in the middle of a write tears only the file being
//! written (its checksum tells), the other still holds the one before, and
//! a start takes the newest whole one. Overwriting in place, rather than
//! writing a new file and renaming it, spares the file system a new file,
//! a rename and an early write-out every second. They are written:
//!
//! - every `state.checkpoint_interval` by a thread of its own, with the
//!   interval so far (skipped when nothing changed), left to the kernel to
//!   write out: a `kill -9` finds it, a power cut may find the one before;
//! - at every flush, as one step with it: under one lock the flusher ends
//!   the interval and captures the state right after it, writes the
//!   checkpoint with the flush in its outbox, synced to disk (the queues
//!   sync their records too, so after a power cut no queue is ahead of
//!   the checkpoint), then queues the flush for every sink. A crash before the write restarts from the previous
//!   checkpoint, whose samples the lost flush held: they are flushed
//!   again, once. A crash after it restarts after the flush, and puts the
//!   outbox's flush back into every sink's queue, where a copy queued
//!   just before the crash is delivered once (sinks skip a flush number
//!   repeated in a row).
//!
//! When a flush's checkpoint cannot be written, both files are removed:
//! restarting from a checkpoint older than a flush that reached the sinks
//! would count its samples twice, and losing the interval is the lesser
//! harm.
//!
//! # File
//!
//! ```text
//! magic       8 bytes "STKSTATE"
//! version     u32 LE  1
//! number      u64 LE  checkpoints written before this one
//! checkpoint  u64 LE length, then statkit_agg::Checkpoint's bytes
//! outbox      u8 0 | 1, then u64 LE flush number, u64 LE length, then
//!             statkit_agg::Snapshot's bytes
//! crc32       u32 LE, CRC-32 (IEEE) of everything before it
//! ```
//!
//! A file that is not this (foreign, damaged, from another version) is
//! moved aside and the server starts without it.

pub(crate) mod settings;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use statkit_agg::{Checkpoint, Snapshot};

use crate::files::{self, WriteOut};
use crate::pipeline::Pipeline;
use crate::sink::Fanout;
use crate::support::lock;

/// The two files checkpoints alternate between, in the state folder.
pub(crate) const FILES: [&str; 2] = ["checkpoint.0", "checkpoint.1"];

const MAGIC: &[u8; 8] = b"STKSTATE";
const VERSION: u32 = 1;

/// A flush on its way to the sinks' queues: its number and bytes.
pub(crate) struct Outbox {
    pub number: u64,
    pub snapshot: Arc<Snapshot>,
    pub bytes: Vec<u8>,
}

/// Writes the checkpoint files. See the module documentation.
pub(crate) struct Checkpointer {
    paths: [PathBuf; 2],
    pipeline: Arc<Pipeline>,
    /// Held across each capture and its write, so an older capture never
    /// overwrites a newer one.
    written: Mutex<Written>,
}

/// What was last written.
#[derive(Debug, Default)]
struct Written {
    /// Checkpoints written (the newest's number, plus one).
    count: u64,
    /// The pipeline's version the newest was captured at, to skip a
    /// checkpoint that would change nothing (`None` after a flush: its
    /// outbox must go).
    version: Option<[u64; 4]>,
    /// When the newest was written: the next periodic one is due an
    /// interval after it, so a flush's checkpoint puts it off.
    at: Option<Instant>,
}

/// Why a checkpoint file was not loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("not a statkit checkpoint file")]
    Foreign,
    #[error("checkpoint file version {0}, but this statkit reads version {VERSION}")]
    Version(u32),
    #[error("checkpoint file truncated or damaged (checksum or lengths do not match)")]
    Damaged,
    #[error(transparent)]
    Checkpoint(#[from] statkit_agg::CheckpointError),
    #[error("the flush in the checkpoint's outbox: {0}")]
    Outbox(#[from] statkit_agg::SnapshotError),
}

impl Checkpointer {
    pub(crate) fn new(state_dir: &std::path::Path, pipeline: Arc<Pipeline>) -> Self {
        Self {
            paths: FILES.map(|name| state_dir.join(name)),
            pipeline,
            written: Mutex::default(),
        }
    }

    /// Puts the newest checkpoint's state back into the pipeline (before
    /// any receiver runs) and returns the flush in its outbox, which the
    /// caller queues for every sink again. A file that cannot be used is
    /// moved aside (logged); without one the server starts empty.
    pub(crate) fn restore(&self) -> Option<Outbox> {
        let newest = self
            .paths
            .iter()
            .filter_map(|path| Some((path, read(path)?)))
            .max_by_key(|(_, (number, _, _))| *number);
        let (path, (number, checkpoint, outbox)) = newest?;
        tracing::info!(
            path = %path.display(),
            series = checkpoint.series(),
            receivers = checkpoint.tables(),
            outbox = outbox.is_some(),
            "restored the open interval from the checkpoint"
        );
        lock(&self.written).count = number + 1;
        self.pipeline.restore(checkpoint);
        outbox
    }

    /// Writes the interval so far, unless nothing changed since the last
    /// checkpoint.
    pub(crate) fn save(&self) {
        let mut written = lock(&self.written);
        let version = self.pipeline.version();
        if written.version == Some(version) {
            // Nothing new: due again an interval from now.
            written.at = Some(Instant::now());
            return;
        }
        let bytes = encode(written.count, &self.pipeline.capture(), None);
        match self.write(&mut written, &bytes, WriteOut::Lazy) {
            Ok(()) => written.version = Some(version),
            Err(e) => {
                tracing::warn!(error = %e, "cannot write a checkpoint; the previous one stays")
            }
        }
    }

    /// The flush step (see the module documentation): ends the interval,
    /// lets `finish` add to the flush, writes the checkpoint with the
    /// flush in its outbox and queues it for every sink.
    pub(crate) fn flush(
        &self,
        now: u64,
        cut_short: Option<Duration>,
        finish: impl FnOnce(&mut Snapshot),
        sinks: &Fanout,
    ) {
        let mut written = lock(&self.written);
        let flushed = self.pipeline.flush(now, cut_short, true);
        let mut snapshot = flushed.snapshot;
        finish(&mut snapshot);
        let mut encoded = Vec::new();
        snapshot.encode(&mut encoded);
        let checkpoint = flushed.checkpoint.unwrap_or_default();
        let bytes = encode(written.count, &checkpoint, Some((flushed.number, &encoded)));
        written.version = None;
        if let Err(e) = self.write(&mut written, &bytes, WriteOut::Synced) {
            tracing::error!(error = %e, "cannot write the flush's checkpoint; removing the previous ones, which a restart would count twice");
            for path in &self.paths {
                let _ = std::fs::remove_file(path);
            }
        }
        sinks.push(flushed.number, Arc::new(snapshot), Some(&encoded));
    }

    /// Overwrites the older of the two files with checkpoint `bytes`.
    fn write(
        &self,
        written: &mut Written,
        bytes: &[u8],
        write_out: WriteOut,
    ) -> std::io::Result<()> {
        let path = &self.paths[(written.count % 2) as usize];
        files::overwrite(bytes, path, write_out)?;
        written.count += 1;
        written.at = Some(Instant::now());
        Ok(())
    }

    /// Saves an `interval` after the last checkpoint (periodic or a
    /// flush's) until `stop` receives or disconnects.
    pub(crate) fn run(&self, interval: Duration, stop: Receiver<()>) {
        loop {
            let last = lock(&self.written).at.unwrap_or_else(Instant::now);
            let wait = (last + interval).saturating_duration_since(Instant::now());
            match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            if lock(&self.written)
                .at
                .is_none_or(|at| at.elapsed() >= interval)
            {
                self.save();
            }
        }
    }
}

/// A checkpoint file's number, checkpoint and outbox; `None` (logged, the
/// file moved aside) when it cannot be used, and when there is none.
fn read(path: &std::path::Path) -> Option<(u64, Checkpoint, Option<Outbox>)> {
    let read = files::read_own(path).map_err(|e| e.to_string());
    match read.and_then(|bytes| decode(&bytes).map_err(|e| e.to_string())) {
        Ok(decoded) => Some(decoded),
        Err(_) if !path.exists() => None,
        Err(why) => {
            files::set_aside(path, "checkpoint", &why);
            None
        }
    }
}

fn encode(number: u64, checkpoint: &Checkpoint, outbox: Option<(u64, &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    let start = out.len();
    checkpoint.encode(&mut out);
    let length = (out.len() - start) as u64;
    out[start - 8..start].copy_from_slice(&length.to_le_bytes());
    match outbox {
        Some((number, snapshot)) => {
            out.push(1);
            out.extend_from_slice(&number.to_le_bytes());
            out.extend_from_slice(&(snapshot.len() as u64).to_le_bytes());
            out.extend_from_slice(snapshot);
        }
        None => out.push(0),
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<(u64, Checkpoint, Option<Outbox>), LoadError> {
    let (body, crc) = bytes.split_last_chunk::<4>().ok_or(LoadError::Damaged)?;
    let mut r = body.strip_prefix(MAGIC).ok_or(LoadError::Foreign)?;
    if crc32fast::hash(body).to_le_bytes() != *crc {
        return Err(LoadError::Damaged);
    }
    let version = u32::from_le_bytes(array(&mut r)?);
    if version != VERSION {
        return Err(LoadError::Version(version));
    }
    let number = u64::from_le_bytes(array(&mut r)?);
    let checkpoint = Checkpoint::decode(sized(&mut r)?)?;
    let outbox = match array(&mut r)? {
        [0] => None,
        [1] => {
            let number = u64::from_le_bytes(array(&mut r)?);
            let bytes = sized(&mut r)?.to_vec();
            let snapshot = Arc::new(Snapshot::decode(&bytes)?);
            Some(Outbox {
                number,
                snapshot,
                bytes,
            })
        }
        _ => return Err(LoadError::Damaged),
    };
    if !r.is_empty() {
        return Err(LoadError::Damaged);
    }
    Ok((number, checkpoint, outbox))
}

/// The next `N` bytes of `r`.
fn array<const N: usize>(r: &mut &[u8]) -> Result<[u8; N], LoadError> {
    let (head, rest) = r.split_first_chunk::<N>().ok_or(LoadError::Damaged)?;
    *r = rest;
    Ok(*head)
}

/// A `u64` length, then that many bytes.
fn sized<'a>(r: &mut &'a [u8]) -> Result<&'a [u8], LoadError> {
    let length = usize::try_from(u64::from_le_bytes(array(r)?)).map_err(|_| LoadError::Damaged)?;
    if r.len() < length {
        return Err(LoadError::Damaged);
    }
    let (head, rest) = r.split_at(length);
    *r = rest;
    Ok(head)
}

#[cfg(test)]
mod tests;
