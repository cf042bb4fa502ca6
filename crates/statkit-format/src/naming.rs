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

/// Why a folder that already exists is not used to create files in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeFolder {
    /// Another user owns it and it is not sticky: that user may rename,
    /// remove or replace whatever is created in it.
    #[error(
        "it belongs to uid {owner} (not uid {us}, nor root) and is not sticky (mode {mode:04o}): \
         its owner could replace what is made in it; remove it, or use a folder of your own"
    )]
    ForeignOwner {
        /// The folder's owner.
        owner: u32,
        /// The caller's effective uid.
        us: u32,
        /// Its permission bits.
        mode: u32,
    },
    /// Others may write it and it is not sticky: any of them may replace
    /// what is created in it.
    #[error(
        "others can write it and it is not sticky (mode {mode:04o}): \
         any of them could replace what is made in it; chmod +t it, or use a folder of your own"
    )]
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
}

/// Whether a folder owned by `owner` with permission bits `mode` (as
/// `fstat` gives them) is safe for uid `us` to create files in. A sticky
/// folder (like `/tmp` and the stats folder, 1777) is: nobody but an
/// entry's owner, the folder's owner and root may rename or remove it, and
/// statkit never follows a link it finds there. A folder that is not
/// sticky must be ours or root's, and writable by no one else.
pub fn check_folder(owner: u32, mode: u32, us: u32) -> Result<(), UnsafeFolder> {
    const STICKY: u32 = 0o1000;
    const GROUP_OR_OTHER_WRITE: u32 = 0o022;
    let mode = mode & 0o7777;
    if mode & STICKY != 0 {
        return Ok(());
    }
    if owner != us && owner != 0 {
        return Err(UnsafeFolder::ForeignOwner { owner, us, mode });
    }
    if mode & GROUP_OR_OTHER_WRITE != 0 {
        return Err(UnsafeFolder::WritableByOthers { mode });
    }
    Ok(())
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
    fn only_sticky_folders_or_our_own_closed_ones_are_safe() {
        assert_eq!(check_folder(0, 0o41777, 1000), Ok(()));
        assert_eq!(check_folder(2000, 0o1777, 1000), Ok(()));
        assert_eq!(check_folder(1000, 0o700, 1000), Ok(()));
        assert_eq!(check_folder(0, 0o755, 1000), Ok(()));
        assert!(matches!(
            check_folder(65534, 0o755, 0),
            Err(UnsafeFolder::ForeignOwner { owner: 65534, .. })
        ));
        assert!(matches!(
            check_folder(1000, 0o777, 1000),
            Err(UnsafeFolder::WritableByOthers { mode: 0o777 })
        ));
        assert!(matches!(
            check_folder(0, 0o775, 1000),
            Err(UnsafeFolder::WritableByOthers { .. })
        ));
    }

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
