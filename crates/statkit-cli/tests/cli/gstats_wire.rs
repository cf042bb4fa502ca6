//! gstats' ZeroMQ protocol against pyzmq (from PyPI), which plays gstats'
//! hooks (PUSH `[prefix, ms]`) and gstatsctl (REQ `STATS`, `RTIMES`,
//! `RESET`, `QUIT`), byte for byte as seeds.md 4.2 records them.

use std::process::Command;

use crate::util::{self, Statkit, TIMEOUT};

/// Pushes the messages of gstats' sample session over one PUSH socket (the
/// hooks opened one per message, but then ZeroMQ does not keep their order,
/// and `RTIMES` lists durations in arrival order), then sends each REQ command given and prints
/// every reply's bytes (Python repr), one per line; `QUIT` is sent without
/// waiting for an answer.
const CLIENT: &str = r#"
import sys, time, zmq
pull, rep, commands = sys.argv[1], sys.argv[2], sys.argv[3:]
ctx = zmq.Context()
messages = [
    [b"my_app", b""], [b"my_app", b"10.222196579"],
    [b"my_app", b""], [b"my_app", b"20.1909542084"],
    [b"my_app", b""], [b"my_app", b"30.2398204803"],
    [b"other.App-1", b""], [b"", b""],
    [b"raw", b""], [b"raw", b"12.5"], [b"raw", b"0"],
]
if pull != "-":
    push = ctx.socket(zmq.PUSH)
    push.connect(pull)
    for frames in messages:
        push.send_multipart(frames)
    push.close(linger=5000)
    # PUSH gives no receipt: wait until STATS shows the last start.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        req = ctx.socket(zmq.REQ)
        req.RCVTIMEO = 5000
        req.connect(rep)
        req.send(b"STATS")
        if b'"raw":{"started":2,"finished":1' in req.recv():
            req.close()
            break
        req.close()
        time.sleep(0.05)
for command in commands:
    req = ctx.socket(zmq.REQ)
    req.RCVTIMEO = 5000
    req.connect(rep)
    req.send(command.encode())
    if command == "QUIT":
        time.sleep(0.1)
        req.close(linger=0)
        continue
    print(repr(req.recv()))
    req.close()
"#;

fn endpoint(statkit: &Statkit, kind: &str) -> String {
    let log = statkit.process.log();
    let prefix = format!("listening {kind} ");
    log.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line:\n{log}"))
        .to_owned()
}

fn client(pull: &str, rep: &str, commands: &[&str]) -> String {
    let mut command = Command::new(util::python());
    command.args(["-c", CLIENT, pull, rep]).args(commands);
    let output = util::run_bounded(command, TIMEOUT);
    assert!(
        output.status.success(),
        "the pyzmq client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const STATS: &str = r#"b'{"default":{"started":1,"finished":0,"processing_time":{"avg":0.0,"std":0.0}},"my_app":{"started":3,"finished":3,"processing_time":{"avg":20.21765708923333,"std":8.172182550023296}},"other.App-1":{"started":1,"finished":0,"processing_time":{"avg":0.0,"std":0.0}},"raw":{"started":2,"finished":1,"processing_time":{"avg":12.5,"std":0.0}}}'"#;

const RTIMES: &str = r#"b'{"default":[],"my_app":[10.222196579,20.1909542084,30.2398204803],"other.App-1":[],"raw":[12.5]}'"#;

#[test]
fn gstats_hooks_and_gstatsctl_over_zeromq() {
    let mut statkit = Statkit::start(&[
        "--console=false",
        "--gstats-pull",
        "tcp://127.0.0.1:0",
        "--gstats-rep",
        "tcp://127.0.0.1:0",
    ]);
    let (pull, rep) = (
        endpoint(&statkit, "gstats-pull"),
        endpoint(&statkit, "gstats-rep"),
    );
    let replies = client(
        &pull,
        &rep,
        &[
            "STATS", "RTIMES", "stats", "BOGUS", "RESET", "STATS", "RTIMES",
        ],
    );
    let lines: Vec<&str> = replies.lines().collect();
    assert_eq!(lines[0], STATS);
    assert_eq!(
        lines[1..],
        [RTIMES, "b'ERROR'", "b'ERROR'", "b'null'", "b'{}'", "b'{}'"]
    );
    client("-", &rep, &["QUIT"]);
    let status = statkit.process.wait_timeout(TIMEOUT);
    assert!(
        status.is_some_and(|s| s.success()),
        "statkit serve did not stop on QUIT: {status:?}\n{}",
        statkit.process.log()
    );
}

#[test]
fn rep_endpoint_from_gstats_environment() {
    for name in ["GSTATS_COMMS_ADDR", "GSTATS_COMM_ADDR"] {
        let port = util::free_tcp_port();
        let mut command = util::statkit_command();
        command.env(name, format!("tcp://127.0.0.1:{port}"));
        let statkit = Statkit::start_command(command, &["--console=false"]);
        let rep = endpoint(&statkit, "gstats-rep");
        assert_eq!(rep, format!("tcp://127.0.0.1:{port}"), "from {name}");
        assert_eq!(client("-", &rep, &["STATS"]), "b'{}'\n");
    }
}

#[test]
fn bad_endpoints_are_refused() {
    let bad = util::serve_refused(&["--gstats-pull", "127.0.0.1:2345"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("requests.gstats_pull"));
}
