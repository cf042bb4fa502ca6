//! The families Prometheus users expect of any server:
//! `statkit_build_info` and the client libraries' `process_*`.

use super::write::line;
use super::Format;

/// What the process reads of itself; each `None` is left out.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcessStats {
    /// User and system CPU time, seconds.
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    /// Unix seconds the process started.
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<f64>,
    /// The soft limit of open files.
    pub max_fds: Option<f64>,
}

/// Writes `statkit_build_info{version=...} 1` and the `process_*`
/// families, then `# EOF` for OpenMetrics (so this ends an exposition).
pub fn process(out: &mut String, format: Format, version: &str, stats: &ProcessStats) {
    family(
        out,
        "statkit_build_info",
        "gauge",
        "statkit's version, as a label",
    );
    line(
        out,
        "statkit_build_info",
        "",
        &format!("{{version=\"{version}\"}}"),
        1.0,
    );
    let (cpu_family, cpu_help) = match format {
        Format::Text => (
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        ),
        Format::OpenMetrics => (
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
        ),
    };
    let families = [
        (
            cpu_family,
            "counter",
            cpu_help,
            stats.cpu_seconds,
            "process_cpu_seconds_total",
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            stats.open_fds,
            "process_open_fds",
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            stats.max_fds,
            "process_max_fds",
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            stats.virtual_bytes,
            "process_virtual_memory_bytes",
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            stats.resident_bytes,
            "process_resident_memory_bytes",
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            stats.start_time_seconds,
            "process_start_time_seconds",
        ),
    ];
    for (name, kind, help, value, sample) in families {
        if let Some(value) = value {
            family(out, name, kind, help);
            line(out, sample, "", "", value);
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    for (part, text) in [("# HELP ", help), ("# TYPE ", kind)] {
        out.push_str(part);
        out.push_str(name);
        out.push(' ');
        out.push_str(text);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_as_the_client_libraries_name_them() {
        let stats = ProcessStats {
            cpu_seconds: Some(1.5),
            resident_bytes: Some(4096.0),
            start_time_seconds: Some(1_700_000_000.0),
            ..ProcessStats::default()
        };
        let mut text = String::new();
        process(&mut text, Format::Text, "1.2.3", &stats);
        assert!(text.starts_with("# HELP statkit_build_info statkit's version, as a label\n# TYPE statkit_build_info gauge\nstatkit_build_info{version=\"1.2.3\"} 1\n"), "{text}");
        assert!(
            text.contains(
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("process_resident_memory_bytes 4096\n"),
            "{text}"
        );
        assert!(
            text.contains("process_start_time_seconds 1700000000\n"),
            "{text}"
        );
        assert!(!text.contains("process_open_fds"), "{text}");
        let mut om = String::new();
        process(&mut om, Format::OpenMetrics, "1.2.3", &stats);
        assert!(
            om.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 1.5\n"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"));
    }
}
