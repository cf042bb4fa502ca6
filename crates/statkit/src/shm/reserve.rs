//! Address space set aside for one block and its continuations.
//!
//! A thread finds its cells as `base + slot`, whatever segment of the chain
//! a metric landed in: segment `k`'s part of the block is mapped at
//! `base + k * block_size` inside one reservation. Adding a segment maps
//! new pages into space nobody uses yet, so the base a writer cached never
//! changes and the write path needs no lookup.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr;

/// A range of address space, unmapped as a whole on drop.
#[derive(Debug)]
pub(super) struct Reservation {
    base: *mut u8,
    len: usize,
}

// SAFETY: the range is plain memory; the cells in it are used through
// atomics and the mapping calls are serialized by the storage's locks.
unsafe impl Send for Reservation {}
unsafe impl Sync for Reservation {}

impl Reservation {
    /// `len` bytes no page backs yet (touching them faults), for
    /// [`Reservation::map_file`] to fill.
    pub fn empty(len: usize) -> io::Result<Reservation> {
        Reservation::anonymous(len, libc::PROT_NONE)
    }

    /// `len` bytes of private zeroed memory, a page made on first touch.
    pub fn zeroed(len: usize) -> io::Result<Reservation> {
        Reservation::anonymous(len, libc::PROT_READ | libc::PROT_WRITE)
    }

    fn anonymous(len: usize, protection: libc::c_int) -> io::Result<Reservation> {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a new anonymous mapping at an address the kernel picks.
        let base = unsafe { libc::mmap(ptr::null_mut(), len, protection, flags, -1, 0) };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Reservation {
            base: base.cast(),
            len,
        })
    }

    /// Maps `len` bytes of `file` from `offset` (page-aligned) shared at
    /// byte `at` (page-aligned) of the range.
    pub fn map_file(&self, at: usize, len: usize, file: &File, offset: u64) -> io::Result<()> {
        let fits = at.checked_add(len).is_some_and(|end| end <= self.len);
        let offset = libc::off_t::try_from(offset).ok().filter(|_| fits);
        let offset = offset.ok_or_else(|| io::Error::other("mapping outside the reservation"))?;
        let flags = libc::MAP_SHARED | libc::MAP_FIXED;
        let protection = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: `at..at + len` lies inside this reservation, which only
        // this storage uses; MAP_FIXED replaces pages nobody has touched
        // (the unused, inaccessible part of the range).
        let mapped = unsafe {
            libc::mmap(
                self.base.add(at).cast(),
                len,
                protection,
                flags,
                file.as_raw_fd(),
                offset,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The range's first word.
    pub fn base(&self) -> *mut u64 {
        self.base.cast()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the range this reservation mapped, pieces included; no
        // pointer into it outlives the storage that owns it.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}
