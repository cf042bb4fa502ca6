//! Folders a local user made before us, to catch what we create in them:
//! refused with a message that says why, unless they are safe to share.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use statkit::shm::{Options, Registry};

fn publish(dir: &Path) -> Result<Registry, statkit::shm::PublishError> {
    Registry::publish(Options {
        dir: dir.to_owned(),
        program: "hostile".into(),
        ..Options::default()
    })
}

/// Run as root here: `nobody` stands for the other user.
fn foreign(dir: &Path, mode: u32) {
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
}

fn reason(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[test]
fn the_stats_folder_is_made_sticky_and_a_foreign_one_that_is_not_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let made = root.path().join("made/by/us");
    let registry = publish(&made).unwrap();
    assert_eq!(std::fs::metadata(&made).unwrap().mode() & 0o7777, 0o1777);
    let file = std::fs::metadata(registry.path().unwrap()).unwrap();
    assert_eq!(file.mode() & 0o777, 0o600);

    let theirs = root.path().join("theirs");
    foreign(&theirs, 0o755);
    let error = publish(&theirs).unwrap_err();
    assert!(reason(&error).contains("not sticky"), "{}", reason(&error));
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);

    let open = root.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let error = publish(&open).unwrap_err();
    assert!(
        reason(&error).contains("others can write it"),
        "{}",
        reason(&error)
    );

    let shared = root.path().join("shared");
    foreign(&shared, 0o1777);
    assert!(publish(&shared).is_ok());
}

#[test]
fn a_stats_folder_that_is_a_link_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let error = publish(&link).unwrap_err();
    assert!(
        reason(&error).contains("a link is not followed"),
        "{}",
        reason(&error)
    );
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
}

#[test]
fn a_planted_link_at_our_file_name_is_replaced_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let precious = root.path().join("precious");
    std::fs::write(&precious, "do not touch").unwrap();
    let dir = root.path().join("stats");
    std::fs::create_dir(&dir).unwrap();
    let ours = Options {
        dir: dir.clone(),
        program: "hostile".into(),
        ..Options::default()
    }
    .path(std::process::id());
    std::os::unix::fs::symlink(&precious, &ours).unwrap();
    let registry = publish(&dir).unwrap();
    registry.counter("c", &[]).unwrap().inc();
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not touch");
    assert!(std::fs::symlink_metadata(&ours).unwrap().is_file());
}

#[test]
fn a_foreign_pipe_folder_that_is_not_sticky_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let theirs = root.path().join("stats-pipe");
    foreign(&theirs, 0o755);
    let registry = publish(&root.path().join("stats")).unwrap();
    let error = statkit::pipe::Publisher::start(
        &registry,
        statkit::pipe::Options {
            dir: theirs.clone(),
        },
    )
    .unwrap_err();
    assert!(reason(&error).contains("not sticky"), "{}", reason(&error));
    assert_eq!(std::fs::read_dir(&theirs).unwrap().count(), 0);
}

/// The mmstats copy goes to `/tmp` by default, aside under a name anyone
/// can guess, then renamed.
#[test]
fn a_link_planted_at_the_mirror_name_aside_is_not_written_through() {
    let root = tempfile::tempdir().unwrap();
    let precious = root.path().join("precious");
    std::fs::write(&precious, "do not touch").unwrap();
    let path = root.path().join("hostile.mmstats");
    let aside = path.with_extension(format!("tmp-{}", std::process::id()));
    std::os::unix::fs::symlink(&precious, &aside).unwrap();
    let registry = publish(&root.path().join("stats")).unwrap();
    registry.counter("c", &[]).unwrap().add(3);
    let mirror = registry
        .mirror_mmstats(path.clone(), std::time::Duration::from_secs(60))
        .unwrap();
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "do not touch");
    assert!(std::fs::symlink_metadata(&aside).is_err());
    assert_eq!(std::fs::read(&path).unwrap()[0], 1);
    drop(mirror);
}
