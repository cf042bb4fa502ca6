//! The memory the cells live in: a chain of files on tmpfs mapped shared,
//! or anonymous memory when publishing is off or failed.
//!
//! Segment 0 is the main file; when its entries or cells run out, the
//! registry adds segment `k` as the continuation file `<main>.<k>`, laid
//! out like the main file. Each segment's head (header and entry table) is
//! mapped on its own. Block `b` of every segment is mapped into one
//! [`Reservation`] per block, segment `k` at `k * block_size`, so a metric
//! of any segment is `base + slot` from the same base: adding a segment or
//! a thread block never moves a mapping and never stops a writer.
//!
//! The stats folder is shared by every user (1777, like `/tmp`), so what
//! is in it may have been put there to mislead: the folder is opened once
//! without following a link and checked (`naming::check_folder`: sticky,
//! or ours or root's and closed to others), and the main file and its
//! continuations are created relative to that descriptor with `O_EXCL |
//! O_NOFOLLOW`, mode 0600.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering::Release};
use std::sync::Mutex;

use memmap2::{MmapOptions, MmapRaw};
use statkit_format::layout::{header as field, Header, Layout, STATE_READY};
use statkit_format::naming::continuation;

use super::reserve::Reservation;

/// Where the cells live.
#[derive(Debug)]
pub(super) struct Storage {
    layout: Layout,
    /// The main file's header, the model of each continuation's.
    header: Header,
    /// Segments the reservations have room for.
    max_segments: u32,
    path: Option<PathBuf>,
    /// The folder the files are in, opened and checked once; continuation
    /// files are created relative to it.
    dir: Option<OwnedFd>,
    /// Segment 0 (the main file) first; only ever appended to.
    segments: Mutex<Vec<Segment>>,
    /// Block 0 of every segment.
    shared: Reservation,
    /// Thread blocks 1.., in order; only ever appended to.
    blocks: Mutex<Vec<Reservation>>,
}

/// One file of the chain: its header and entry table.
#[derive(Debug)]
struct Segment {
    file: Option<File>,
    head: MmapRaw,
}

impl Segment {
    fn header_u32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset % 4 == 0 && offset < usize::from(statkit_format::layout::HEADER_SIZE));
        // SAFETY: in bounds of the head mapping, aligned, and only ever
        // accessed atomically.
        unsafe { &*self.head.as_mut_ptr().add(offset).cast::<AtomicU32>() }
    }
}

impl Storage {
    /// Creates the file at `path` (mode 0600), writes `header` and maps
    /// it. A file of the same name left by a process that had this pid
    /// before is replaced; one of this very process (another registry) is
    /// not, and the error is `AlreadyExists`.
    pub fn create_file(
        path: &Path,
        layout: Layout,
        header: &Header,
        max_segments: u32,
    ) -> io::Result<Storage> {
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let dir = crate::folder::open_shared(dir)?;
        let name = path.file_name().ok_or(io::ErrorKind::InvalidInput)?;
        let file = match open_new(&dir, name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !is_ours(&dir, name, header) => {
                remove_at(&dir, name)?;
                open_new(&dir, name)?
            }
            other => other?,
        };
        file.set_len(layout.file_len(1))?;
        let shared = Reservation::empty(span(layout, max_segments))?;
        shared.map_file(0, layout.block_size as usize, &file, layout.block_offset(0))?;
        let mut storage = Storage::new(
            layout,
            header,
            max_segments,
            Some(path.to_owned()),
            segment(Some(file), layout, header)?,
            shared,
        );
        storage.dir = Some(dir);
        Ok(storage)
    }

    /// Memory no other process sees, laid out like a file.
    pub fn anonymous(layout: Layout, header: &Header, max_segments: u32) -> io::Result<Storage> {
        Ok(Storage::new(
            layout,
            header,
            max_segments,
            None,
            segment(None, layout, header)?,
            Reservation::zeroed(span(layout, max_segments))?,
        ))
    }

    fn new(
        layout: Layout,
        header: &Header,
        max_segments: u32,
        path: Option<PathBuf>,
        main: Segment,
        shared: Reservation,
    ) -> Storage {
        Storage {
            layout,
            header: header.clone(),
            max_segments,
            path,
            dir: None,
            segments: Mutex::new(vec![main]),
            shared,
            blocks: Mutex::default(),
        }
    }

    /// The file's path, when there is a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Segments the chain may have.
    pub fn max_segments(&self) -> u32 {
        self.max_segments
    }

    /// Stores `value` into the u32 header field at byte `offset` of
    /// segment `index` (release: what it counts is written before).
    pub fn publish(&self, index: u32, offset: usize, value: u32) {
        let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        segments[index as usize]
            .header_u32(offset)
            .store(value, Release);
    }

    /// Sets or clears a bit of the main file's `flags` (a `u16` that shares
    /// its word with `entry_size`, which never changes), atomically, so a
    /// reader's copy has the bit or not, never a torn word.
    pub fn set_flag(&self, flag: u16, on: bool) {
        use statkit_format::layout::header;
        let word = header::FLAGS - header::FLAGS % 4;
        let mut bytes = [0u8; 4];
        let at = header::FLAGS % 4;
        bytes[at..at + 2].copy_from_slice(&flag.to_ne_bytes());
        let mask = u32::from_ne_bytes(bytes);
        let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let cell = segments[0].header_u32(word);
        if on {
            cell.fetch_or(mask, Release);
        } else {
            cell.fetch_and(!mask, Release);
        }
    }

    /// Copies an entry's bytes into segment `index`'s table. The caller
    /// holds the registry lock and publishes the entry count afterwards.
    pub fn write_entry(&self, index: u32, entry: u32, bytes: &[u8]) {
        debug_assert!(entry < self.layout.capacity);
        self.write_head(index, Layout::entry_offset(entry) as usize, bytes);
    }

    /// Copies a description's record to byte `at` of the main file's
    /// descriptions section. The caller holds the registry lock, checked
    /// that it fits the section, and publishes the bytes used afterwards.
    pub fn write_description(&self, at: u32, bytes: &[u8]) {
        debug_assert!(at as usize + bytes.len() <= self.layout.descriptions as usize);
        let offset = self.layout.descriptions_offset() as usize + at as usize;
        self.write_head(0, offset, bytes);
    }

    /// Copies `bytes` to byte `at` of segment `index`'s head.
    fn write_head(&self, index: u32, at: usize, bytes: &[u8]) {
        let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let head = &segments[index as usize].head;
        if at
            .checked_add(bytes.len())
            .is_none_or(|end| end > head.len())
        {
            debug_assert!(false, "a head write out of range at {at}");
            return;
        }
        // SAFETY: within the head mapping (checked above); no reader looks
        // past the published counts.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), head.as_mut_ptr().add(at), bytes.len())
        };
    }

    /// Block 0's first word.
    #[inline(always)]
    pub fn shared_block(&self) -> *mut u64 {
        self.shared.base()
    }

    /// Thread block `index` (1-based, as [`Storage::add_block`] returned).
    pub fn thread_block(&self, index: u32) -> *mut u64 {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks[index as usize - 1].base()
    }

    /// Grows every file of the chain by one block, maps the new block of
    /// each into one reservation, publishes the block count in every
    /// header and returns the block's index.
    pub fn add_block(&self) -> io::Result<u32> {
        let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let index = blocks.len() as u32 + 1;
        let span = span(self.layout, self.max_segments);
        let reservation = match &self.path {
            Some(_) => Reservation::empty(span)?,
            None => Reservation::zeroed(span)?,
        };
        for (k, segment) in segments.iter().enumerate() {
            if let Some(file) = &segment.file {
                file.set_len(self.layout.file_len(index + 1))?;
                self.map_block(&reservation, k, file, index)?;
            }
        }
        blocks.push(reservation);
        for segment in segments.iter() {
            segment.header_u32(field::BLOCKS).store(index + 1, Release);
        }
        Ok(index)
    }

    /// Adds continuation `k` (the next segment), with as many blocks as
    /// the chain has, maps its blocks after the others' and publishes it in
    /// the main header; returns `k`.
    pub fn add_segment(&self) -> io::Result<u32> {
        let mut segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let k = segments.len() as u32;
        if k >= self.max_segments {
            return Err(io::Error::other("the chain is at its last segment"));
        }
        let header = Header {
            segment: k,
            blocks: blocks.len() as u32 + 1,
            ..self.header.clone()
        };
        let added = match &self.path {
            Some(main) => {
                let path = continuation(main, k);
                let made = self.continuation_file(&path, &blocks, &header);
                if made.is_err() {
                    let _ = std::fs::remove_file(&path);
                }
                made?
            }
            None => segment(None, self.layout, &header)?,
        };
        added.header_u32(field::STATE).store(STATE_READY, Release);
        segments.push(added);
        segments[0].header_u32(field::SEGMENTS).store(k, Release);
        Ok(k)
    }

    /// Creates continuation file `path` (replacing one a process that had
    /// this pid before left) and maps its blocks into the reservations.
    fn continuation_file(
        &self,
        path: &Path,
        blocks: &[Reservation],
        header: &Header,
    ) -> io::Result<Segment> {
        let (Some(dir), Some(name)) = (&self.dir, path.file_name()) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let file = match open_new(dir, name) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                remove_at(dir, name)?;
                open_new(dir, name)?
            }
            other => other?,
        };
        file.set_len(self.layout.file_len(header.blocks))?;
        let k = header.segment as usize;
        self.map_block(&self.shared, k, &file, 0)?;
        for (index, reservation) in (1..).zip(blocks) {
            self.map_block(reservation, k, &file, index)?;
        }
        segment(Some(file), self.layout, header)
    }

    /// Maps block `index` of segment `k`'s `file` into its place in
    /// `reservation`.
    fn map_block(
        &self,
        reservation: &Reservation,
        k: usize,
        file: &File,
        index: u32,
    ) -> io::Result<()> {
        let size = self.layout.block_size as usize;
        reservation.map_file(k * size, size, file, self.layout.block_offset(index))
    }

    /// Removes the files (on normal exit); the mappings stay valid.
    pub fn remove_file(&self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
            let segments = self.segments.lock().unwrap_or_else(|e| e.into_inner());
            for k in 1..segments.len() as u32 {
                let _ = std::fs::remove_file(continuation(path, k));
            }
        }
    }
}

/// Bytes of address space a block and its continuations take.
fn span(layout: Layout, max_segments: u32) -> usize {
    layout.block_size as usize * max_segments as usize
}

/// Maps a segment's head (header and entry table) from `file`, or
/// anonymous memory, and writes `header` into it.
fn segment(file: Option<File>, layout: Layout, header: &Header) -> io::Result<Segment> {
    let len = layout.blocks_offset() as usize;
    let head = match &file {
        Some(file) => MmapOptions::new().len(len).map_raw(file)?,
        None => MmapRaw::from(MmapOptions::new().len(len).map_anon()?),
    };
    let bytes = header.encode();
    // SAFETY: the head mapping is at least a header long, and nobody
    // reads a header whose state is not yet ready.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), head.as_mut_ptr(), bytes.len()) };
    Ok(Segment { file, head })
}

/// Whether the file `name` of `dir` was written by this process (same pid
/// and start time as `ours`). Opened as readers open shared files: not
/// through a link, never waiting on a FIFO, a regular file only.
fn is_ours(dir: &OwnedFd, name: &OsStr, ours: &Header) -> bool {
    let mut head = [0u8; statkit_format::layout::HEADER_SIZE as usize];
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    let read = open_at(dir, name, flags, 0).and_then(|file| {
        if !file.metadata()?.is_file() {
            return Err(io::ErrorKind::InvalidData.into());
        }
        io::Read::read_exact(&mut &file, &mut head)
    });
    match read.ok().and_then(|()| Header::decode(&head).ok()) {
        Some((theirs, _)) => theirs.pid == ours.pid && theirs.start_time == ours.start_time,
        None => false,
    }
}

/// Creates `name` in `dir` for reading and writing, mode 0600; fails with
/// `AlreadyExists` on anything already there, a link included.
fn open_new(dir: &OwnedFd, name: &OsStr) -> io::Result<File> {
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    open_at(dir, name, flags, 0o600)
}

fn open_at(
    dir: &OwnedFd,
    name: &OsStr,
    flags: libc::c_int,
    mode: libc::c_uint,
) -> io::Result<File> {
    let c = c_name(name)?;
    // SAFETY: a valid name relative to a folder descriptor we own.
    match unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, mode) } {
        // SAFETY: just opened, owned by the `File` from here on.
        fd if fd >= 0 => Ok(unsafe { File::from_raw_fd(fd) }),
        _ => Err(io::Error::last_os_error()),
    }
}

/// Removes `name` from `dir` (a link itself, never its target).
fn remove_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: a valid name relative to a folder descriptor we own.
    match unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
}
