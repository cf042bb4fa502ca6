//! The UDP client against real loopback sockets.

use std::net::UdpSocket;
use std::time::Duration;

use statkit::Client;

/// A loopback socket standing in for a statsd server; reads give up after
/// a few seconds instead of hanging a broken test.
fn server() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn receive(server: &UdpSocket) -> String {
    let mut buf = [0; 2048];
    let n = server
        .recv(&mut buf)
        .expect("a datagram within the read timeout");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// A port nothing listens on: bound once to reserve a free number, then
/// closed.
fn dead_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn server_receives_exact_packed_datagrams() {
    let server = server();
    let client = Client::builder(server.local_addr().unwrap().to_string())
        .prefix("app")
        .max_datagram(40)
        .build()
        .unwrap();
    client.incr("a"); //                                    9 bytes
    client.gauge("b", 2.5); //                       + 1 + 11 = 21
    client.timing("c", Duration::from_millis(3)); // + 1 + 10 = 32
    client.tagged(&[("k", "v")]).count("d", 5); //  + 1 + 14 = 47 > 40
    assert_eq!(receive(&server), "app.a:1|c\napp.b:2.5|g\napp.c:3|ms");
    client.flush();
    assert_eq!(receive(&server), "app.d:5|c|#k:v");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.errors), (2, 0, 0));
}

#[test]
fn dropping_the_client_sends_what_is_left() {
    let server = server();
    let client = Client::builder(server.local_addr().unwrap().to_string())
        .build()
        .unwrap();
    client.set("users", "ann");
    drop(client);
    assert_eq!(receive(&server), "users:ann|s");
}

#[test]
fn no_server_means_counted_drops_not_errors() {
    let client = Client::builder(format!("127.0.0.1:{}", dead_port()))
        .max_datagram(0)
        .build()
        .expect("building needs no server");
    // The kernel answers the first datagram with "port unreachable", which
    // the connected socket reports as ECONNREFUSED on a following send.
    for _ in 0..100 {
        client.incr("nobody.listens");
    }
    client.flush();
    let stats = client.stats();
    assert_eq!(stats.sent + stats.dropped, 100, "{stats:?}");
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(
        stats.errors, 0,
        "refusals are expected, not errors: {stats:?}"
    );
    assert_eq!(
        stats.last_error,
        Some(std::io::ErrorKind::ConnectionRefused)
    );
}

#[test]
fn unresolvable_address_fails_the_build() {
    let error = Client::builder("not an address").build().unwrap_err();
    assert!(
        matches!(error, statkit::BuildError::Resolve { .. }),
        "{error:?}"
    );
}
