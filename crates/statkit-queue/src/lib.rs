//! A first-in first-out queue of byte records on disk, bounded in bytes:
//! where a sink keeps the flushes it could not deliver, so that a backend
//! outage or a restart loses nothing (up to the bound).
//!
//! # Use
//!
//! ```no_run
//! # fn deliver(_: &[u8]) -> bool { true }
//! use statkit_queue::{DiskQueue, Options};
//!
//! let mut queue = DiskQueue::open("/var/lib/statkit/queue/graphite", Options::default())?;
//! queue.push(b"one flush")?;
//! while let Some(record) = queue.peek()? {
//!     if !deliver(record) {
//!         break; // try again later: the record stays first
//!     }
//!     queue.pop()?;
//! }
//! # Ok::<(), statkit_queue::QueueError>(())
//! ```
//!
//! # Delivery: at least once
//!
//! A record leaves the queue when [`DiskQueue::pop`] is called after it was
//! delivered, so a crash between the delivery and the pop delivers it again
//! after the restart. Graphite takes that in its stride: a series holds one
//! value per timestamp, and the repeated lines carry the same timestamps
//! and values, so they overwrite themselves. A sink whose backend would
//! count a repeat twice can drop it by its flush timestamp: remember the
//! timestamp of the last flush delivered (the records are in flush order)
//! and skip a record whose timestamp is not newer.
//!
//! # Files
//!
//! The queue owns its folder (created 0700; refused when it is a symbolic
//! link or not a folder), and one process at a time may use it: the
//! server's lock on its state folder sees to that. Records go into segment files of about
//! [`Options::segment_bytes`] each, named by a sequence number
//! (`00000000000000000007.seg`, 0600, opened with `O_NOFOLLOW`):
//!
//! ```text
//! segment: "STKQSEG" 1 (magic, format version), then records
//! record:  length u32 LE, CRC-32 u32 LE (of the length's 4 bytes and the
//!          data), data
//! cursor:  "STKQCUR" 1, segment u64 LE, offset u64 LE, CRC-32 u32 LE of
//!          the 24 bytes before it
//! ```
//!
//! The `cursor` file says where the first record not yet popped starts;
//! segments before it are deleted. It is overwritten in place at each pop
//! and not synced: a crash or a power cut can only leave it older (or torn,
//! which its checksum tells), and without a valid cursor the queue starts
//! at its oldest segment: records are delivered again rather than lost,
//! and a pop costs one small write instead of two syncs and a rename.
//!
//! # Crash safety
//!
//! Each push is written and `fdatasync`ed before [`DiskQueue::push`]
//! returns, so a record that was accepted survives a crash or a power cut;
//! a push is one flush of a sink (every 10 s), so a sync each costs
//! nothing worth batching. A crash in the middle of a push leaves a torn
//! record at the end of the last segment: [`DiskQueue::open`] finds it by
//! its length or CRC, cuts it off and counts it ([`Recovery::torn_tails`]).
//! A segment damaged anywhere else (a bad header, a bad record followed by
//! more data) is renamed `*.seg.bad` for inspection, reported in
//! [`Recovery::set_aside`], and the queue goes on with the others.
//!
//! # The bound
//!
//! [`Options::max_bytes`] bounds the records queued, each counted as its
//! data plus its 8 framing bytes ([`DiskQueue::bytes`]); segment headers
//! and the cursor add a few bytes per segment. A push past the bound drops
//! the oldest records first, counted in [`Stats::dropped_records`] and
//! [`Stats::dropped_bytes`]; so are records refused for being larger than
//! the bound and pushes that failed, such as on a full disk, which return
//! [`QueueError::NoSpace`] and leave the queue as it was.
//!
//! No async: plain blocking I/O, for a thread of its own.

#![deny(unsafe_code)]

use std::collections::VecDeque;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

const SEGMENT_MAGIC: &[u8; 8] = b"STKQSEG\x01";
const CURSOR_MAGIC: &[u8; 8] = b"STKQCUR\x01";
/// A segment's header: its magic.
const HEADER: u64 = SEGMENT_MAGIC.len() as u64;
/// A record's length and CRC.
pub const RECORD_OVERHEAD: u64 = 8;
const CURSOR: &str = "cursor";
const SEGMENT_SUFFIX: &str = ".seg";
const BAD_SUFFIX: &str = ".bad";

/// How big the queue and its files may grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// The most bytes of records (data and framing) kept; the oldest go
    /// first past it.
    pub max_bytes: u64,
    /// A new segment starts once the last one holds this many bytes (one
    /// record larger than this gets a segment of its own). Smaller
    /// segments give the space of popped records back sooner.
    pub segment_bytes: u64,
}

impl Default for Options {
    /// 256 MiB in segments of 8 MiB: a sink's ten minutes of 100k-series
    /// flushes (about 1 MB each every 10 s) with room to spare.
    fn default() -> Self {
        Self {
            max_bytes: 256 << 20,
            segment_bytes: 8 << 20,
        }
    }
}

/// What went wrong; every I/O error names its file.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue options: {0}")]
    Options(&'static str),
    #[error("{} is not a folder of its own (a symbolic link or another kind of file)", .0.display())]
    NotAFolder(PathBuf),
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The disk is full: the record was not queued (and was counted as
    /// dropped); the queue is as it was before the push, but for the
    /// oldest records the bound dropped. From a pop (`bytes` 0): the
    /// cursor could not be saved, see [`DiskQueue::pop`].
    #[error("no space left on the queue's disk for {} ({bytes} bytes dropped)", path.display())]
    NoSpace { path: PathBuf, bytes: u64 },
    /// The record cannot fit the bound however much is dropped: refused
    /// and counted as dropped.
    #[error("a record of {bytes} bytes is larger than the queue's bound of {max} bytes: dropped")]
    TooLarge { bytes: u64, max: u64 },
    /// A segment turned out damaged while reading: set aside, and its
    /// records left are gone from the queue; the next record comes from
    /// the next segment.
    #[error("{0}")]
    Corrupt(SetAside),
}

fn io_error<'a>(op: &'static str, path: &'a Path) -> impl Fn(io::Error) -> QueueError + 'a {
    move |source| QueueError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

/// A damaged segment, renamed out of the queue's way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAside {
    /// The segment's name in the queue.
    pub segment: PathBuf,
    /// Where it is now (`*.seg.bad`).
    pub renamed: PathBuf,
    /// Where the damage starts.
    pub offset: u64,
    pub reason: &'static str,
    /// The records not yet popped that were read whole before the damage:
    /// lost with the segment (records past the damage cannot be counted).
    pub records_lost: u64,
}

impl std::fmt::Display for SetAside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "queue segment {} is damaged at byte {} ({}): set aside as {}, with {} records lost",
            self.segment.display(),
            self.offset,
            self.reason,
            self.renamed.display(),
            self.records_lost,
        )
    }
}

/// What [`DiskQueue::open`] repaired.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Torn records (a crash in the middle of a push) cut off the end of a
    /// segment: at most one per crash, and never a record whose push had
    /// returned.
    pub torn_tails: u64,
    /// Bytes cut off with them.
    pub torn_bytes: u64,
    /// Damaged segments renamed `*.seg.bad`.
    pub set_aside: Vec<SetAside>,
    /// The cursor was missing, damaged or pointed inside a record, so the
    /// queue starts at its oldest record: some may be delivered again.
    pub cursor_reset: bool,
}

/// The queue's counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records queued.
    pub records: u64,
    /// Their bytes, data and framing.
    pub bytes: u64,
    /// Records dropped since the queue was opened: the oldest, past the
    /// bound, and pushes refused (too large, or failed: a full disk).
    pub dropped_records: u64,
    /// Their bytes, data and framing.
    pub dropped_bytes: u64,
}

/// One segment file: the records in `start..end` are queued.
#[derive(Debug)]
struct Segment {
    seq: u64,
    path: PathBuf,
    /// Where its first record not yet popped starts.
    start: u64,
    /// Where its last whole record ends (and the next push writes).
    end: u64,
    records: u64,
    /// Opened when first read or written.
    file: Option<File>,
}

impl Segment {
    fn bytes(&self) -> u64 {
        self.end - self.start
    }

    fn file(&mut self) -> Result<&File, QueueError> {
        let file = match self.file.take() {
            Some(file) => file,
            None => open_segment(&self.path, false)?,
        };
        Ok(self.file.insert(file))
    }
}

fn open_segment(path: &Path, create: bool) -> Result<File, QueueError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(create)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_error("opening", path))
}

/// The queue. See the crate documentation.
#[derive(Debug)]
pub struct DiskQueue {
    dir: PathBuf,
    options: Options,
    /// Oldest first; the last one takes the pushes.
    segments: VecDeque<Segment>,
    /// The sequence number of the next segment.
    next_seq: u64,
    /// The last segment takes no more records (a failed write could not be
    /// undone there).
    tail_sealed: bool,
    stats: Stats,
    recovery: Recovery,
    /// The first record's data, read by [`DiskQueue::peek`].
    peeked: Option<Vec<u8>>,
}

impl DiskQueue {
    /// Opens the queue in `dir` (created, with its parents, when missing),
    /// repairing what a crash left (see [`Recovery`]).
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self, QueueError> {
        if options.max_bytes <= RECORD_OVERHEAD {
            return Err(QueueError::Options(
                "max_bytes must leave room for a record",
            ));
        }
        if options.segment_bytes <= HEADER + RECORD_OVERHEAD {
            return Err(QueueError::Options(
                "segment_bytes must leave room for a record",
            ));
        }
        let dir = dir.as_ref().to_owned();
        prepare_dir(&dir)?;
        let mut queue = Self {
            dir,
            options,
            segments: VecDeque::new(),
            next_seq: 0,
            tail_sealed: false,
            stats: Stats::default(),
            recovery: Recovery::default(),
            peeked: None,
        };
        queue.load()?;
        Ok(queue)
    }

    fn load(&mut self) -> Result<(), QueueError> {
        let mut seqs = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(io_error("listing", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(io_error("listing", &self.dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let (stem, bad) = match name.strip_suffix(BAD_SUFFIX) {
                Some(stem) => (stem, true),
                None => (name, false),
            };
            let Some(seq) = stem
                .strip_suffix(SEGMENT_SUFFIX)
                .and_then(|digits| digits.parse::<u64>().ok())
            else {
                continue;
            };
            // Never reuse a number, not even a damaged segment's.
            self.next_seq = self.next_seq.max(seq.saturating_add(1));
            if !bad {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let cursor = self.read_cursor();
        if cursor.is_none() && !seqs.is_empty() {
            self.recovery.cursor_reset = true;
        }
        let last = seqs.last().copied();
        for seq in seqs {
            let path = self.segment_path(seq);
            let from = match cursor {
                // Popped to the end before the crash that kept it.
                Some((at, _)) if seq < at => {
                    fs::remove_file(&path).map_err(io_error("removing", &path))?;
                    continue;
                }
                Some((at, offset)) if seq == at => Some(offset),
                _ => None,
            };
            self.load_segment(seq, path, from, Some(seq) == last)?;
        }
        self.count();
        // Segments emptied by the repairs above need not wait for a pop.
        self.drop_empty_head_segments()?;
        Ok(())
    }

    /// Reads the segment `seq`, from the cursor's `from` (when it points
    /// into it), and keeps it when anything in it is left.
    fn load_segment(
        &mut self,
        seq: u64,
        path: PathBuf,
        from: Option<u64>,
        last: bool,
    ) -> Result<(), QueueError> {
        let file = open_segment(&path, false)?;
        let scan = scan(&file, &path, from.unwrap_or(HEADER))?;
        if from.is_some() && !scan.from_found {
            self.recovery.cursor_reset = true;
        }
        let records = if scan.from_found {
            scan.records
        } else {
            scan.all_records
        };
        match scan.damage {
            Some(Damage::Corrupt { offset, reason }) => {
                self.set_aside(&path, offset, reason, records)?;
                return Ok(());
            }
            Some(Damage::Torn { offset }) => {
                let len = file.metadata().map_err(io_error("reading", &path))?.len();
                file.set_len(offset)
                    .map_err(io_error("truncating", &path))?;
                file.sync_all().map_err(io_error("syncing", &path))?;
                self.recovery.torn_tails += 1;
                self.recovery.torn_bytes += len.saturating_sub(offset);
            }
            None => {}
        }
        if scan.end < HEADER {
            // Created but never written whole: nothing to keep.
            drop(file);
            fs::remove_file(&path).map_err(io_error("removing", &path))?;
            return Ok(());
        }
        self.segments.push_back(Segment {
            seq,
            path,
            start: if scan.from_found { scan.from } else { HEADER },
            end: scan.end,
            records,
            file: last.then_some(file),
        });
        Ok(())
    }

    /// Renames a damaged segment `*.seg.bad` and records it.
    fn set_aside(
        &mut self,
        path: &Path,
        offset: u64,
        reason: &'static str,
        records_lost: u64,
    ) -> Result<SetAside, QueueError> {
        let mut renamed = path.as_os_str().to_owned();
        renamed.push(BAD_SUFFIX);
        let renamed = PathBuf::from(renamed);
        fs::rename(path, &renamed).map_err(io_error("setting aside", path))?;
        sync_dir(&self.dir)?;
        let set_aside = SetAside {
            segment: path.to_owned(),
            renamed,
            offset,
            reason,
            records_lost,
        };
        self.recovery.set_aside.push(set_aside.clone());
        Ok(set_aside)
    }

    fn count(&mut self) {
        self.stats.records = self.segments.iter().map(|s| s.records).sum();
        self.stats.bytes = self.segments.iter().map(Segment::bytes).sum();
    }

    fn segment_path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}{SEGMENT_SUFFIX}"))
    }

    /// The cursor's `(segment, offset)`, `None` when missing or damaged.
    fn read_cursor(&self) -> Option<(u64, u64)> {
        let path = self.dir.join(CURSOR);
        let mut bytes = Vec::new();
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .ok()?;
        file.take(64).read_to_end(&mut bytes).ok()?;
        let (body, crc) = bytes.split_last_chunk::<4>()?;
        let fields = body.strip_prefix(CURSOR_MAGIC)?;
        if fields.len() != 16 || crc32fast::hash(body) != u32::from_le_bytes(*crc) {
            return None;
        }
        let (seq, offset) = fields.split_first_chunk::<8>()?;
        let offset: &[u8; 8] = offset.try_into().ok()?;
        Some((u64::from_le_bytes(*seq), u64::from_le_bytes(*offset)))
    }

    /// Records where the first record left starts, overwriting the cursor
    /// in place (see the crate's documentation for why it is not synced).
    fn write_cursor(&self) -> Result<(), QueueError> {
        let (seq, offset) = match self.segments.front() {
            Some(segment) => (segment.seq, segment.start),
            None => (self.next_seq, HEADER),
        };
        let mut bytes = Vec::with_capacity(28);
        bytes.extend_from_slice(CURSOR_MAGIC);
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&offset.to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        let path = self.dir.join(CURSOR);
        let write = || -> io::Result<()> {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)?;
            // The same length every time: nothing to truncate.
            file.write_all_at(&bytes, 0)
        };
        // On a full disk this is the error a push reports.
        write().map_err(|source| write_error(source, &path, 0))
    }

    /// Appends `data` as the last record, first dropping the oldest
    /// records as the bound requires. On an error nothing was queued and
    /// the record counts as dropped.
    pub fn push(&mut self, data: &[u8]) -> Result<(), QueueError> {
        let size = (data.len() as u64).saturating_add(RECORD_OVERHEAD);
        if size > self.options.max_bytes || u32::try_from(data.len()).is_err() {
            self.count_dropped(size);
            return Err(QueueError::TooLarge {
                bytes: size,
                max: self.options.max_bytes,
            });
        }
        if self.stats.bytes + size > self.options.max_bytes {
            self.make_room(size)?;
        }
        let result = self.append(data);
        if result.is_err() {
            self.count_dropped(size);
        }
        result
    }

    fn count_dropped(&mut self, bytes: u64) {
        self.stats.dropped_records += 1;
        self.stats.dropped_bytes += bytes;
    }

    /// Drops the oldest records until `size` more bytes fit the bound:
    /// whole segments without reading them while that is not too much,
    /// then record by record.
    fn make_room(&mut self, size: u64) -> Result<(), QueueError> {
        let max = self.options.max_bytes;
        while self.stats.bytes + size > max {
            let Some(head) = self.segments.front_mut() else {
                break;
            };
            let whole = self.stats.bytes - head.bytes() + size > max || head.records <= 1;
            // A record whose length cannot be read goes with its segment.
            match read_header(head) {
                Ok((len, _)) if !whole => {
                    head.start += RECORD_OVERHEAD + len;
                    head.records -= 1;
                    self.forget(1, RECORD_OVERHEAD + len);
                }
                _ => {
                    let (records, bytes) = (head.records, head.bytes());
                    head.start = head.end;
                    head.records = 0;
                    self.forget(records, bytes);
                }
            }
            self.peeked = None;
            self.drop_empty_head_segments()?;
        }
        self.write_cursor()
    }

    fn forget(&mut self, records: u64, bytes: u64) {
        self.stats.records -= records;
        self.stats.bytes -= bytes;
        self.stats.dropped_records += records;
        self.stats.dropped_bytes += bytes;
    }

    /// Deletes the segments before the last that have nothing left.
    fn drop_empty_head_segments(&mut self) -> Result<(), QueueError> {
        while self.segments.len() > 1 && self.segments.front().is_some_and(|s| s.records == 0) {
            if let Some(segment) = self.segments.pop_front() {
                drop(segment.file);
                fs::remove_file(&segment.path).map_err(io_error("removing", &segment.path))?;
            }
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> Result<(), QueueError> {
        let size = data.len() as u64 + RECORD_OVERHEAD;
        let full = self.segments.back().is_none_or(|tail| {
            self.tail_sealed
                || tail.end >= self.options.segment_bytes
                || (tail.end > HEADER && tail.end + size > self.options.segment_bytes)
        });
        if full {
            self.start_segment(size)?;
        }
        let tail = (self.segments.back_mut()).expect("a segment to write was started");
        let at = tail.end;
        let path = tail.path.clone();
        let mut header = [0; RECORD_OVERHEAD as usize];
        let len = (data.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(data);
        header[..4].copy_from_slice(&len);
        header[4..].copy_from_slice(&crc.finalize().to_le_bytes());
        let file = tail.file()?;
        let written = file
            .write_all_at(&header, at)
            .and_then(|()| file.write_all_at(data, at + RECORD_OVERHEAD))
            .and_then(|()| file.sync_data());
        if let Err(source) = written {
            // Take back what part of the record reached the file, so the
            // next push follows the last whole record.
            let undone = file.set_len(at).and_then(|()| file.sync_data());
            if undone.is_err() {
                self.tail_sealed = true;
            }
            return Err(write_error(source, &path, size));
        }
        tail.end += size;
        tail.records += 1;
        self.stats.records += 1;
        self.stats.bytes += size;
        Ok(())
    }

    /// Starts a new last segment for a record of `size` bytes.
    fn start_segment(&mut self, size: u64) -> Result<(), QueueError> {
        let seq = self.next_seq;
        let path = self.segment_path(seq);
        self.next_seq += 1;
        let file = open_segment(&path, true).map_err(|error| match error {
            QueueError::Io { source, path, .. } => write_error(source, &path, size),
            error => error,
        })?;
        if let Err(source) = file
            .write_all_at(SEGMENT_MAGIC, 0)
            .and_then(|()| file.sync_data())
        {
            drop(file);
            // Best effort: a headless segment is removed at the next open.
            let _ = fs::remove_file(&path);
            return Err(write_error(source, &path, size));
        }
        sync_dir(&self.dir)?;
        self.tail_sealed = false;
        // The old last segment, when popped empty, has no use left.
        self.segments.push_back(Segment {
            seq,
            path,
            start: HEADER,
            end: HEADER,
            records: 0,
            file: Some(file),
        });
        self.drop_empty_head_segments()?;
        self.write_cursor()
    }

    /// The first record, read (and checked) once until it is popped;
    /// `None` when the queue is empty. A damaged record sets its segment
    /// aside and returns [`QueueError::Corrupt`]: ask again for the next.
    pub fn peek(&mut self) -> Result<Option<&[u8]>, QueueError> {
        if self.peeked.is_none() {
            self.peeked = self.read_first()?;
        }
        Ok(self.peeked.as_deref())
    }

    fn read_first(&mut self) -> Result<Option<Vec<u8>>, QueueError> {
        let Some(head) = self.segments.iter_mut().find(|s| s.records > 0) else {
            return Ok(None);
        };
        let at = head.start;
        let read = read_header(head).and_then(|(len, crc)| {
            // The length was checked against the segment's records.
            let mut data = vec![0; len as usize];
            let path = head.path.clone();
            (head.file()?)
                .read_exact_at(&mut data, at + RECORD_OVERHEAD)
                .map_err(io_error("reading", &path))?;
            Ok((data, crc))
        });
        match read {
            Ok((data, crc)) if record_crc(&data) == crc => Ok(Some(data)),
            Ok(_) => Err(self.set_aside_head(at, "a record's CRC does not match")),
            Err(QueueError::Corrupt(damage)) => Err(self.set_aside_head(at, damage.reason)),
            Err(error) => Err(error),
        }
    }

    /// Sets aside the first segment with records, damaged at `offset`.
    fn set_aside_head(&mut self, offset: u64, reason: &'static str) -> QueueError {
        let i = (self.segments.iter().position(|s| s.records > 0))
            .expect("the damaged record is in a segment with records");
        let segment = self.segments.remove(i).expect("found above");
        let (records, bytes) = (segment.records, segment.bytes());
        self.stats.records -= records;
        self.stats.bytes -= bytes;
        if i == self.segments.len() {
            // It was the last: the next push starts a new one.
            self.tail_sealed = true;
        }
        drop(segment.file);
        let result = self
            .set_aside(&segment.path, offset, reason, records)
            .and_then(|set_aside| {
                self.write_cursor()?;
                Ok(set_aside)
            });
        match result {
            Ok(set_aside) => QueueError::Corrupt(set_aside),
            Err(error) => error,
        }
    }

    /// Removes the first record, after its delivery. Returns whether there
    /// was one. On an error the record is gone from this queue but may come
    /// back after a restart (the cursor could not be saved).
    pub fn pop(&mut self) -> Result<bool, QueueError> {
        let Some(head) = self.segments.iter_mut().find(|s| s.records > 0) else {
            return Ok(false);
        };
        let len = match &self.peeked {
            Some(data) => data.len() as u64,
            None => match read_header(head) {
                Ok((len, _)) => len,
                Err(QueueError::Corrupt(damage)) => {
                    return Err(self.set_aside_head(damage.offset, damage.reason))
                }
                Err(error) => return Err(error),
            },
        };
        self.peeked = None;
        head.start += RECORD_OVERHEAD + len;
        head.records -= 1;
        self.stats.records -= 1;
        self.stats.bytes -= RECORD_OVERHEAD + len;
        self.drop_empty_head_segments()?;
        self.write_cursor()?;
        Ok(true)
    }

    /// Records queued.
    pub fn len(&self) -> u64 {
        self.stats.records
    }

    pub fn is_empty(&self) -> bool {
        self.stats.records == 0
    }

    /// Bytes queued, data and framing: what [`Options::max_bytes`] bounds.
    pub fn bytes(&self) -> u64 {
        self.stats.bytes
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// What opening repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> Options {
        self.options
    }
}

/// A failed write as the error a caller can tell apart: a full disk, or
/// another I/O error.
fn write_error(source: io::Error, path: &Path, bytes: u64) -> QueueError {
    if source.raw_os_error() == Some(libc::ENOSPC) {
        QueueError::NoSpace {
            path: path.to_owned(),
            bytes,
        }
    } else {
        QueueError::Io {
            op: "writing",
            path: path.to_owned(),
            source,
        }
    }
}

fn record_crc(data: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&(data.len() as u32).to_le_bytes());
    crc.update(data);
    crc.finalize()
}

/// The length and CRC of the segment's first record left, checked to lie
/// within its records: when not, [`QueueError::Corrupt`] with the offset
/// and reason only (its paths the segment's own), for the caller to set
/// the segment aside.
fn read_header(segment: &mut Segment) -> Result<(u64, u32), QueueError> {
    let at = segment.start;
    let mut header = [0; RECORD_OVERHEAD as usize];
    let path = segment.path.clone();
    (segment.file()?)
        .read_exact_at(&mut header, at)
        .map_err(io_error("reading", &path))?;
    let [l0, l1, l2, l3, c0, c1, c2, c3] = header;
    let len = u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
    if at + RECORD_OVERHEAD + len > segment.end {
        return Err(QueueError::Corrupt(SetAside {
            segment: path.clone(),
            renamed: path,
            offset: at,
            reason: "a record's length runs past the segment",
            records_lost: 0,
        }));
    }
    Ok((len, u32::from_le_bytes([c0, c1, c2, c3])))
}

/// Creates the queue's folder 0700, refuses a link or a file, and takes
/// back group and other access from an existing one.
fn prepare_dir(dir: &Path) -> Result<(), QueueError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error("creating", dir))?;
    let meta = fs::symlink_metadata(dir).map_err(io_error("reading", dir))?;
    if !meta.is_dir() {
        return Err(QueueError::NotAFolder(dir.to_owned()));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(io_error("restricting", dir))?;
    }
    Ok(())
}

/// Makes a creation, rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), QueueError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing", dir))
}

enum Damage {
    /// A crash in the middle of a push: cut the file here.
    Torn { offset: u64 },
    /// Anything else: set the segment aside.
    Corrupt { offset: u64, reason: &'static str },
}

struct Scan {
    /// Where the last whole record ends (below [`HEADER`] for a segment
    /// whose header never got written whole).
    end: u64,
    /// Whole records from `from` on.
    records: u64,
    /// Whole records.
    all_records: u64,
    /// The offset asked for, and whether a record starts there (or the
    /// records end there).
    from: u64,
    from_found: bool,
    damage: Option<Damage>,
}

/// Reads a segment through, checking every record; counts those from
/// `from` on.
fn scan(file: &File, path: &Path, from: u64) -> Result<Scan, QueueError> {
    let len = file.metadata().map_err(io_error("reading", path))?.len();
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let read_error = io_error("reading", path);
    let mut result = Scan {
        end: 0,
        records: 0,
        all_records: 0,
        from,
        from_found: false,
        damage: None,
    };
    let mut header = [0; HEADER as usize];
    let head_len = usize::try_from(len.min(HEADER)).unwrap_or(0);
    reader
        .read_exact(&mut header[..head_len])
        .map_err(&read_error)?;
    if header[..head_len] != SEGMENT_MAGIC[..head_len] {
        result.damage = Some(Damage::Corrupt {
            offset: 0,
            reason: "not a queue segment of this version",
        });
        return Ok(result);
    }
    if len < HEADER {
        result.damage = (len > 0).then_some(Damage::Torn { offset: 0 });
        return Ok(result);
    }
    let mut at = HEADER;
    let mut data = Vec::new();
    loop {
        if at == from {
            result.from_found = true;
        }
        result.end = at;
        let left = len - at;
        if left == 0 {
            return Ok(result);
        }
        let mut frame = [0; RECORD_OVERHEAD as usize];
        if left < RECORD_OVERHEAD {
            result.damage = Some(Damage::Torn { offset: at });
            return Ok(result);
        }
        reader.read_exact(&mut frame).map_err(&read_error)?;
        let [l0, l1, l2, l3, c0, c1, c2, c3] = frame;
        let size = u64::from(u32::from_le_bytes([l0, l1, l2, l3]));
        if RECORD_OVERHEAD + size > left {
            result.damage = Some(Damage::Torn { offset: at });
            return Ok(result);
        }
        data.clear();
        (&mut reader)
            .take(size)
            .read_to_end(&mut data)
            .map_err(&read_error)?;
        if record_crc(&data) != u32::from_le_bytes([c0, c1, c2, c3]) {
            let rest_is_zero = frame.iter().all(|&b| b == 0) && zeros_to_end(&mut reader, path)?;
            result.damage = Some(if at + RECORD_OVERHEAD + size == len || rest_is_zero {
                // The last thing in the file, or a tail the file system
                // extended without its data: what a crash mid-push leaves.
                Damage::Torn { offset: at }
            } else {
                Damage::Corrupt {
                    offset: at,
                    reason: "a record's CRC does not match",
                }
            });
            return Ok(result);
        }
        result.all_records += 1;
        if at >= from {
            result.records += 1;
        }
        at += RECORD_OVERHEAD + size;
    }
}

/// Whether nothing but zero bytes is left to read.
fn zeros_to_end(reader: &mut impl Read, path: &Path) -> Result<bool, QueueError> {
    let mut buf = [0; 1 << 12];
    loop {
        let n = reader.read(&mut buf).map_err(io_error("reading", path))?;
        if n == 0 {
            return Ok(true);
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests;
