//! The system calls std does not wrap: `sendmmsg`, `recvmmsg`, and a
//! signal flag. All of this crate's `unsafe` is here.
//!
//! Moving many datagrams per system call is what lets one sender thread
//! outrun a server (and the null server keep up with one) on a two-core
//! machine; per-datagram syscalls cap out near 200k datagrams/s here.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// Sends `payloads` as separate datagrams on a connected UDP socket in one
/// `sendmmsg` call. Returns how many were sent (from the front); the first
/// one not sent is the one that failed, if the caller tries it again alone.
pub fn send_many(socket: &impl AsRawFd, payloads: &[&[u8]]) -> io::Result<usize> {
    if payloads.is_empty() {
        return Ok(0);
    }
    let mut iovecs: Vec<libc::iovec> = payloads
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    let mut headers: Vec<libc::mmsghdr> = iovecs
        .iter_mut()
        .map(|iov| {
            // SAFETY: mmsghdr is a plain C struct for which all-zero bytes is
            // a valid value (null name, no control data, no flags).
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect();
    let count = libc::c_uint::try_from(headers.len()).unwrap_or(libc::c_uint::MAX);
    loop {
        // SAFETY: `headers` holds `count` initialised mmsghdr values whose
        // iovecs point into `payloads`, which outlive this call; the kernel
        // only reads those buffers and writes `msg_len` into `headers`.
        let sent = unsafe { libc::sendmmsg(fd(socket), headers.as_mut_ptr(), count, 0) };
        if sent >= 0 {
            return Ok(sent as usize);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Buffers for receiving up to `batch` datagrams per `recvmmsg` call.
///
/// The headers and iovecs are set up once: each points into a heap
/// allocation that is never resized, so they stay valid however the
/// `RecvBatch` moves, and a call costs the system call alone (refreshing 64
/// headers a call was a tenth of the null server's CPU).
#[derive(Debug)]
pub struct RecvBatch {
    buffers: Vec<Vec<u8>>,
    /// What the headers point at: owned here, read by the kernel only.
    _iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    lengths: Vec<usize>,
}

impl RecvBatch {
    /// Room for `batch` datagrams of up to `size` bytes each.
    pub fn new(batch: usize, size: usize) -> Self {
        let batch = batch.max(1);
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut buffers = vec![vec![0u8; size.max(1)]; batch];
        let mut iovecs = vec![empty; batch];
        // SAFETY: as in `send_many`, all-zero is a valid mmsghdr.
        let mut headers: Vec<libc::mmsghdr> =
            (0..batch).map(|_| unsafe { std::mem::zeroed() }).collect();
        for ((buffer, iov), header) in buffers.iter_mut().zip(&mut iovecs).zip(&mut headers) {
            iov.iov_base = buffer.as_mut_ptr() as *mut libc::c_void;
            iov.iov_len = buffer.len();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        Self {
            buffers,
            _iovecs: iovecs,
            headers,
            lengths: vec![0; batch],
        }
    }

    /// Waits for at least one datagram (or the socket's read timeout) and
    /// takes as many as are queued, up to the batch size. Returns how many;
    /// read them with [`RecvBatch::datagram`].
    pub fn recv(&mut self, socket: &impl AsRawFd) -> io::Result<usize> {
        let count = libc::c_uint::try_from(self.headers.len()).unwrap_or(libc::c_uint::MAX);
        // SAFETY: every header points at one iovec of `self._iovecs`
        // describing one buffer of `self.buffers` (set in `new`; neither
        // vector is ever resized, so the pointers are those of the live
        // allocations), all exclusively borrowed through `&mut self` for
        // this call; the kernel writes at most `iov_len` bytes into each
        // buffer, and `msg_len` and `msg_flags` into the headers. A null
        // timeout leaves blocking to the socket's SO_RCVTIMEO.
        let got = unsafe {
            libc::recvmmsg(
                fd(socket),
                self.headers.as_mut_ptr(),
                count,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = got as usize;
        for (length, header) in self.lengths.iter_mut().zip(&self.headers).take(got) {
            *length = header.msg_len as usize;
        }
        Ok(got)
    }

    /// Datagram `i` of the last [`RecvBatch::recv`].
    pub fn datagram(&self, i: usize) -> &[u8] {
        let len = self.lengths[i].min(self.buffers[i].len());
        &self.buffers[i][..len]
    }
}

fn fd(socket: &impl AsRawFd) -> RawFd {
    socket.as_raw_fd()
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGTERM and SIGINT set a flag instead of killing the process, so a
/// long-running mode (the null server) can print its totals and exit 0.
/// Blocking calls are interrupted (no `SA_RESTART`), so loops see the flag
/// at once.
pub fn stop_on_signals() -> io::Result<&'static AtomicBool> {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: sigaction is plain data; all-zero is a valid starting value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: `action.sa_mask` is a valid sigset_t owned by us.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; `action` is fully initialised.
        if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(&STOP)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn sends_and_receives_batches() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let payloads: [&[u8]; 3] = [b"a:1|c", b"b:2|c\nc:3|c", b"d:4|g"];
        assert_eq!(send_many(&tx, &payloads).unwrap(), 3);

        let mut batch = RecvBatch::new(8, 2048);
        let mut got = Vec::new();
        while got.len() < 3 {
            let n = batch.recv(&rx).unwrap();
            got.extend((0..n).map(|i| batch.datagram(i).to_vec()));
        }
        let expected: Vec<Vec<u8>> = payloads.iter().map(|p| p.to_vec()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn recv_times_out_when_nothing_arrives() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let error = RecvBatch::new(4, 64).recv(&rx).unwrap_err();
        assert!(matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
    }
}
