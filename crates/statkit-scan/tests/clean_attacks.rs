//! What a local user can plant in a shared stats folder to make a root
//! `statkit clean` write where it should not: none of it works.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use statkit_format::{encode, Identity, Stat, Value};
use statkit_scan::{clean, Action};

/// A pid no process has (above the kernel's largest, 2^22).
const DEAD_PID: u32 = 4_194_304 + 7;

/// Writes a dead process' file of program `victim` into `dir`.
fn dead_file(dir: &Path) -> PathBuf {
    let identity = Identity {
        pid: DEAD_PID,
        start_time: 1,
        created_ns: 1,
        program: "victim".into(),
        retired: false,
        piped: false,
    };
    let stats = [Stat {
        label: "requests".into(),
        value: Value::Counter(5),
    }];
    let path = dir.join(format!("victim-{DEAD_PID}.statkit"));
    std::fs::write(&path, encode(&identity, &stats).unwrap()).unwrap();
    path
}

/// A file outside the folder that an attacker wants overwritten.
fn target(dir: &Path) -> PathBuf {
    let path = dir.join("precious");
    std::fs::write(&path, "do not touch").unwrap();
    path
}

fn failures(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Failed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_link_planted_at_the_temporary_name_is_not_written_through() {
    let outside = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let precious = target(outside.path());
    let dead = dead_file(folder.path());
    let aside = folder
        .path()
        .join(format!("victim.retired.tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&precious, &aside).unwrap();

    let actions = clean(&[folder.path().to_owned()], false).unwrap();
    assert_eq!(failures(&actions), Vec::<String>::new());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not touch");
    assert!(!dead.exists());
    assert!(
        std::fs::symlink_metadata(&aside).is_err(),
        "the link is gone"
    );
    let retired = folder.path().join("victim.retired.statkit");
    let meta = std::fs::symlink_metadata(&retired).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.mode() & 0o777, 0o600);
    let totals = statkit_scan::read_file(&retired).unwrap();
    assert_eq!(totals.stats[0].value, Value::Counter(5));
}

#[test]
fn a_link_at_the_retired_name_or_the_lock_is_refused_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    let precious = target(outside.path());
    for planted in ["victim.retired.statkit", ".statkit-clean.lock"] {
        let folder = tempfile::tempdir().unwrap();
        let dead = dead_file(folder.path());
        std::os::unix::fs::symlink(&precious, folder.path().join(planted)).unwrap();
        let actions = clean(&[folder.path().to_owned()], false).unwrap();
        assert_eq!(failures(&actions).len(), 1, "{planted}: {actions:?}");
        assert!(dead.exists(), "{planted}: nothing removed unfolded");
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not touch");
    }
    // A lock link to a name that does not exist makes no file there.
    let folder = tempfile::tempdir().unwrap();
    dead_file(folder.path());
    let nowhere = outside.path().join("created-by-clean");
    std::os::unix::fs::symlink(&nowhere, folder.path().join(".statkit-clean.lock")).unwrap();
    clean(&[folder.path().to_owned()], false).unwrap();
    assert!(!nowhere.exists());
}

/// Run as root here: a folder handed to `nobody` stands for one another
/// user made before us.
#[test]
fn a_folder_someone_else_owns_and_that_is_not_sticky_is_refused() {
    let folder = tempfile::tempdir().unwrap();
    let dead = dead_file(folder.path());
    std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(folder.path(), Some(65534), Some(65534)).unwrap();
    let actions = clean(&[folder.path().to_owned()], false).unwrap();
    let failed = failures(&actions);
    assert_eq!(failed.len(), 1, "{actions:?}");
    assert!(failed[0].contains("not sticky"), "{}", failed[0]);
    assert!(dead.exists());
    assert!(!folder.path().join("victim.retired.statkit").exists());

    // Sticky, like the stats folder: used.
    std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let actions = clean(&[folder.path().to_owned()], false).unwrap();
    assert_eq!(failures(&actions), Vec::<String>::new());
    assert!(!dead.exists());
}
