//! The server reading its own `process_*` values from `/proc`, as the
//! Prometheus client libraries do; a value it cannot read is left out.

use statkit_encode::prometheus::ProcessStats;

/// The process' values now; `start` is when it started (Unix seconds).
pub(crate) fn read(start: f64) -> ProcessStats {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as f64);
    ProcessStats {
        cpu_seconds: cpu_seconds(&stat, clock_ticks()),
        resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024.0),
        virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024.0),
        start_time_seconds: Some(start),
        open_fds,
        max_fds: max_open_files(&limits),
    }
}

/// Clock ticks per second, the unit of `/proc`'s CPU times.
fn clock_ticks() -> Option<f64> {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then_some(ticks as f64)
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
fn cpu_seconds(stat: &str, ticks: Option<f64>) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields are counted
    // after its closing parenthesis, where field 3 (state) comes first.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / ticks?)
}

/// A `Name:  123 kB` line of `/proc/<pid>/status`, in KiB.
fn status_kib(status: &str, name: &str) -> Option<f64> {
    let line = status.lines().find_map(|l| l.strip_prefix(name))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The soft limit of `Max open files` in `/proc/<pid>/limits`.
fn max_open_files(limits: &str) -> Option<f64> {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    line.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_procs_formats() {
        let stat = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 30 20 0 0 20 0";
        assert_eq!(cpu_seconds(stat, Some(100.0)), Some(0.5));
        assert_eq!(cpu_seconds("garbage", Some(100.0)), None);
        let status = "Name:\tstatkit\nVmSize:\t  3892 kB\nVmRSS:\t  2176 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(2176.0));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\n";
        assert_eq!(max_open_files(limits), Some(1024.0));
    }

    #[test]
    fn reads_this_process() {
        let stats = read(1.0);
        assert!(stats.resident_bytes.is_some_and(|b| b > 0.0));
        assert!(stats.open_fds.is_some_and(|n| n >= 1.0));
        assert!(stats.max_fds.is_some());
        assert!(stats.cpu_seconds.is_some());
    }
}
