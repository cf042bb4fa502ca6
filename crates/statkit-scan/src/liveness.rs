//! Whether a file's writer still runs.
//!
//! A statkit file names its process by pid and start time: the process is
//! alive when `/proc/<pid>/stat` exists and shows the same start time, so
//! a pid reused by a later process does not keep a dead file alive. mmstats
//! files have only a pid (their last `*sys.pid` field), checked with
//! `kill(pid, 0)`. Pids are those of the reader's pid namespace.

use statkit_format::StatFile;

/// What is known about a file's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The writer runs.
    Alive,
    /// The writer is gone (or its pid now belongs to another process).
    Dead,
    /// The file holds retired totals; it has no writer.
    Retired,
    /// The file names no pid (an mmstats file without `sys.pid`).
    Unknown,
}

/// The liveness of `file`'s writer.
pub fn liveness(file: &StatFile) -> Liveness {
    match (&file.identity, file.pid) {
        (Some(identity), _) if identity.retired => Liveness::Retired,
        (Some(identity), _) => statkit_process(identity.pid, identity.start_time),
        (None, Some(pid)) => mmstats_process(pid),
        (None, None) => Liveness::Unknown,
    }
}

fn statkit_process(pid: u32, start_time: u64) -> Liveness {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Liveness::Dead;
    };
    match statkit_format::naming::parse_start_time(&stat) {
        // 0: the writer could not read its own start time.
        Some(started) if start_time != 0 && started != start_time => Liveness::Dead,
        _ => Liveness::Alive,
    }
}

fn mmstats_process(pid: u32) -> Liveness {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Liveness::Dead;
    };
    if pid <= 0 {
        return Liveness::Dead;
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return Liveness::Alive;
    }
    match std::io::Error::last_os_error().raw_os_error() {
        // Another user's process: it exists.
        Some(libc::EPERM) => Liveness::Alive,
        _ => Liveness::Dead,
    }
}
