//! The receive loop for datagram sockets (UDP and Unix), one thread each.
//!
//! Each loop pulls up to [`BATCH`] datagrams per `recvmmsg(2)` call and
//! parses them straight out of its receive buffers into the table it owns,
//! locking that table once per batch. The lock is uncontended except for
//! the moment the flusher drains the table.
//!
//! Under steady traffic a receiver naps after it has read all that was
//! waiting ([`Coalesce`]), so that it wakes once for many datagrams rather
//! than once for each: a wake-up costs more than parsing a datagram (on a
//! virtual machine, each one can also cost the caches), and the lines read
//! together share warm caches. The nap is as long as the socket's buffer
//! can safely hold at the rate traffic arrives, up to `receive_coalesce_ms`.
//! A datagram after a quiet spell is still read at once.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use statkit_agg::Table;

use crate::pipeline::Intake;

/// Datagrams per `recvmmsg` call. Gains flatten past 8-16; 32 keeps the
/// syscall count low under bursts without much memory.
pub(crate) const BATCH: usize = 32;

/// What the kernel charges a datagram's buffer beyond its payload, rounded
/// up: 20 payload bytes cost 832 on Linux's loopback, 1,400 cost 2,304.
const BUFFER_OVERHEAD: usize = 1024;

/// The share of the socket's receive buffer a nap may expect to fill: the
/// rest absorbs a rate that quadruples while the receiver sleeps.
const BUFFER_SHARE: usize = 4;

/// Naps shorter than this are not worth a sleep's wake-up.
const MIN_NAP: Duration = Duration::from_micros(200);

/// Receives on `socket` into `intake` until `stop` is set, then drains
/// what the kernel still holds for the socket before returning.
pub(crate) fn receive(
    socket: &(impl AsRawFd + ?Sized),
    intake: &Intake,
    stop: &AtomicBool,
    max_datagram: usize,
    coalesce: Duration,
) {
    let mut batch = Batch::new(max_datagram);
    let fd = socket.as_raw_fd();
    let mut pace = Coalesce::new(coalesce, receive_buffer(fd));
    while !stop.load(Ordering::Relaxed) {
        match batch.receive(fd, libc::MSG_WAITFORONE) {
            Ok(n) => {
                let bytes = intake.fill(|table| batch.ingest(n, table));
                if let Some(nap) = pace.after_batch(n, bytes, Instant::now()) {
                    std::thread::sleep(nap);
                }
            }
            Err(e) if is_transient(&e) => {}
            Err(e) => {
                tracing::error!("receive failed, retrying: {e}");
                std::thread::sleep(crate::listeners::RECEIVE_TIMEOUT);
            }
        }
    }
    // Shutdown: what arrived before the stop is still counted. Bounded, in
    // case a sender keeps the socket full.
    for _ in 0..4096 {
        match batch.receive(fd, libc::MSG_DONTWAIT) {
            Ok(n) => {
                intake.fill(|table| batch.ingest(n, table));
            }
            Err(_) => break,
        }
    }
}

/// The socket's receive buffer as the kernel grants it (`SO_RCVBUF` reads
/// back the doubled size it compares queued datagrams against).
fn receive_buffer(fd: RawFd) -> usize {
    let mut size: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `size` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut size as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    // Linux's smallest buffer, if the socket will not say.
    if rc == 0 && size > 0 {
        size as usize
    } else {
        4608
    }
}

/// When to nap between reads, and for how long.
///
/// A batch that filled means more is waiting: read again at once. After a
/// batch that did not fill, everything waiting has been read; if the
/// previous such moment came less than two `max_nap`s earlier, traffic is
/// steady and the receiver naps. The nap lasts as long as the traffic of the
/// last cycle, at its rate, would take to fill a quarter of the socket's
/// buffer, and at most `max_nap`: slow traffic waits the longest and is read
/// in the fewest wake-ups, fast traffic is read before the buffer fills.
#[derive(Debug)]
struct Coalesce {
    max_nap: Duration,
    /// Buffer bytes a nap may expect to fill.
    budget: f64,
    /// The end of the previous cycle (a batch that did not fill).
    last: Option<Instant>,
    /// Buffer bytes read since then, in batches that filled.
    pending: usize,
}

impl Coalesce {
    fn new(max_nap: Duration, receive_buffer: usize) -> Self {
        Self {
            max_nap,
            budget: (receive_buffer / BUFFER_SHARE) as f64,
            last: None,
            pending: 0,
        }
    }

    /// Notes a batch of `n` datagrams, worth `bytes` of the socket's buffer,
    /// read at `now`; returns how long to wait before the next read, if at all.
    fn after_batch(&mut self, n: usize, bytes: usize, now: Instant) -> Option<Duration> {
        if n >= BATCH {
            self.pending += bytes;
            return None;
        }
        let bytes = std::mem::take(&mut self.pending) + bytes;
        let cycle = self.last.map(|last| now.saturating_duration_since(last));
        self.last = Some(now);
        let cycle = cycle.filter(|c| *c < self.max_nap * 2)?;
        let rate = bytes as f64 / cycle.as_secs_f64().max(1e-6);
        let nap = self
            .max_nap
            .min(Duration::from_secs_f64(self.budget / rate));
        (nap >= MIN_NAP).then_some(nap)
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

    /// Aggregates the `n` datagrams received; returns what they held of the
    /// socket's buffer, estimated.
    fn ingest(&self, n: usize, table: &mut Table) -> usize {
        let mut buffered = 0;
        for (i, header) in self.headers[..n].iter().enumerate() {
            let len = (header.msg_len as usize).min(self.size);
            buffered += len + BUFFER_OVERHEAD;
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
        buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A buffer whose quarter holds 100 datagrams of 1,000 bytes (as
    /// [`Batch::ingest`] counts them).
    const BUFFER: usize = 4 * 100 * (1000 + BUFFER_OVERHEAD);
    const DATAGRAM: usize = 1000 + BUFFER_OVERHEAD;

    #[test]
    fn a_datagram_after_a_quiet_spell_is_read_at_once() {
        let mut pace = Coalesce::new(50 * MS, BUFFER);
        let start = Instant::now();
        assert_eq!(pace.after_batch(1, DATAGRAM, start), None);
        assert_eq!(pace.after_batch(1, DATAGRAM, start + 200 * MS), None);
    }

    #[test]
    fn slow_steady_traffic_naps_the_longest() {
        let mut pace = Coalesce::new(50 * MS, BUFFER);
        let start = Instant::now();
        pace.after_batch(1, DATAGRAM, start);
        // 3 datagrams in 10 ms: 100 would take 333 ms, more than the cap.
        assert_eq!(
            pace.after_batch(3, 3 * DATAGRAM, start + 10 * MS),
            Some(50 * MS)
        );
    }

    #[test]
    fn fast_traffic_naps_only_until_a_quarter_of_the_buffer_fills() {
        let mut pace = Coalesce::new(50 * MS, BUFFER);
        let start = Instant::now();
        pace.after_batch(1, DATAGRAM, start);
        // Two full batches and 16 more in 2 ms: 40 datagrams a millisecond,
        // so 100 arrive in 2.5 ms.
        assert_eq!(pace.after_batch(BATCH, BATCH * DATAGRAM, start + MS), None);
        assert_eq!(pace.after_batch(BATCH, BATCH * DATAGRAM, start + MS), None);
        let nap = pace.after_batch(16, 16 * DATAGRAM, start + 2 * MS).unwrap();
        assert!((nap.as_secs_f64() - 0.0025).abs() < 1e-6, "{nap:?}");
    }

    #[test]
    fn a_nap_too_short_to_matter_is_skipped() {
        let mut pace = Coalesce::new(50 * MS, 4 * DATAGRAM);
        let start = Instant::now();
        pace.after_batch(1, DATAGRAM, start);
        // One datagram's worth of buffer, at 10 a millisecond: 100 us.
        assert_eq!(pace.after_batch(10, 10 * DATAGRAM, start + MS), None);
    }

    #[test]
    fn a_zero_cap_never_naps() {
        let mut pace = Coalesce::new(Duration::ZERO, BUFFER);
        let start = Instant::now();
        pace.after_batch(1, DATAGRAM, start);
        assert_eq!(pace.after_batch(1, DATAGRAM, start), None);
    }
}
