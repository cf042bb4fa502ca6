//! The receive loop for datagram sockets (UDP and Unix), one thread each.
//!
//! Each loop pulls up to [`BATCH`] datagrams per `recvmmsg(2)` call and
//! parses them straight out of its receive buffers into the table it owns,
//! locking that table once per batch. The lock is uncontended except for
//! the moment the flusher drains the table.
//!
//! Under steady traffic a receiver naps for a moment after a batch that did
//! not fill ([`Coalesce`]), so that it wakes once for several datagrams
//! rather than once for each: a wake-up costs more than parsing a datagram,
//! and the lines read together share warm caches. A datagram after a quiet
//! spell is still read at once.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use statkit_agg::Table;

use super::lock;

/// Datagrams per `recvmmsg` call. Gains flatten past 8-16; 32 keeps the
/// syscall count low under bursts without much memory.
pub(crate) const BATCH: usize = 32;

/// Receives on `socket` into `table` until `stop` is set, then drains what
/// the kernel still holds for the socket before returning.
pub(crate) fn receive(
    socket: &impl AsRawFd,
    table: &Mutex<Table>,
    stop: &AtomicBool,
    max_datagram: usize,
    coalesce: Duration,
) {
    let mut batch = Batch::new(max_datagram);
    let mut pace = Coalesce::new(coalesce);
    let fd = socket.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        match batch.receive(fd, libc::MSG_WAITFORONE) {
            Ok(n) => {
                batch.ingest(n, &mut lock(table));
                if let Some(nap) = pace.after_batch(n, Instant::now()) {
                    std::thread::sleep(nap);
                }
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => {
                tracing::error!("receive failed, retrying: {e}");
                std::thread::sleep(super::super::listeners::RECEIVE_TIMEOUT);
            }
        }
    }
    // Shutdown: what arrived before the stop is still counted. Bounded, in
    // case a sender keeps the socket full.
    for _ in 0..4096 {
        match batch.receive(fd, libc::MSG_DONTWAIT) {
            Ok(n) => batch.ingest(n, &mut lock(table)),
            Err(_) => break,
        }
    }
}

/// When to nap between reads: after a batch that did not fill, if the one
/// before it came less than two windows earlier (traffic is steady, so more
/// will come). A full batch means more is waiting: read again at once.
#[derive(Debug)]
struct Coalesce {
    window: Duration,
    last: Option<Instant>,
}

impl Coalesce {
    fn new(window: Duration) -> Self {
        Self { window, last: None }
    }

    /// Notes a batch of `n` datagrams read at `now`; returns how long to
    /// wait before the next read, if at all.
    fn after_batch(&mut self, n: usize, now: Instant) -> Option<Duration> {
        let steady = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.window * 2);
        self.last = Some(now);
        (n < BATCH && steady && !self.window.is_zero()).then_some(self.window)
    }
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Receive buffers and the `mmsghdr` array pointing into them.
struct Batch {
    buffers: Vec<u8>,
    size: usize,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new(size: usize) -> Self {
        let mut buffers = vec![0u8; size * BATCH];
        let iovecs: Vec<libc::iovec> = buffers
            .chunks_mut(size)
            .map(|chunk| libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: size,
            })
            .collect();
        let mut batch = Self {
            buffers,
            size,
            iovecs,
            headers: Vec::with_capacity(BATCH),
        };
        for i in 0..BATCH {
            // SAFETY: an all-zero msghdr is a valid "no name, no control" header.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = &mut batch.iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
            batch.headers.push(header);
        }
        batch
    }

    fn receive(&mut self, fd: RawFd, flags: libc::c_int) -> io::Result<usize> {
        // SAFETY: `headers` holds BATCH valid mmsghdr structs whose single
        // iovec points at a `size`-byte region of `buffers`; all outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn ingest(&self, n: usize, table: &mut Table) {
        for (i, header) in self.headers[..n].iter().enumerate() {
            let len = (header.msg_len as usize).min(self.size);
            let datagram = &self.buffers[i * self.size..i * self.size + len];
            if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                // Keep the whole lines; the cut one is lost and counted.
                table.note_oversized();
                let whole = datagram
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                table.ingest(&datagram[..whole]);
            } else {
                table.ingest(datagram);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_datagram_after_a_quiet_spell_is_read_at_once() {
        let mut pace = Coalesce::new(5 * MS);
        let start = Instant::now();
        assert_eq!(pace.after_batch(1, start), None);
        assert_eq!(pace.after_batch(1, start + 60 * MS), None);
    }

    #[test]
    fn steady_traffic_naps_between_partial_batches() {
        let mut pace = Coalesce::new(5 * MS);
        let start = Instant::now();
        pace.after_batch(1, start);
        assert_eq!(pace.after_batch(3, start + 2 * MS), Some(5 * MS));
        assert_eq!(pace.after_batch(6, start + 7 * MS), Some(5 * MS));
        // A full batch: more is waiting.
        assert_eq!(pace.after_batch(BATCH, start + 12 * MS), None);
    }

    #[test]
    fn a_zero_window_never_naps() {
        let mut pace = Coalesce::new(Duration::ZERO);
        let start = Instant::now();
        pace.after_batch(1, start);
        assert_eq!(pace.after_batch(1, start), None);
    }
}
