//! Where samples come from: datagram sockets (UDP, Unix) on threads of
//! their own, TCP connections on the async runtime, and the shared-memory
//! stats folder and statvent's pipe folder on a thread that scans them.
//! Each source fills its own [`Intake`](crate::pipeline::Intake).

pub(crate) mod datagram;
pub(crate) mod files;
pub(crate) mod files_help;
pub(crate) mod kernel;
pub(crate) mod pipes;
pub(crate) mod settings;
pub(crate) mod tcp;

use std::sync::atomic::{AtomicU64, Ordering};

/// What the sources lost that the tables never saw: datagrams the kernel
/// dropped and TCP connections refused.
#[derive(Debug, Default)]
pub(crate) struct SourceCounts {
    /// Inodes of the UDP sockets, for the kernel's drop counts.
    udp_inodes: Vec<u64>,
    /// TCP connections refused past the connection limit.
    tcp_refused: AtomicU64,
    /// Stats files skipped for a reader's limit (each once while it stays).
    files_refused: AtomicU64,
    /// The help texts and units the scanner found, for `/metrics`: shared
    /// here because the scanner and the HTTP face both hold these counts.
    pub(crate) described: files_help::Described,
}

impl SourceCounts {
    pub(crate) fn new(udp_inodes: Vec<u64>) -> Self {
        Self {
            udp_inodes,
            tcp_refused: AtomicU64::new(0),
            files_refused: AtomicU64::new(0),
            described: files_help::Described::default(),
        }
    }

    /// Datagrams the kernel dropped on the UDP sockets since they opened,
    /// or `None` where the kernel does not tell.
    pub(crate) fn kernel_drops(&self) -> Option<u64> {
        kernel::drops(&self.udp_inodes)
    }

    pub(crate) fn tcp_refused(&self) -> u64 {
        self.tcp_refused.load(Ordering::Relaxed)
    }

    pub(crate) fn refuse_tcp(&self) {
        self.tcp_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn files_refused(&self) -> u64 {
        self.files_refused.load(Ordering::Relaxed)
    }

    pub(crate) fn refuse_file(&self) {
        self.files_refused.fetch_add(1, Ordering::Relaxed);
    }
}
