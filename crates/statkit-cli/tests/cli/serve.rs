//! `statkit serve` end to end: every way statsd gets in, every way flushes
//! get out (and what happens when they cannot), and the admin port.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::util::{self, admin, send_tcp, send_udp, Dir, GraphiteReceiver, Statkit, TIMEOUT};

/// The sum of every value sent for `name`, over every line received (not
/// per flush, so two flushes the receiver grouped together both count).
fn sum(flushes: &[util::Flush], name: &str) -> f64 {
    let prefix = format!("{name} ");
    flushes
        .iter()
        .flat_map(|f| &f.lines)
        .filter_map(|line| line.strip_prefix(&prefix))
        .filter_map(|rest| rest.split(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until the lines received add `name` up to at least `want`, and
/// returns the total.
fn total(graphite: &GraphiteReceiver, name: &str, want: f64) -> f64 {
    graphite.wait_until(&format!("{name} to reach {want}"), TIMEOUT, |flushes| {
        let sum = sum(flushes, name);
        (sum >= want).then_some(sum)
    })
}

/// The flush interval of these tests: long enough that the Graphite
/// receiver sees a pause between flushes.
const INTERVAL: &str = "0.5";

fn start(graphite: &GraphiteReceiver, extra: &[&str]) -> Statkit {
    let addr = graphite.addr().to_string();
    let mut args = vec!["--graphite", addr.as_str(), "--flush-interval", INTERVAL];
    args.extend_from_slice(extra);
    Statkit::start(&args)
}

#[test]
fn tcp_takes_many_clients_at_once() {
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &[]);
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let to = server.tcp;
            std::thread::spawn(move || {
                let lines: String = (0..100).map(|_| "tcp.hits:1|c\n").collect();
                // Split mid-line to exercise framing across reads.
                let (a, b) = lines.split_at(lines.len() / 2 + 3);
                let mut stream = TcpStream::connect(to).unwrap();
                stream.write_all(a.as_bytes()).unwrap();
                stream.flush().unwrap();
                std::thread::sleep(Duration::from_millis(20));
                stream.write_all(b.as_bytes()).unwrap();
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    assert_eq!(total(&graphite, "stats_counts.tcp.hits", 2000.0), 2000.0);
}

#[test]
fn unix_datagram_socket_receives_and_is_removed_at_exit() {
    let dir = Dir::new("unix-socket");
    let path = dir.path().join("statsd.sock");
    let graphite = GraphiteReceiver::start();
    let mut server = start(&graphite, &["--unix-socket", path.to_str().unwrap()]);
    let client = std::os::unix::net::UnixDatagram::unbound().unwrap();
    client
        .send_to(b"unix.hits:3|c\nunix.lat:5|ms", &path)
        .unwrap();
    assert_eq!(total(&graphite, "stats_counts.unix.hits", 3.0), 3.0);
    graphite.wait_for_line(|l| l.starts_with("stats.timers.unix.lat.count 1 "), TIMEOUT);
    let (status, _) = server.process.stop();
    assert!(status.success(), "{status}");
    assert!(!path.exists(), "the socket file is removed at exit");
}

#[test]
fn ipv6_loopback_is_accepted() {
    let graphite = GraphiteReceiver::start();
    let addr = graphite.addr().to_string();
    let mut command = util::statkit_command();
    command.args([
        "serve",
        "--statsd",
        "[::1]:0",
        "--admin",
        "127.0.0.1:0",
        "--http",
        "off",
        "--graphite",
        &addr,
        "--flush-interval",
        "0.3",
    ]);
    let process = util::Process::spawn("statkit serve (ipv6)", command);
    let deadline = std::time::Instant::now() + TIMEOUT;
    let udp: SocketAddr = loop {
        let line = process
            .next_stdout_line(deadline)
            .expect("statkit serve printed its addresses");
        if let Some(addr) = line.strip_prefix("listening statsd-udp ") {
            break addr.parse().unwrap();
        }
    };
    assert!(udp.is_ipv6(), "{udp}");
    let socket = UdpSocket::bind("[::1]:0").unwrap();
    socket.send_to(b"v6.hits:2|c", udp).unwrap();
    assert_eq!(total(&graphite, "stats_counts.v6.hits", 2.0), 2.0);
}

#[test]
fn oversized_datagrams_are_counted_and_their_whole_lines_kept() {
    let dir = Dir::new("oversized");
    let config = dir.write("statkit.toml", "max_datagram = 64\n");
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &["--config", config.to_str().unwrap()]);
    // 3 whole lines in the first 64 bytes, then a line cut at the limit.
    let datagram = format!(
        "big.a:1|c\nbig.a:1|c\nbig.a:1|c\nbig.b:1|c\n{}",
        "x".repeat(100)
    );
    send_udp(server.udp, &[&datagram]);
    assert_eq!(
        total(&graphite, "stats.statsd.oversized_datagrams", 1.0),
        1.0
    );
    assert_eq!(sum(&graphite.flushes(), "stats_counts.big.a"), 3.0);
}

#[test]
fn every_graphite_destination_gets_every_flush() {
    let (first, second) = (GraphiteReceiver::start(), GraphiteReceiver::start());
    let second_addr = second.addr().to_string();
    let server = start(&first, &["--graphite", &second_addr]);
    send_udp(server.udp, &["both:5|c"]);
    assert_eq!(total(&first, "stats_counts.both", 5.0), 5.0);
    assert_eq!(total(&second, "stats_counts.both", 5.0), 5.0);
}

#[test]
fn a_flush_waits_for_graphite_to_come_back() {
    // Reserve a port, start the server towards it with nothing listening,
    // then listen there: the retried flush arrives.
    let port = util::free_tcp_port();
    let target = format!("127.0.0.1:{port}");
    let server = Statkit::start(&["--graphite", &target, "--flush-interval", INTERVAL]);
    send_udp(server.udp, &["late:7|c"]);
    std::thread::sleep(Duration::from_millis(700));
    let graphite = GraphiteReceiver::start_on(port);
    assert_eq!(total(&graphite, "stats_counts.late", 7.0), 7.0);
    // Ingestion went on meanwhile: the admin port still answers at once.
    assert!(admin(server.admin, "health").starts_with("health: up"));
}

#[test]
fn a_sink_that_falls_behind_drops_its_oldest_flushes_and_says_so() {
    let dir = Dir::new("sink-queue");
    let config = dir.write("statkit.toml", "sink_queue = 2\n");
    let port = util::free_tcp_port();
    let target = format!("127.0.0.1:{port}");
    let server = Statkit::start(&[
        "--graphite",
        &target,
        "--flush-interval",
        "0.1",
        "--config",
        config.to_str().unwrap(),
    ]);
    // Nobody listens for over ten flushes: all but the newest few are dropped.
    std::thread::sleep(Duration::from_millis(1500));
    let stats = admin(server.admin, "stats");
    let dropped: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix(&format!("graphite {target}.dropped_flushes: ")))
        .unwrap_or_else(|| panic!("no dropped_flushes line in:\n{stats}"))
        .parse()
        .unwrap();
    assert!(dropped > 0, "{stats}");
    let graphite = GraphiteReceiver::start_on(port);
    let reported = total(&graphite, "stats.statsd.graphiteStats.dropped_flushes", 1.0);
    assert!(reported >= 1.0);
}

#[test]
fn weighted_sample_rates_weigh_every_timer_statistic() {
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &["--sample-rates", "weighted"]);
    send_udp(server.udp, &["w:10|ms|@0.25\nw:30|ms"]);
    let line = graphite.wait_for_line(|l| l.starts_with("stats.timers.w.mean "), TIMEOUT);
    // 10 counts four times: (4 * 10 + 30) / 5.
    assert!(line.starts_with("stats.timers.w.mean 14 "), "{line}");
    let flush = graphite.wait_until("the flush with w", TIMEOUT, |f| {
        f.iter()
            .find(|f| f.value("stats.timers.w.count").is_some())
            .cloned()
    });
    assert_eq!(flush.value("stats.timers.w.count"), Some(5.0));
    assert_eq!(flush.value("stats.timers.w.median"), Some(10.0));
    assert_eq!(flush.value("stats.timers.w.sum"), Some(70.0));
}

#[test]
fn a_busy_timer_switches_to_a_sketch_and_says_so() {
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &["--timer-exact-limit", "10"]);
    let lines: String = (1..=200).map(|v| format!("busy:{v}|ms\n")).collect();
    send_udp(server.udp, &[&lines]);
    let flush = graphite.wait_until("the flush with busy", TIMEOUT, |f| {
        f.iter()
            .find(|f| f.value("stats.timers.busy.count").is_some())
            .cloned()
    });
    assert_eq!(flush.value("stats.timers.busy.count"), Some(200.0));
    assert_eq!(flush.value("stats.timers.busy.upper"), Some(200.0));
    assert_eq!(flush.value("stats.timers.busy.sum"), Some(20100.0));
    let upper_90 = flush.value("stats.timers.busy.upper_90").unwrap();
    assert!((upper_90 - 180.0).abs() <= 180.0 / 256.0, "{upper_90}");
    assert_eq!(flush.value("stats.statsd.timers_sketched"), Some(1.0));
}

#[test]
fn every_datagram_is_received_or_counted_as_a_kernel_drop() {
    // A tiny receive buffer and a burst: whatever the kernel drops must show
    // up in udp_kernel_drops, so received + dropped == sent.
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &["--receivers", "1", "--rcvbuf", "4096"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sent = 20_000;
    for _ in 0..sent {
        socket.send_to(b"burst:1|c", server.udp).unwrap();
    }
    let sent = f64::from(sent);
    graphite.wait_until("every datagram accounted for", TIMEOUT, |flushes| {
        (sum(flushes, "stats_counts.burst") + sum(flushes, "stats.statsd.udp_kernel_drops") >= sent)
            .then_some(())
    });
    let flushes = graphite.flushes();
    let received = sum(&flushes, "stats_counts.burst");
    let dropped = sum(&flushes, "stats.statsd.udp_kernel_drops");
    assert_eq!(
        received + dropped,
        sent,
        "received {received}, kernel dropped {dropped}"
    );
}

#[test]
fn sigterm_flushes_what_arrived_over_every_transport() {
    let graphite = GraphiteReceiver::start();
    let addr = graphite.addr().to_string();
    let mut server = Statkit::start(&["--graphite", &addr, "--flush-interval", "3600"]);
    send_udp(server.udp, &["last.udp:1|c"]);
    send_tcp(server.tcp, "last.tcp:2|c\nlast.partial:3|c");
    // Wait until the admin port shows both, so the signal is not racing them.
    graphite
        .poll(Duration::from_millis(10), |_| None::<()>)
        .ok();
    for _ in 0..100 {
        let counters = admin(server.admin, "counters");
        if counters.contains("'last.udp': 1") && counters.contains("'last.partial': 3") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = server.process.stop();
    assert!(status.success(), "{status}");
    let flush = graphite.wait_for_flush(0, TIMEOUT);
    assert_eq!(flush.value("stats_counts.last.udp"), Some(1.0));
    assert_eq!(flush.value("stats_counts.last.tcp"), Some(2.0));
    assert_eq!(flush.value("stats_counts.last.partial"), Some(3.0));
}

mod admin_port {
    use super::*;

    fn server() -> (GraphiteReceiver, Statkit) {
        let graphite = GraphiteReceiver::start();
        let addr = graphite.addr().to_string();
        // A long interval: the admin port shows the interval in progress.
        let server = Statkit::start(&["--graphite", &addr, "--flush-interval", "3600"]);
        send_udp(
            server.udp,
            &["a.b.c:1|c\na.b.d:2|c\nother:3|c\ng:4|g\nt:5|ms\nt:6|ms\ns:x|s\ns:y|s"],
        );
        for _ in 0..100 {
            if admin(server.admin, "sets").contains("'x'") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (graphite, server)
    }

    #[test]
    fn lists_each_kind_in_util_inspect_style() {
        let (_graphite, server) = server();
        assert_eq!(
            admin(server.admin, "counters"),
            "{\n  'statsd.bad_lines_seen': 0,\n  'statsd.packets_received': 1,\n  'statsd.metrics_received': 8,\n  'a.b.c': 1,\n  'a.b.d': 2,\n  other: 3\n}\nEND\n\n"
        );
        assert_eq!(admin(server.admin, "gauges"), "{ g: 4 }\nEND\n\n");
        assert_eq!(admin(server.admin, "timers"), "{ t: [ 5, 6 ] }\nEND\n\n");
        assert_eq!(admin(server.admin, "sets"), "{ s: [ 'x', 'y' ] }\nEND\n\n");
    }

    #[test]
    fn deletes_exact_names_and_folders() {
        let (_graphite, server) = server();
        assert_eq!(
            admin(server.admin, "delcounters a.b.* nothing"),
            "deleted: a.b.c\ndeleted: a.b.d\nmetric nothing not found\nEND\n\n"
        );
        assert_eq!(admin(server.admin, "delgauges g"), "deleted: g\nEND\n\n");
        assert_eq!(admin(server.admin, "deltimers t"), "deleted: t\nEND\n\n");
        assert_eq!(admin(server.admin, "delsets s"), "deleted: s\nEND\n\n");
        let counters = admin(server.admin, "counters");
        assert!(
            !counters.contains("a.b.") && counters.contains("other: 3"),
            "{counters}"
        );
        assert_eq!(admin(server.admin, "gauges"), "{}\nEND\n\n");
    }

    #[test]
    fn health_stats_config_help_and_errors() {
        let (_graphite, server) = server();
        assert_eq!(admin(server.admin, "health"), "health: up\n");
        assert_eq!(admin(server.admin, "health down"), "health: down\n");
        assert_eq!(admin(server.admin, "health"), "health: down\n");
        assert_eq!(admin(server.admin, "health UP"), "health: up\n");
        let stats = admin(server.admin, "stats");
        assert!(stats.starts_with("uptime: "), "{stats}");
        assert!(
            stats.contains("\nmessages.bad_lines_seen: 0\n") && stats.ends_with("END\n\n"),
            "{stats}"
        );
        let config = admin(server.admin, "config");
        assert!(
            config.contains("\nflush_interval: 3600\n")
                && config.contains("\npercent_thresholds: 90\n"),
            "{config}"
        );
        assert!(admin(server.admin, "help").starts_with("Commands: "));
        assert_eq!(admin(server.admin, "nonsense"), "ERROR\n");
    }

    #[test]
    fn quit_closes_the_connection_and_ctl_prints_replies() {
        let (_graphite, server) = server();
        assert_eq!(admin(server.admin, "quit"), "");
        let output = util::run_bounded(
            {
                let mut c = util::statkit_command();
                c.args(["ctl", "--admin", &server.admin.to_string(), "gauges"]);
                c
            },
            TIMEOUT,
        );
        assert!(output.status.success());
        assert_eq!(String::from_utf8_lossy(&output.stdout), "{ g: 4 }\nEND\n\n");
        let failed = util::run_bounded(
            {
                let mut c = util::statkit_command();
                c.args(["ctl", "--admin", &server.admin.to_string(), "bogus"]);
                c
            },
            TIMEOUT,
        );
        assert_eq!(failed.status.code(), Some(1));
    }
}

#[test]
fn a_unix_socket_path_never_replaces_a_regular_file() {
    let dir = Dir::new("unix-not-a-socket");
    let path = dir.write("data.csv", "precious\n");
    let output = util::serve_refused(&["--http", "off", "--unix-socket", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a socket"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious\n");
}

#[test]
fn several_receivers_add_up_every_client() {
    // SO_REUSEPORT spreads client sockets over the receivers' sockets; the
    // flush must still hold every client's lines exactly once.
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &["--receivers", "3"]);
    let clients: Vec<UdpSocket> = (0..12)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for round in 0..50 {
        for (i, client) in clients.iter().enumerate() {
            let line = format!("spread.hits:1|c\nspread.c{i}:{round}|g\nspread.lat:{i}|ms");
            client.send_to(line.as_bytes(), server.udp).unwrap();
        }
    }
    assert_eq!(total(&graphite, "stats_counts.spread.hits", 600.0), 600.0);
    assert_eq!(
        total(&graphite, "stats.timers.spread.lat.count", 600.0),
        600.0
    );
    let flushes = graphite.flushes();
    let last_gauge = |i: usize| {
        let prefix = format!("stats.gauges.spread.c{i} ");
        flushes
            .iter()
            .flat_map(|f| &f.lines)
            .filter_map(|l| l.strip_prefix(&prefix))
            .next_back()
            .map(|rest| rest.split(' ').next().unwrap_or_default().to_owned())
    };
    for i in 0..12 {
        // Each client's own updates stay in order: its gauge ends at its last value.
        assert_eq!(last_gauge(i).as_deref(), Some("49"), "client {i}");
    }
}

#[test]
fn a_receiver_flooded_with_new_names_loses_none_of_them() {
    // 10,000 names in one interval: the receiver hands its table to the
    // aggregator early (every 4,096 new names) instead of holding a second
    // copy of them.
    let graphite = GraphiteReceiver::start();
    let server = start(&graphite, &[]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let names = 10_000;
    for round in 0..3 {
        let mut datagram = String::new();
        for i in 0..names {
            datagram.push_str(&format!("flood.n{i}:{}|c\nflood.lines:1|c\n", round + 1));
            if datagram.len() > 1300 {
                client.send_to(datagram.as_bytes(), server.udp).unwrap();
                datagram.clear();
            }
        }
        client.send_to(datagram.as_bytes(), server.udp).unwrap();
    }
    let lines = f64::from(3 * names);
    assert_eq!(total(&graphite, "stats_counts.flood.lines", lines), lines);
    let flushes = graphite.flushes();
    for i in [0, 4095, 4096, 9999] {
        assert_eq!(
            sum(&flushes, &format!("stats_counts.flood.n{i}")),
            6.0,
            "n{i}"
        );
    }
}
