//! The Unix datagram sink against a real socket file.
#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use statkit::client::sink;
use statkit::Client;

/// A fresh directory for one test's socket, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let path = std::env::temp_dir().join(format!("statkit-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn datagrams_reach_the_socket_and_drops_are_counted_once_it_is_gone() {
    let dir = TempDir::new("unix-sink");
    let path = dir.0.join("statsd.sock");
    let server = UnixDatagram::bind(&path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let client = Client::builder_with_sink(sink::Unix::new(&path).unwrap())
        .build()
        .unwrap();

    client.incr("a");
    client.histogram("b", 1.5);
    client.flush();
    let mut buf = [0; 256];
    let n = server.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"a:1|c\nb:1.5|h");

    drop(server);
    std::fs::remove_file(&path).unwrap();
    client.incr("c");
    client.flush();
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.errors), (1, 1, 0));
}
