//! The memory the cells live in: a file on tmpfs mapped shared, or
//! anonymous memory when publishing is off or failed.
//!
//! The head mapping covers the header, the entry table and block 0; each
//! thread block is mapped on its own when a thread first needs one, after
//! the file has grown by one block. Mappings are never moved or unmapped
//! while the storage lives, so a pointer a thread keeps to its block stays
//! valid: growing never stops a writer.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::Mutex;

use memmap2::{MmapMut, MmapOptions, MmapRaw};
use statkit_format::layout::{Header, Layout};

/// One mapping, kept alive for its pointer.
#[derive(Debug)]
enum Mapping {
    File(MmapRaw),
    Anonymous(MmapMut),
}

impl Mapping {
    fn ptr(&self) -> *mut u8 {
        match self {
            Mapping::File(map) => map.as_mut_ptr(),
            Mapping::Anonymous(map) => map.as_ptr().cast_mut(),
        }
    }
}

/// Where the cells live.
#[derive(Debug)]
pub(super) struct Storage {
    layout: Layout,
    file: Option<(File, PathBuf)>,
    head: Mapping,
    /// Thread blocks 1.., in order; only ever appended to.
    blocks: Mutex<Vec<Mapping>>,
}

// SAFETY: the raw mappings are plain shared memory; all access to it goes
// through atomics (cells, header counters) or happens under the registry's
// lock before an entry is published (entry bytes).
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    /// Creates the file at `path` (mode 0600, replacing a stale file of
    /// the same name), writes `header` and maps it.
    pub fn create_file(path: &Path, layout: Layout, header: &Header) -> io::Result<Storage> {
        if let Some(dir) = path.parent() {
            ensure_dir(dir)?;
        }
        let file = match open_new(path) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A previous process with this pid left it behind.
                std::fs::remove_file(path)?;
                open_new(path)?
            }
            other => other?,
        };
        file.set_len(layout.file_len(1))?;
        let head = MmapOptions::new()
            .len(layout.file_len(1) as usize)
            .map_raw(&file)?;
        let storage = Storage {
            layout,
            file: Some((file, path.to_owned())),
            head: Mapping::File(head),
            blocks: Mutex::default(),
        };
        storage.write_header(header);
        Ok(storage)
    }

    /// Memory no other process sees, laid out like a file.
    pub fn anonymous(layout: Layout, header: &Header) -> io::Result<Storage> {
        let head = MmapOptions::new()
            .len(layout.file_len(1) as usize)
            .map_anon()?;
        let storage = Storage {
            layout,
            file: None,
            head: Mapping::Anonymous(head),
            blocks: Mutex::default(),
        };
        storage.write_header(header);
        Ok(storage)
    }

    fn write_header(&self, header: &Header) {
        let bytes = header.encode();
        // SAFETY: the head mapping is at least a header long, and nobody
        // reads a header whose state is not yet ready.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.head.ptr(), bytes.len()) };
    }

    /// The file's path, when there is a file.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(_, path)| path.as_path())
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The u32 header field at byte `offset` (4-aligned).
    pub fn header_u32(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset % 4 == 0 && offset < 128);
        // SAFETY: in bounds of the head mapping, aligned, and only ever
        // accessed atomically.
        unsafe { &*self.head.ptr().add(offset).cast::<AtomicU32>() }
    }

    /// Copies an entry's bytes into the table. The caller holds the
    /// registry lock and publishes the entry count afterwards.
    pub fn write_entry(&self, index: u32, bytes: &[u8]) {
        debug_assert!(index < self.layout.capacity);
        let at = Layout::entry_offset(index) as usize;
        // SAFETY: `index` is below the capacity the head mapping was sized
        // for; no reader looks at entries past the published count.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.head.ptr().add(at), bytes.len())
        };
    }

    /// Block 0's first word.
    pub fn shared_block(&self) -> *mut u64 {
        // SAFETY: block 0 ends the head mapping.
        unsafe {
            self.head
                .ptr()
                .add(self.layout.blocks_offset() as usize)
                .cast()
        }
    }

    /// Thread block `index` (1-based, as [`Storage::add_block`] returned).
    pub fn thread_block(&self, index: u32) -> *mut u64 {
        let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        blocks[index as usize - 1].ptr().cast()
    }

    /// Grows the file by one block, maps it and returns its index; the
    /// caller publishes the new block count.
    pub fn add_block(&self) -> io::Result<u32> {
        let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
        let index = blocks.len() as u32 + 1;
        let offset = self.layout.block_offset(index);
        let len = self.layout.block_size as usize;
        let mapping = match &self.file {
            Some((file, _)) => {
                file.set_len(self.layout.file_len(index + 1))?;
                Mapping::File(MmapOptions::new().offset(offset).len(len).map_raw(file)?)
            }
            None => Mapping::Anonymous(MmapOptions::new().len(len).map_anon()?),
        };
        blocks.push(mapping);
        Ok(index)
    }

    /// Removes the file (on normal exit); the mappings stay valid.
    pub fn remove_file(&self) {
        if let Some((_, path)) = &self.file {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn open_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Creates the stats folder, world-writable with the sticky bit like
/// `/tmp`, so every user's processes can publish into it and none can
/// remove another's file.
fn ensure_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    match DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
