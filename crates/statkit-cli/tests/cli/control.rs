//! The control surfaces a local user can reach: statsd over TCP and the
//! admin port. Idle clients cannot hold every slot, and who may change the
//! server can be limited to the admin socket or turned off.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::util::{self, Statkit, TIMEOUT};

/// Waits (bounded) for the peer to close `stream`; returns how long it took.
fn closed(mut stream: impl Read) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => assert!(
                started.elapsed() < TIMEOUT,
                "still open after {TIMEOUT:?}: {e}"
            ),
        }
    }
}

fn tcp(to: std::net::SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&to, TIMEOUT).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
}

#[test]
fn idle_statsd_and_admin_connections_are_closed() {
    let statkit = Statkit::start(&[
        "--console=false",
        "--tcp-idle-timeout",
        "1s",
        "--admin-idle-timeout",
        "1s",
    ]);
    let statsd = tcp(statkit.tcp);
    let admin = tcp(statkit.admin);
    assert!(closed(statsd) < Duration::from_secs(5));
    assert!(closed(admin) < Duration::from_secs(5));
    // A client that keeps talking is not idle.
    let mut busy = tcp(statkit.tcp);
    for _ in 0..4 {
        busy.write_all(b"busy:1|c\n").unwrap();
        std::thread::sleep(Duration::from_millis(400));
    }
    busy.write_all(b"busy:1|c\n")
        .expect("still open after 1.6 s of traffic");
}

#[test]
fn admin_sessions_past_the_limit_are_closed_at_once() {
    let statkit = Statkit::start(&["--console=false", "--admin-max-sessions", "1"]);
    let _first = tcp(statkit.admin);
    // Give the server the moment it needs to accept the first.
    std::thread::sleep(Duration::from_millis(200));
    assert!(closed(tcp(statkit.admin)) < Duration::from_secs(5));
}

#[test]
fn changes_can_be_limited_to_the_admin_socket() {
    let dir = util::Dir::new("control");
    let socket = dir.path().join("admin.sock");
    let statkit = Statkit::start(&[
        "--console=false",
        "--admin-changes",
        "socket",
        "--admin-socket",
        socket.to_str().unwrap(),
    ]);
    util::send_udp(statkit.udp, &["gone:1|c"]);
    assert_eq!(
        util::admin(statkit.admin, "delcounters gone"),
        "ERROR: delcounters is only accepted on the admin socket (admin.changes)\n"
    );
    assert_eq!(
        util::admin(statkit.admin, "health down"),
        "ERROR: health is only accepted on the admin socket (admin.changes)\n"
    );
    // Reading is still open to all.
    assert!(util::admin(statkit.admin, "counters").contains("gone"));
    let mode = std::fs::metadata(&socket).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let mut unix = UnixStream::connect(&socket).expect("connect the admin socket");
    unix.set_read_timeout(Some(TIMEOUT)).unwrap();
    unix.write_all(b"delcounters gone\n").unwrap();
    let mut reply = Vec::new();
    let mut buf = [0u8; 256];
    while !reply.ends_with(b"END\n\n") {
        let n = unix.read(&mut buf).expect("a reply on the admin socket");
        assert!(n > 0, "closed early: {reply:?}");
        reply.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&reply), "deleted: gone\nEND\n\n");
    drop(statkit);
    assert!(!socket.exists(), "the admin socket is removed at exit");
}

#[test]
fn changes_can_be_turned_off() {
    let statkit = Statkit::start(&["--console=false", "--admin-changes", "none"]);
    assert_eq!(
        util::admin(statkit.admin, "requests quit"),
        "ERROR: requests is turned off (admin.changes)\n"
    );
    assert_eq!(util::admin(statkit.admin, "health"), "health: up\n");
}
