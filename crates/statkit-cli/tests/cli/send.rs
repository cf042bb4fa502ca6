//! `statkit send` run as a user runs it, against loopback UDP and TCP
//! servers that record the exact bytes they receive.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn statkit_send(server: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_statkit"));
    command.args(["send", "--server", server]).args(args);
    command
}

fn run(mut command: Command, stdin: &[u8]) -> Output {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("statkit starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin).expect("statkit reads its input");
    drop(input);
    child.wait_with_output().expect("statkit exits")
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "statkit send failed: {:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn udp_server() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let address = socket.local_addr().unwrap().to_string();
    (socket, address)
}

fn receive(socket: &UdpSocket) -> String {
    let mut buf = [0; 2048];
    let n = socket
        .recv(&mut buf)
        .expect("a datagram within the read timeout");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// Whether any datagram arrives within a short wait. Used only to check that
/// nothing was sent; a false "nothing" cannot make a test fail.
fn anything_received(socket: &UdpSocket) -> bool {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0; 2048];
    match socket.recv(&mut buf) {
        Ok(_) => true,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("recv failed: {e}"),
    }
}

/// The connection statkit made, once it has come (bounded wait).
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
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    }
    panic!("statkit did not connect");
}

#[test]
fn udp_lines_arrive_packed_in_one_datagram() {
    let (server, address) = udp_server();
    let output = run(
        statkit_send(&address, &["a:1|c", "b:2.5|g|#env:prod", "c:7|ms|@0.5"]),
        b"",
    );
    assert_success(&output);
    assert_eq!(receive(&server), "a:1|c\nb:2.5|g|#env:prod\nc:7|ms|@0.5");
}

#[test]
fn udp_lines_are_split_at_max_datagram() {
    let (server, address) = udp_server();
    let output = run(
        statkit_send(
            &address,
            &["--max-datagram", "12", "a:1|c", "b:1|c", "c:1|c"],
        ),
        b"",
    );
    assert_success(&output);
    assert_eq!(receive(&server), "a:1|c\nb:1|c");
    assert_eq!(receive(&server), "c:1|c");
}

#[test]
fn dash_reads_lines_from_stdin() {
    let (server, address) = udp_server();
    let output = run(
        statkit_send(&address, &["first:1|c", "-"]),
        b"a:1|c\r\n\nb:3|h\n",
    );
    assert_success(&output);
    assert_eq!(receive(&server), "first:1|c\na:1|c\nb:3|h");
}

#[test]
fn tcp_lines_arrive_newline_terminated_on_one_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    // The connection waits in the listen backlog until accepted, so the
    // command can run to completion first.
    let output = run(
        statkit_send(
            &address,
            &["--tcp", "--max-datagram", "6", "a:1|c", "b:2|g"],
        ),
        b"",
    );
    assert_success(&output);
    let mut stream = accept(&listener);
    let mut received = String::new();
    stream
        .read_to_string(&mut received)
        .expect("statkit closed the connection");
    assert_eq!(received, "a:1|c\nb:2|g\n");
}

#[test]
fn malformed_line_is_refused_with_exit_2_and_nothing_is_sent() {
    let (server, address) = udp_server();
    let output = run(statkit_send(&address, &["good:1|c", "bad:1|x"]), b"");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad:1|x") && stderr.contains("unknown metric type"),
        "{stderr}"
    );
    assert!(
        !anything_received(&server),
        "a valid line was sent before the bad one was refused"
    );
}

#[test]
fn malformed_stdin_line_is_named_by_its_number() {
    let (_server, address) = udp_server();
    let output = run(statkit_send(&address, &["-"]), b"a:1|c\nb:x|c\n");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("standard input line 2") && stderr.contains("b:x|c"),
        "{stderr}"
    );
}

#[test]
fn empty_stdin_is_a_usage_error() {
    let (_server, address) = udp_server();
    let output = run(statkit_send(&address, &["-"]), b"\n\n");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn tcp_without_a_server_fails_with_exit_1() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = run(
        statkit_send(&format!("127.0.0.1:{port}"), &["--tcp", "a:1|c"]),
        b"",
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refused"), "{stderr}");
}
