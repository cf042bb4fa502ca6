//! The TCP client against real loopback listeners: framing, a server that
//! is down, and a server that restarts.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::sleep;
use std::time::Duration;

use statkit::Client;

/// Waits (boundedly) for the client to connect.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    for _ in 0..500 {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                return stream;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => sleep(Duration::from_millis(10)),
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    panic!("the client did not connect");
}

/// Reads until `expected` bytes arrived (or the read timeout fails the test).
fn read_exactly(stream: &mut TcpStream, expected: usize) -> String {
    let mut buf = vec![0; expected];
    stream
        .read_exact(&mut buf)
        .expect("the expected bytes within the read timeout");
    String::from_utf8(buf).unwrap()
}

fn tcp_client(addr: SocketAddr) -> Client {
    Client::builder(addr.to_string()).tcp().build().unwrap()
}

#[test]
fn lines_arrive_newline_terminated() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = tcp_client(listener.local_addr().unwrap());
    client.incr("a");
    client.gauge("b", 2.0);
    client.flush();
    let mut stream = accept(&listener);
    client.tagged(&[("k", "v")]).set("c", 7);
    drop(client);
    let mut received = String::new();
    stream
        .read_to_string(&mut received)
        .expect("the client closes the connection when dropped");
    assert_eq!(received, "a:1|c\nb:2|g\nc:7|s|#k:v\n");
}

#[test]
fn no_server_means_counted_drops() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::builder(format!("127.0.0.1:{port}"))
        .tcp()
        .build()
        .unwrap();
    for _ in 0..10 {
        client.incr("a");
        client.flush();
    }
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.errors), (0, 10, 0));
}

#[test]
fn reconnects_after_the_server_restarts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tcp_client(addr);
    client.incr("before");
    client.flush();
    let mut first = accept(&listener);
    assert_eq!(
        read_exactly(&mut first, "before:1|c\n".len()),
        "before:1|c\n"
    );

    // The server goes away: its connection and its listening socket close.
    drop(first);
    drop(listener);
    client.incr("while.down");
    client.flush();

    // It comes back on the same port. Keep sending until the client's
    // backoff allows a new connection; each attempt is one call.
    let listener = TcpListener::bind(addr).expect("the port can be bound again");
    listener.set_nonblocking(true).unwrap();
    let mut second = None;
    for _ in 0..200 {
        client.incr("after");
        client.flush();
        match listener.accept() {
            Ok((stream, _)) => {
                second = Some(stream);
                break;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => sleep(Duration::from_millis(50)),
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    let mut second = second.expect("the client reconnected");
    second.set_nonblocking(false).unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    drop(client);
    let mut received = String::new();
    second.read_to_string(&mut received).unwrap();
    assert!(!received.is_empty());
    assert!(
        received
            .split_terminator('\n')
            .all(|line| line == "after:1|c"),
        "only whole lines sent after the restart: {received:?}"
    );
    assert!(received.ends_with('\n'));
}
