//! What an operator meets first: one flag name for the statsd address,
//! `ctl` commands that say what they do and why they show nothing, readers
//! that say where they looked, and `statkit demo` to have something to read.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::Value as Json;
use statkit_format::{encode, Identity, Stat, Value};

use crate::util::{self, Process, Statkit, TIMEOUT};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn run(mut command: Command, args: &[&str]) -> Output {
    command.args(args);
    util::run_bounded(command, TIMEOUT)
}

// ---------------------------------------------------------------------------
// One name for the statsd address

fn receiver() -> (UdpSocket, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let address = socket.local_addr().unwrap().to_string();
    (socket, address)
}

fn receive(socket: &UdpSocket) -> String {
    let mut buf = [0; 2048];
    let n = socket
        .recv(&mut buf)
        .expect("a datagram within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Whether `--help` lists `flag` as an option of its own.
fn listed(help: &str, flag: &str) -> bool {
    help.lines().any(|line| line.trim_start().starts_with(flag))
}

#[test]
fn send_takes_statsd_its_old_name_and_the_environment() {
    let (socket, address) = receiver();
    let new = run(
        util::statkit_command(),
        &["send", "--statsd", &address, "a:1|c"],
    );
    assert!(new.status.success(), "{}", stderr(&new));
    assert_eq!(receive(&socket), "a:1|c");
    let old = run(
        util::statkit_command(),
        &["send", "--server", &address, "b:1|c"],
    );
    assert!(old.status.success(), "{}", stderr(&old));
    assert_eq!(receive(&socket), "b:1|c");
    let mut command = util::statkit_command();
    command.env("STATKIT_STATSD", &address);
    let env = run(command, &["send", "c:1|c"]);
    assert!(env.status.success(), "{}", stderr(&env));
    assert_eq!(receive(&socket), "c:1|c");

    let help = stdout(&run(util::statkit_command(), &["send", "--help"]));
    assert!(help.contains("--statsd <HOST:PORT>"), "{help}");
    assert!(help.contains("STATKIT_STATSD"), "{help}");
    assert!(
        !listed(&help, "--server"),
        "the old name is hidden:\n{help}"
    );
}

#[test]
fn bench_takes_statsd_its_old_name_and_the_environment() {
    let (socket, address) = receiver();
    let lines = ["-n", "5", "--names", "1", "--mix", "c=1", "--format", "kv"];
    for (flag, env) in [("--statsd", None), ("--target", None), ("", Some(&address))] {
        let mut command = util::statkit_command();
        command.arg("bench");
        if let Some(address) = env {
            command.env("STATKIT_STATSD", address);
        } else {
            command.args([flag, &address]);
        }
        let output = run(command, &lines);
        assert!(output.status.success(), "{flag}: {}", stderr(&output));
        assert!(
            stdout(&output).contains("\nlines_total 5\n"),
            "{}",
            stdout(&output)
        );
        assert!(receive(&socket).starts_with("bench.c."), "{flag}");
    }
    let help = stdout(&run(util::statkit_command(), &["bench", "--help"]));
    assert!(help.contains("--statsd <ADDR>"), "{help}");
    assert!(
        !listed(&help, "--target"),
        "the old name is hidden:\n{help}"
    );
}

#[test]
fn bench_prints_a_summary_before_the_block_unless_asked_for_kv() {
    let (socket, address) = receiver();
    let args = ["bench", "--statsd", &address, "-n", "50", "--names", "2"];
    let text = stdout(&run(util::statkit_command(), &args));
    let (summary, block): (Vec<&str>, Vec<&str>) =
        text.lines().partition(|line| line.starts_with("# "));
    assert!(
        summary[0].starts_with(&format!("# sent 50 lines to {address} over UDP in ")),
        "{text}"
    );
    assert!(
        summary
            .iter()
            .any(|l| l.starts_with("# not checked: --check")),
        "{text}"
    );
    assert!(
        text.starts_with(&summary.join("\n")),
        "the summary comes first:\n{text}"
    );
    assert_eq!(block[0], format!("target {address}"));
    let mut kv_args = args.to_vec();
    kv_args.extend(["--format", "kv"]);
    let kv = stdout(&run(util::statkit_command(), &kv_args));
    assert_eq!(kv.lines().collect::<Vec<_>>().len(), block.len());
    assert!(!kv.contains("# "), "{kv}");
    assert!(receive(&socket).starts_with("bench."));
}

#[test]
fn bench_finds_a_local_server_for_its_cpu_per_line() {
    let statkit = Statkit::start(&["--console=false", "--http", "off"]);
    let address = statkit.udp.to_string();
    let args = ["bench", "--statsd", &address, "-n", "2000", "--names", "10"];
    let text = stdout(&run(util::statkit_command(), &args));
    let pid = statkit.process.id();
    // A figure, or "too little to measure" on a fast machine: either way
    // the server's process was found.
    assert!(
        text.lines()
            .any(|l| l.starts_with("# server CPU: ") && l.contains(&format!(" pid {pid}"))),
        "{text}"
    );
    // Where no process listens, nothing is said about CPU.
    let (socket, nobody) = receiver();
    drop(socket);
    let text = stdout(&run(
        util::statkit_command(),
        &["bench", "--statsd", &nobody, "-n", "10"],
    ));
    assert!(!text.contains("server CPU"), "{text}");
}

// ---------------------------------------------------------------------------
// The console

/// `statkit serve` with `args` and its stdout a pipe, stopped once ready:
/// its whole output, the final flush that SIGTERM makes included.
fn console_output(args: &[&str]) -> String {
    let mut statkit = Statkit::start(&[&["--http", "off"], args].concat());
    let (status, killed) = statkit.process.stop();
    assert!(status.success() && !killed, "{}", statkit.process.log());
    statkit.process.log()
}

#[test]
fn the_console_is_quiet_on_a_pipe_unless_asked() {
    let quiet = console_output(&[]);
    assert!(!quiet.contains("flush "), "{quiet}");
    let summary = console_output(&["--console=summary"]);
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("flush ") && l.contains(" series, ") && l.ends_with(" dropped")),
        "{summary}"
    );
    assert!(
        !summary.contains("  counter "),
        "one line, not the series:\n{summary}"
    );
    let full = console_output(&["--console=true"]);
    assert!(full.contains("  counter statsd.metrics_received"), "{full}");
}

// ---------------------------------------------------------------------------
// ctl

fn ctl(statkit: &Statkit, args: &[&str]) -> Output {
    let mut command = util::statkit_command();
    command.args(["ctl", "--admin", &statkit.admin.to_string()]);
    run(command, args)
}

#[test]
fn ctl_quit_asks_for_yes() {
    let mut statkit = Statkit::start(&["--console=false"]);
    let refused = ctl(&statkit, &["quit"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(stdout(&refused), "");
    let said = stderr(&refused);
    assert!(
        said.contains("stops the server") && said.contains("statkit ctl quit --yes"),
        "{said}"
    );
    // Still running.
    assert_eq!(stdout(&ctl(&statkit, &["health"])), "health: up\n");
    assert!(statkit.process.try_wait().is_none());

    let quit = ctl(&statkit, &["quit", "--yes"]);
    assert!(quit.status.success(), "{}", stderr(&quit));
    assert_eq!(stdout(&quit), "");
    assert!(
        stderr(&quit).contains("asked the server"),
        "{}",
        stderr(&quit)
    );
    let status = statkit.process.wait_timeout(TIMEOUT);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

#[test]
fn ctl_says_what_it_shows_and_why_it_is_empty() {
    let statkit = Statkit::start(&["--console=false"]);
    let empty = ctl(&statkit, &["stats"]);
    assert!(empty.status.success());
    assert_eq!(stdout(&empty), "", "gstatsctl's output is unchanged");
    let said = stderr(&empty);
    assert!(
        said.contains("no requests seen yet (the request view counts statkit.requests.* and gunicorn.* names)")
            && said.contains("`statkit ctl --raw stats`"),
        "{said}"
    );
    // Scripts see exactly what they saw before.
    let json = ctl(&statkit, &["--json", "stats"]);
    assert_eq!(
        (stdout(&json).as_str(), stderr(&json).as_str()),
        ("{}\n", "")
    );
    let view = ctl(&statkit, &["requests"]);
    assert!(
        stderr(&view).contains("no requests seen yet"),
        "{}",
        stderr(&view)
    );
    let rtimes = ctl(&statkit, &["rtimes", "app"]);
    assert_eq!(stdout(&rtimes), "\n");
    assert!(stderr(&rtimes).contains("no requests seen yet"));
    let timers = ctl(&statkit, &["timers"]);
    assert_eq!(stdout(&timers), "{}\nEND\n\n");
    assert!(stderr(&timers).contains("no timers"), "{}", stderr(&timers));

    util::send_udp(statkit.udp, &["statkit.requests.app.started:1|c"]);
    let seen = util::poll_until(TIMEOUT, || {
        let output = ctl(&statkit, &["stats"]);
        stdout(&output).starts_with("app\n").then_some(output)
    })
    .expect("the view shows the request");
    assert!(
        stderr(&seen).contains("the request view's stats (gstats', per prefix); `statkit ctl --raw stats` shows the server's own stats (etsy's)"),
        "{}",
        stderr(&seen)
    );
    let other = ctl(&statkit, &["rtimes", "nosuch"]);
    assert!(
        stderr(&other).contains("no prefix nosuch in the request view; it has: app"),
        "{}",
        stderr(&other)
    );
    let reset = ctl(&statkit, &["reset"]);
    assert_eq!(stdout(&reset), "");
    assert!(stderr(&reset).contains("forgot every prefix"));
}

#[test]
fn ctl_says_what_to_check_when_no_server_answers() {
    let port = util::free_tcp_port();
    let mut command = util::statkit_command();
    command.args(["ctl", "--admin", &format!("127.0.0.1:{port}"), "counters"]);
    let output = run(command, &[]);
    assert_eq!(output.status.code(), Some(1));
    let said = stderr(&output);
    assert!(said.contains("is `statkit serve` running?"), "{said}");
    assert_eq!(
        said.matches("Connection refused").count(),
        1,
        "the cause once: {said}"
    );
}

#[test]
fn ctl_lists_the_commands_after_an_error() {
    let statkit = Statkit::start(&["--console=false"]);
    let bogus = ctl(&statkit, &["bogus"]);
    assert_eq!(
        (stdout(&bogus).as_str(), bogus.status.code()),
        ("ERROR\n", Some(1))
    );
    let said = stderr(&bogus);
    assert!(said.contains("answered ERROR to `bogus`"), "{said}");
    assert!(
        said.contains("stats, rtimes PREFIX, reset, quit --yes, requests"),
        "{said}"
    );
    assert!(
        said.contains("counters, timers, gauges"),
        "the server's own list: {said}"
    );
    // --raw adds nothing.
    let raw = ctl(&statkit, &["--raw", "bogus"]);
    assert_eq!(
        (stdout(&raw).as_str(), stderr(&raw).as_str()),
        ("ERROR\n", "")
    );
}

// ---------------------------------------------------------------------------
// Readers that say where they looked

/// A `statkit` command whose default folders are all inside `root` and
/// missing.
fn reader(root: &Path) -> Command {
    let mut command = util::statkit_command();
    command
        .env("STATKIT_DIR", root.join("shm"))
        .env("STATKIT_PIPE_DIR", root.join("pipes"))
        .env("MMSTATS_PATH", root.join("mmstats"));
    command
}

#[test]
fn readers_say_where_they_looked_when_nothing_is_there() {
    let root = tempfile::tempdir().unwrap();
    let slurp = run(reader(root.path()), &["slurp"]);
    assert!(slurp.status.success(), "{}", stderr(&slurp));
    assert_eq!(stdout(&slurp), "");
    let said = stderr(&slurp);
    for expected in [
        "statkit slurp: nothing to read; it looked in:".to_owned(),
        format!(
            "{} (stats files, $STATKIT_DIR): no such folder",
            root.path().join("shm").display()
        ),
        format!(
            "{} (mmstats files, $MMSTATS_PATH): no such folder",
            root.path().join("mmstats").display()
        ),
        format!(
            "{} (statvent pipes, $STATKIT_PIPE_DIR): no such folder",
            root.path().join("pipes").display()
        ),
    ] {
        assert!(said.contains(&expected), "no {expected:?} in:\n{said}");
    }

    std::fs::create_dir(root.path().join("shm")).unwrap();
    let said = stderr(&run(reader(root.path()), &["slurp"]));
    assert!(
        said.contains("(stats files, $STATKIT_DIR): empty"),
        "{said}"
    );
    std::fs::write(root.path().join("shm/notes.txt"), "x").unwrap();
    let said = stderr(&run(reader(root.path()), &["slurp"]));
    assert!(
        said.contains("(stats files, $STATKIT_DIR): no stats files among 1 entries"),
        "{said}"
    );

    let poll = run(
        reader(root.path()),
        &["poll", "-c", "2", "-d", "0.05", "requests"],
    );
    assert!(poll.status.success(), "{}", stderr(&poll));
    assert_eq!(stdout(&poll).lines().count(), 3, "bounded by --count");
    let said = stderr(&poll);
    assert_eq!(
        said.matches("no process publishes").count(),
        1,
        "said once: {said}"
    );

    let clean = run(reader(root.path()), &["clean"]);
    assert!(clean.status.success());
    assert_eq!(stdout(&clean), "removed 0, 0 alive, 0 kept, 0 skipped\n");
    assert!(
        stderr(&clean).contains("found no stats file; it looked in:"),
        "{}",
        stderr(&clean)
    );
}

#[test]
fn a_pattern_that_matched_nothing_is_said_and_is_no_error() {
    let root = tempfile::tempdir().unwrap();
    let pattern = root.path().join("*.mmstats");
    let output = run(
        reader(root.path()),
        &["slurp", "--json", pattern.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "[]\n");
    assert!(
        stderr(&output).contains(&format!(
            "{}: the pattern matched nothing",
            pattern.display()
        )),
        "{}",
        stderr(&output)
    );
    // A plain file that does not exist is still an error.
    let missing = root.path().join("gone.statkit");
    let output = run(reader(root.path()), &["slurp", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn files_of_exited_processes_are_pointed_out() {
    let root = tempfile::tempdir().unwrap();
    let shm = root.path().join("shm");
    std::fs::create_dir(&shm).unwrap();
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let identity = Identity {
        pid,
        start_time: 1,
        created_ns: 0,
        program: "web".into(),
        retired: false,
        piped: false,
    };
    let stats = [Stat {
        label: "requests".into(),
        value: Value::Counter(3),
    }];
    std::fs::write(
        shm.join(format!("web-{pid}.statkit")),
        encode(&identity, &stats).unwrap(),
    )
    .unwrap();

    let slurp = run(reader(root.path()), &["slurp"]);
    assert!(stdout(&slurp).contains("requests"), "{}", stdout(&slurp));
    assert!(
        stderr(&slurp).contains("belongs to a process that has exited"),
        "{}",
        stderr(&slurp)
    );
    let poll = run(reader(root.path()), &["poll", "-c", "1", "requests"]);
    assert!(
        stderr(&poll).contains("every stats file is of a process that has exited"),
        "{}",
        stderr(&poll)
    );
}

#[test]
fn poll_says_which_labels_no_file_has() {
    let root = tempfile::tempdir().unwrap();
    let shm = root.path().join("shm");
    std::fs::create_dir(&shm).unwrap();
    // A running writer: this test process.
    let registry = statkit::shm::Registry::publish(statkit::shm::Options {
        dir: shm.clone(),
        program: "web".into(),
        ..statkit::shm::Options::default()
    })
    .unwrap();
    registry.counter("app.requests", &[]).unwrap().add(1);
    let poll = run(
        reader(root.path()),
        &["poll", "-c", "1", "requests,app.errors"],
    );
    assert!(poll.status.success(), "{}", stderr(&poll));
    let said = stderr(&poll);
    assert!(
        said.contains("no stats file has the label requests (its column stays blank); app.requests has it: try -p app."),
        "{said}"
    );
    assert!(
        said.contains("no stats file has the label app.errors (its column stays blank); labels they have: app.requests"),
        "{said}"
    );
    assert!(!said.contains("no process publishes"), "{said}");
    let found = run(
        reader(root.path()),
        &["poll", "-c", "1", "-p", "app.", "requests"],
    );
    assert_eq!(stderr(&found), "");
}

// ---------------------------------------------------------------------------
// statkit demo

#[test]
fn demo_publishes_a_stats_file_and_a_pipe_while_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let (shm, pipes) = (root.path().join("shm"), root.path().join("pipes"));
    let mut command = util::statkit_command();
    command
        .args(["demo", "--seconds", "3"])
        .env("STATKIT_DIR", &shm)
        .env("STATKIT_PIPE_DIR", &pipes);
    let mut demo = Process::spawn("statkit demo", command);
    // The introduction ends with the Ctrl-C line.
    let deadline = Instant::now() + TIMEOUT;
    let mut intro = String::new();
    while !intro.contains("Ctrl-C") {
        let line = demo
            .next_stdout_line(deadline)
            .unwrap_or_else(|| panic!("no whole introduction:\n{}", demo.log()));
        intro.push_str(&line);
        intro.push('\n');
    }
    let file = intro
        .lines()
        .find_map(|line| line.trim().strip_prefix("stats file "))
        .unwrap_or_else(|| panic!("no `stats file` line:\n{intro}"))
        .to_owned();
    assert!(file.starts_with(shm.to_str().unwrap()), "{file}");
    let log = demo.log();
    assert!(log.contains(&format!("pipe {}", pipes.display())), "{log}");
    assert!(
        log.contains("statkit slurp") && log.contains("statkit poll"),
        "{log}"
    );

    let slurp_json = |path: &Path| -> Vec<Json> {
        let output = run(
            util::statkit_command(),
            &["slurp", "--json", path.to_str().unwrap()],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<Json>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let requests = util::poll_until(TIMEOUT, || {
        let files = slurp_json(&shm);
        let stats = &files.first()?["stats"];
        let requests = stats["requests"].as_u64().filter(|&n| n > 0)?;
        assert!(
            stats["errors"].is_u64() && stats["in_flight"].is_f64(),
            "{stats}"
        );
        assert!(stats["latency_ms"]["count"].is_u64(), "{stats}");
        let latency = &files[0]["descriptions"]["latency_ms"];
        assert_eq!(latency["unit"], "milliseconds", "{}", files[0]);
        Some(requests)
    })
    .expect("the demo's requests counter grows");
    assert!(requests > 0);
    let pipe = slurp_json(&pipes);
    assert_eq!(pipe.len(), 1, "{pipe:?}");
    assert!(
        pipe[0]["stats"]["latency_ms.median"].is_number(),
        "{pipe:?}"
    );

    let status = demo
        .wait_timeout(TIMEOUT)
        .expect("the demo ends after --seconds");
    assert!(status.success(), "{}", demo.log());
    assert!(
        !Path::new(&file).exists(),
        "the stats file is removed at the end"
    );
    assert_eq!(
        std::fs::read_dir(&pipes).unwrap().count(),
        0,
        "and the pipe"
    );
    assert!(
        demo.log().contains("statkit demo: done after"),
        "{}",
        demo.log()
    );
}
