//! Where stats files live and what they are called, for writers and
//! readers alike. The callers read the environment; this only decides.

use std::ffi::OsString;
use std::path::PathBuf;

/// The folder stats files go to when `STATKIT_DIR` is not set: on tmpfs,
/// so a write never waits for a disk, and the same for every user so one
/// reader sees every process on the host.
pub const DEFAULT_DIR: &str = "/dev/shm/statkit";
/// The environment variable that overrides [`DEFAULT_DIR`].
pub const DIR_ENV: &str = "STATKIT_DIR";
/// File name extension of statkit stats files.
pub const EXTENSION: &str = "statkit";
/// File name extension of mmstats files.
pub const MMSTATS_EXTENSION: &str = "mmstats";
/// Suffix (before the extension) of a program's retired totals.
pub const RETIRED_SUFFIX: &str = ".retired";

/// The stats folder given the value of `STATKIT_DIR`: that value when set
/// and not empty, else [`DEFAULT_DIR`].
pub fn dir_from(env: Option<OsString>) -> PathBuf {
    env.filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
}

/// A program name with anything but `[A-Za-z0-9._-]` replaced by `_`, cut
/// to 48 characters, so it is one path component.
pub fn file_safe(program: &str) -> String {
    let safe: String = program
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match safe.as_str() {
        "" | "." | ".." => "statkit".into(),
        _ => safe,
    }
}

/// Continuation file `n` (1-based) of the stats file at `main`:
/// `<main>.<n>`, e.g. `web-4242.statkit.1`. The extra extension keeps it
/// out of every `*.statkit` glob: it is read only through its main file.
pub fn continuation(main: &std::path::Path, n: u32) -> PathBuf {
    let mut name = main.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// A process' file name: `<program>-<pid>.statkit`.
pub fn process_file(program: &str, pid: u32) -> String {
    format!("{}-{pid}.{EXTENSION}", file_safe(program))
}

/// A program's retired totals: `<program>.retired.statkit`.
pub fn retired_file(program: &str) -> String {
    format!("{}{RETIRED_SUFFIX}.{EXTENSION}", file_safe(program))
}

/// Field 22 (start time in clock ticks after boot) of a `/proc/<pid>/stat`
/// line. The command name (field 2) may hold spaces and parentheses, so
/// counting starts after its last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_command_names() {
        let stat = "77 (a (b) c) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 2 3";
        assert_eq!(parse_start_time(stat), Some(98765));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn the_environment_overrides_the_default_folder() {
        assert_eq!(dir_from(None), PathBuf::from(DEFAULT_DIR));
        assert_eq!(dir_from(Some("".into())), PathBuf::from(DEFAULT_DIR));
        assert_eq!(dir_from(Some("/run/x".into())), PathBuf::from("/run/x"));
    }

    #[test]
    fn program_names_become_one_path_component() {
        assert_eq!(file_safe("web/app v2"), "web_app_v2");
        assert_eq!(file_safe(".."), "statkit");
        assert_eq!(process_file("", 7), "statkit-7.statkit");
        assert_eq!(retired_file("web"), "web.retired.statkit");
    }
}
