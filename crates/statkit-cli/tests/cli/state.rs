//! The history store's state file, end to end: what a server saved (on
//! SIGTERM, or on schedule before a `kill -9`) a restarted server shows and
//! goes on flushing; a corrupt file is set aside, never fatal.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::util::{http_get, poll_until, send_udp, Dir, Statkit, TIMEOUT};
use serde_json::Value;

fn start(state: &Path, extra: &[&str]) -> Statkit {
    let state = state.to_str().expect("a UTF-8 temp path");
    let mut args = vec![
        "--flush-interval",
        "0.5",
        "--console=false",
        "--state-file",
        state,
    ];
    args.extend_from_slice(extra);
    Statkit::start(&args)
}

/// The stored series `key`'s list entry, once it exists.
fn entry(http: SocketAddr, key: &str) -> Option<Value> {
    let body: Value =
        serde_json::from_str(&http_get(http, "/api/v1/metrics?own=false", "").body).ok()?;
    body["metrics"]
        .as_array()?
        .iter()
        .find(|m| m["key"] == key)
        .cloned()
}

/// Feeds a gauge and a counter until the store shows both.
fn feed(statkit: &Statkit) {
    let http = statkit.http.expect("an HTTP address");
    send_udp(statkit.udp, &["st.g:42|g\nst.c:5|c"]);
    let stored = poll_until(TIMEOUT, || {
        let c = entry(http, "st.c")?;
        (c["total"] == 5.0 && entry(http, "st.g")?["last"]["value"] == 42.0).then_some(())
    });
    assert!(stored.is_some(), "the store never showed the traffic");
}

/// A restarted server shows the saved series at once, and its next
/// flushes report the gauge again.
fn assert_restored(statkit: &Statkit) {
    let http = statkit.http.expect("an HTTP address");
    let c = entry(http, "st.c").expect("the counter survived the restart");
    assert_eq!(c["total"], 5.0);
    let g = entry(http, "st.g").expect("the gauge survived the restart");
    let saved_time = g["time"].as_u64().unwrap();
    let history = http_get(http, "/api/v1/history?kind=gauge&name=st.g", "");
    let history: Value = serde_json::from_str(&history.body).unwrap();
    assert!(!history["t"].as_array().unwrap().is_empty());
    // A flush after the restart reports the gauge (restored into the
    // aggregator) with its value, at a later time.
    let flushed = poll_until(TIMEOUT, || {
        let g = entry(http, "st.g")?;
        (g["time"].as_u64()? > saved_time).then_some(g)
    })
    .expect("the restarted server flushes the restored gauge");
    assert_eq!(flushed["last"]["value"], 42.0);
}

#[test]
fn sigterm_saves_and_a_restart_restores() {
    let dir = Dir::new("state-term");
    let path = dir.path().join("statkit.state");
    let mut first = start(&path, &[]);
    feed(&first);
    let (status, killed) = first.process.stop();
    assert!(status.success() && !killed, "{}", first.process.log());
    assert!(path.is_file(), "no state file after SIGTERM");
    let second = start(&path, &[]);
    assert_restored(&second);
}

#[test]
fn kill_9_loses_at_most_the_save_interval() {
    let dir = Dir::new("state-kill");
    let path = dir.path().join("statkit.state");
    let first = start(&path, &["--state-save-interval", "1"]);
    feed(&first);
    // Wait for a save that holds the traffic, then kill without warning.
    let saved = poll_until(TIMEOUT, || {
        let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
        (modified.elapsed().ok()? < Duration::from_secs(60)).then_some(())
    });
    assert!(saved.is_some(), "no scheduled save");
    std::thread::sleep(Duration::from_millis(1500));
    first.process.signal(libc::SIGKILL).unwrap();
    drop(first);
    let second = start(&path, &[]);
    assert_restored(&second);
}

#[test]
fn a_corrupt_state_file_is_set_aside() {
    let dir = Dir::new("state-bad");
    let path = dir.write("statkit.state", "not a state file");
    let statkit = start(&path, &[]);
    // The warning is logged as the server starts running, after `ready`.
    let warned = poll_until(TIMEOUT, || {
        statkit.process.log().contains("not loaded").then_some(())
    });
    assert!(warned.is_some(), "{}", statkit.process.log());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("statkit.state.bad-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    // The server runs as usual.
    feed(&statkit);
}

/// The state folder: made private, locked against a second server, and
/// where the history is kept when no file is named.
#[test]
fn the_state_folder_is_private_locked_and_keeps_the_history() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("state-dir");
    let folder = dir.path().join("state");
    let folder_arg = folder.to_str().unwrap();
    let args = [
        "--flush-interval",
        "0.5",
        "--console=false",
        "--state-dir",
        folder_arg,
    ];
    let mut first = Statkit::start(&args);
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700);
    // A second server on the same folder is refused, naming the first.
    let second = crate::util::serve_refused(&["--state-dir", folder_arg]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!(
            "is in use by another statkit serve (pid {})",
            first.process.id()
        )),
        "{stderr}"
    );
    feed(&first);
    let (status, killed) = first.process.stop();
    assert!(status.success() && !killed, "{}", first.process.log());
    let history = folder.join("history");
    assert_eq!(mode(&history), 0o600);
    let restarted = Statkit::start(&args);
    assert_restored(&restarted);
}
