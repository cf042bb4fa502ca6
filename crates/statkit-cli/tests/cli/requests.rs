//! The request view end to end: statsd lines as the Python hooks send them,
//! read back with `statkit ctl` (gstatsctl's text, JSON and exit codes), the
//! admin port and `/_status` with its allow list.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::util::{self, Statkit, TIMEOUT};
use statkit_testkit::http::Answer;

/// What gstats' sample collector state was fed (seeds.md 4.2), as the
/// statkit hooks send it.
const SAMPLE: &[&str] = &[
    "statkit.requests.my_app.started:1|c\nstatkit.requests.my_app.started:1|c",
    "statkit.requests.my_app.started:1|c",
    "statkit.requests.my_app.duration:10.222196579|ms",
    "statkit.requests.my_app.duration:20.1909542084|ms\nstatkit.requests.my_app.status.200:2|c",
    "statkit.requests.my_app.duration:30.2398204803|ms",
    "statkit.requests.other.App-1.started:1|c",
    "statkit.requests.default.started:1|c",
    "statkit.requests.raw.started:2|c\nstatkit.requests.raw.duration:12.5|ms",
];

/// gstatsctl's `stats` for that state, prefixes sorted.
const STATS_TEXT: &str = "\
default
=======
Requests: started=1, finished=0, processing=1
Response time: average=0.0, stdev=0.0

my_app
======
Requests: started=3, finished=3, processing=0
Response time: average=20.2176570892, stdev=8.17218255002

other.App-1
===========
Requests: started=1, finished=0, processing=1
Response time: average=0.0, stdev=0.0

raw
===
Requests: started=2, finished=1, processing=1
Response time: average=12.5, stdev=0.0

";

fn ctl(statkit: &Statkit, args: &[&str]) -> Output {
    let mut command = util::statkit_command();
    command
        .args(["ctl", "--admin", &statkit.admin.to_string()])
        .args(args);
    util::run_bounded(command, TIMEOUT)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Sends the sample and waits until the server has all of it (UDP may
/// arrive after the send returns).
fn fed() -> Statkit {
    let statkit = Statkit::start(&["--console=false"]);
    util::send_udp(statkit.udp, SAMPLE);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let out = stdout(&ctl(&statkit, &["stats"]));
        if out == STATS_TEXT {
            return statkit;
        }
        assert!(
            Instant::now() < deadline,
            "the view never showed the sample:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctl_speaks_gstatsctl() {
    let statkit = fed();
    let rtimes = ctl(&statkit, &["rtimes", "my_app"]);
    assert!(rtimes.status.success());
    assert_eq!(
        stdout(&rtimes),
        "10.222196579\n20.1909542084\n30.2398204803\n"
    );
    let unknown = ctl(&statkit, &["rtimes", "nosuch"]);
    assert_eq!(
        (stdout(&unknown).as_str(), unknown.status.code()),
        ("\n", Some(0))
    );
    let missing = ctl(&statkit, &["rtimes"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(stdout(&missing), "usage: statkit ctl rtimes <prefix>\n");
    let none = ctl(&statkit, &[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stdout(&none).starts_with("Usage: statkit ctl"));
    let bogus = ctl(&statkit, &["bogus"]);
    assert_eq!(
        (stdout(&bogus).as_str(), bogus.status.code()),
        ("ERROR\n", Some(1))
    );

    let json = stdout(&ctl(&statkit, &["--json", "stats"]));
    assert!(json.starts_with(r#"{"default":{"started":1,"finished":0,"processing_time":{"avg":0.0,"std":0.0}},"my_app":{"started":3,"finished":3,"processing_time":{"avg":20.21765708923333"#), "{json}");
    assert_eq!(
        stdout(&ctl(&statkit, &["--json", "rtimes", "raw"])),
        "{\"raw\":[12.5]}\n"
    );
    let view = stdout(&ctl(&statkit, &["requests"]));
    assert!(view.contains(r#""statuses":{"200":2}"#), "{view}");
    // etsy's own `stats` is still there.
    let etsy = stdout(&ctl(&statkit, &["--raw", "stats"]));
    assert!(etsy.starts_with("uptime: "), "{etsy}");

    let reset = ctl(&statkit, &["reset"]);
    assert_eq!(
        (stdout(&reset).as_str(), reset.status.code()),
        ("", Some(0))
    );
    assert_eq!(stdout(&ctl(&statkit, &["stats"])), "");
    assert_eq!(stdout(&ctl(&statkit, &["--json", "stats"])), "{}\n");
}

#[test]
fn admin_port_requests_commands() {
    let statkit = fed();
    let rtimes = util::admin(statkit.admin, "requests rtimes");
    assert_eq!(
        rtimes,
        "{\"default\":[],\"my_app\":[10.222196579,20.1909542084,30.2398204803],\"other.App-1\":[],\"raw\":[12.5]}\nEND\n\n"
    );
    assert!(util::admin(statkit.admin, "requests bogus").starts_with("ERROR"));
    assert_eq!(
        util::admin(statkit.admin, "requests reset"),
        "null\nEND\n\n"
    );
}

#[test]
fn quit_stops_the_server() {
    let mut statkit = fed();
    let quit = ctl(&statkit, &["quit", "--yes"]);
    assert_eq!((stdout(&quit).as_str(), quit.status.code()), ("", Some(0)));
    let status = statkit.process.wait_timeout(TIMEOUT);
    assert!(
        status.is_some_and(|s| s.success()),
        "statkit serve did not exit 0 after quit: {status:?}\n{}",
        statkit.process.log()
    );
}

/// GET `path` from the loopback address `from`.
fn get_from(from: &str, to: SocketAddr, path: &str) -> Answer {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    socket
        .bind(&local.into())
        .expect("bind a loopback source address");
    socket
        .connect_timeout(&to.into(), TIMEOUT)
        .expect("connect to the HTTP port");
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream
        .write_all(Answer::request("GET", path).as_bytes())
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    Answer::parse(&raw)
}

#[test]
fn status_page_behind_the_allow_list() {
    let statkit = fed();
    let http = statkit.http.expect("an HTTP address");
    let ok = get_from("127.0.0.1", http, "/_status");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("application/json"));
    let json = stdout(&ctl(&statkit, &["--json", "stats"]));
    assert_eq!(format!("{}\n", ok.body), json);
    assert_eq!(
        get_from("127.0.0.1", http, "/_status/anything").body,
        ok.body
    );
    let refused = get_from("127.0.0.2", http, "/_status");
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (403, "You are not allowed to see this!")
    );
}

#[test]
fn allow_list_from_gstats_environment_and_cidr_flags() {
    let mut command = util::statkit_command();
    command.env("GSTATS_ALLOWED_IPS", "127.0.0.3:127.0.0.1");
    let statkit = Statkit::start_command(
        command,
        &["--console=false", "--status-allow", "127.0.1.0/24"],
    );
    let http = statkit.http.expect("an HTTP address");
    for (from, status) in [
        ("127.0.0.1", 200),
        ("127.0.0.3", 200),
        ("127.0.1.77", 200),
        ("127.0.0.2", 403),
    ] {
        assert_eq!(
            get_from(from, http, "/_status").status,
            status,
            "from {from}"
        );
    }
    let bad = util::serve_refused(&["--status-allow", "10.0.0.0/40"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("requests.status_allow"));
}
