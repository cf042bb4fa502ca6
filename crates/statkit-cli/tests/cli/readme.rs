//! README.md's "A quick tour", run command by command as a new user would
//! type it, against the `statkit` binary cargo built for these tests, so
//! that the first thing a user tries works and shows what the README says.
//!
//! How the tour is read and run:
//! - Every ```` ```sh ```` block of the section, one command a line (a line
//!   ending in `\` continues on the next); blank lines and comment lines are
//!   skipped, and so is a command whose comment says `not run in CI`. The
//!   README explains each of those where it stands: the `cargo build` line
//!   (this test runs cargo's own build, first on PATH), the second,
//!   foreground server for a Graphite server, `pip install` (it installs into
//!   the user's Python and may download the build backend; scripts/test.sh
//!   runs it) and gunicorn with the user's `myapp`.
//! - A command ending in `&` starts in the background and is stopped when
//!   the tour ends; `statkit serve` is waited for until it prints `ready`,
//!   any other program until its first line.
//! - Every other command runs in `bash -c` with `pipefail`, from the
//!   repository's root, must end within [`TIMEOUT`] and exit 0; curl is
//!   told (by a `.curlrc` in `CURL_HOME`) to fail on an HTTP error status. A
//!   failure names the command, its README line, its exit status and its
//!   output, and shows what the background servers printed.
//! - The server's addresses are free loopback ports, given the way a user
//!   moves them: `STATKIT_STATSD`, `STATKIT_ADMIN` and `STATKIT_HTTP_LISTEN`,
//!   which `serve`, `send` and `ctl` read. The defaults written out in a
//!   command (curl's `127.0.0.1:8127`) are rewritten to those ports, and
//!   `/tmp/` to a scratch folder, which `STATKIT_DIR`, `STATKIT_PIPE_DIR` and
//!   `MMSTATS_PATH` also point into: the tour never touches the machine's
//!   stats files or a server someone else runs on the default ports.
//! - The program the shared-memory part speaks of ("a program linked with
//!   the `statkit` crate") is this test: it publishes a stats file and a
//!   statvent pipe with the library, and puts two of mmstats' own sample
//!   files where the tour looks for mmstats files.
//! - [`SHOWS`] lists what a few commands must print, so a tour that runs
//!   but shows nothing (a counter deleted before anything could show it)
//!   fails too. The tour's own `sleep 3` (a flush every 2 s) is what lets
//!   `/metrics` show the counter, for the test as for a user.

use std::fmt::Write as _;
use std::net::{TcpListener, UdpSocket};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use statkit::shm::{Options, Registry};

use crate::util::{free_tcp_port, run_bounded, statkit_bin, Dir, Process, TIMEOUT};

/// The section of README.md that is run.
const SECTION: &str = "## A quick tour";

/// A command whose comment holds this is shown to the user but not run.
const NOT_RUN: &str = "not run in CI";

/// The defaults the tour's commands may spell out, and which port of the
/// test's server each stands for.
const DEFAULT_STATSD: &str = "127.0.0.1:8125";
const DEFAULT_ADMIN: &str = "127.0.0.1:8126";
const DEFAULT_HTTP: &str = "127.0.0.1:8127";

/// `(command as the README writes it, text its first run must print)`.
const SHOWS: &[(&str, &str)] = &[
    // The counter just sent is held before any flush...
    ("statkit ctl counters", "api.requests"),
    // ...and reaches Prometheus once a flush has happened.
    ("curl -s 127.0.0.1:8127/metrics", "api_requests"),
    ("curl -s 127.0.0.1:8127/stats", "app.requests"),
    ("statkit slurp", "app.requests"),
    (
        "statkit slurp --json /tmp/*.mmstats",
        "\"format\":\"mmstats\"",
    ),
    ("statkit slurp /tmp/stats-pipe", "app.requests"),
    ("python3 python/statkit/reader.py", "\"app.requests\": 5"),
    ("curl -s 127.0.0.1:8127/api/v1/processes", "app.requests"),
    (
        "curl -s '127.0.0.1:8127/stats/app.requests?aggr=sum'",
        "{\"app.requests\":5}",
    ),
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One command of the tour.
#[derive(Debug)]
struct Step {
    /// README.md's line number where the command starts.
    line: usize,
    /// The command without its comment.
    command: String,
    /// Its comment, if any.
    comment: String,
}

impl Step {
    fn background(&self) -> Option<&str> {
        self.command
            .strip_suffix('&')
            .filter(|c| !c.ends_with('&'))
            .map(str::trim_end)
    }

    fn name(&self) -> String {
        format!("README.md:{}: `{}`", self.line, self.command)
    }
}

/// The commands of every `sh` block in the tour section, in order.
fn tour(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut in_section = false;
    let mut in_sh = false;
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in readme.lines().enumerate() {
        let number = index + 1;
        if line.starts_with("## ") {
            in_section = line.trim_end() == SECTION;
            continue;
        }
        if !in_section {
            continue;
        }
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim_end() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let (start, text) = match pending.take() {
            Some((start, before)) => (start, format!("{before} {}", line.trim())),
            None => (number, line.trim().to_owned()),
        };
        if let Some(joined) = text.strip_suffix('\\') {
            pending = Some((start, joined.trim_end().to_owned()));
            continue;
        }
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let (command, comment) = split_comment(&text);
        steps.push(Step {
            line: start,
            command: command.trim().to_owned(),
            comment: comment.trim().to_owned(),
        });
    }
    steps
}

/// A command and its trailing comment: the first `#` outside quotes that
/// follows a blank.
fn split_comment(text: &str) -> (&str, &str) {
    let mut quote = None;
    let mut after_blank = false;
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if after_blank => return (&text[..at], &text[at + 1..]),
            _ => {}
        }
        after_blank = c.is_whitespace();
    }
    (text, "")
}

/// A port free for both UDP and TCP (statsd takes both on one port).
fn free_statsd_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both UDP and TCP in 100 tries");
}

/// Where the tour's server listens and its files are.
struct Place {
    statsd: String,
    admin: String,
    http: String,
    /// Stands for `/tmp`.
    tmp: PathBuf,
    /// `STATKIT_DIR`.
    shm: PathBuf,
    /// `CURL_HOME`: its `.curlrc` makes curl fail on an HTTP error.
    curl_home: PathBuf,
}

impl Place {
    /// The command as run here: defaults and `/tmp/` rewritten.
    ///
    /// A default port written another way (`localhost:8127`) would reach
    /// whatever listens on the machine's default ports: refused.
    fn rewrite(&self, step: &Step) -> String {
        let command = step
            .command
            .replace(DEFAULT_STATSD, &self.statsd)
            .replace(DEFAULT_ADMIN, &self.admin)
            .replace(DEFAULT_HTTP, &self.http)
            .replace("/tmp/", &format!("{}/", self.tmp.display()));
        for default in [DEFAULT_STATSD, DEFAULT_ADMIN, DEFAULT_HTTP] {
            let port = &default[default.len() - 5..];
            assert!(
                !command.contains(port),
                "{} names the default port {port} other than as {default}, which this test cannot move: write {default}",
                step.name()
            );
        }
        command
    }

    /// Where the tour's server is, for failure messages.
    fn describe(&self) -> String {
        format!(
            "\n(the tour's server: STATKIT_STATSD={}, STATKIT_ADMIN={}, STATKIT_HTTP_LISTEN={}; \
             a command that ignores these talks to the default ports instead)",
            self.statsd, self.admin, self.http
        )
    }

    /// `bash -c command` with the tour's environment, from the repository.
    fn bash(&self, command: &str) -> Command {
        let mut bash = Command::new("bash");
        bash.args(["-c", &format!("set -o pipefail\n{command}")])
            .current_dir(repo());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("STATKIT_") {
                bash.env_remove(name);
            }
        }
        let bin = Path::new(statkit_bin())
            .parent()
            .expect("the binary's folder");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![bin.to_owned()];
        paths.extend(std::env::split_paths(&path));
        bash.env("PATH", std::env::join_paths(paths).expect("PATH joins"))
            .env("STATKIT_STATSD", &self.statsd)
            .env("STATKIT_ADMIN", &self.admin)
            .env("STATKIT_HTTP_LISTEN", &self.http)
            .env("STATKIT_DIR", &self.shm)
            .env("STATKIT_PIPE_DIR", self.tmp.join("stats-pipe"))
            .env("MMSTATS_PATH", &self.tmp)
            .env("CURL_HOME", &self.curl_home);
        bash
    }
}

/// What the tour's servers printed, for a failure message.
fn logs(background: &[(String, Process)]) -> String {
    let mut out = String::new();
    for (name, process) in background {
        let _ = write!(out, "\n--- {name} (background) printed:\n{}", process.log());
    }
    out
}

/// Starts a background command and waits until it is ready.
fn start(place: &Place, step: &Step) -> Process {
    let command = step.background().expect("a background command");
    let simple = !command.contains(['|', ';', '&', '(', '`', '$']);
    assert!(
        simple,
        "{}: a background command here must be one program and its arguments",
        step.name()
    );
    let process = Process::spawn(
        &step.name(),
        place.bash(&format!(
            "exec {}",
            place.rewrite(step).trim_end_matches('&')
        )),
    );
    let deadline = Instant::now() + TIMEOUT;
    let serve = command.starts_with("statkit serve");
    loop {
        match process.next_stdout_line(deadline) {
            Some(line) if !serve || line == "ready" => return process,
            Some(_) => {}
            None => panic!(
                "{} printed no {} within {TIMEOUT:?}; it printed:\n{}",
                step.name(),
                if serve { "`ready`" } else { "line" },
                process.log()
            ),
        }
    }
}

/// The program the shared-memory part of the tour reads: a stats file and
/// a statvent pipe published by the statkit library in this process, and
/// mmstats files in `/tmp`.
struct Program {
    _registry: Registry,
    _pipe: statkit::pipe::Publisher,
}

impl Program {
    fn start(place: &Place) -> Program {
        let registry = Registry::publish(Options {
            dir: place.shm.clone(),
            program: "app".into(),
            ..Options::default()
        })
        .expect("publish the tour's stats file");
        registry.counter("app.requests", &[]).unwrap().add(5);
        registry.counter("app.errors", &[]).unwrap().add(1);
        let pipe = statkit::pipe::Publisher::start(
            &registry,
            statkit::pipe::Options {
                dir: place.tmp.join("stats-pipe"),
            },
        )
        .expect("publish the tour's statvent pipe");
        registry
            .histogram("app.latency", &[])
            .unwrap()
            .record(0.012);
        let samples = repo().join("crates/statkit-format/tests/testdata/mmstats");
        for name in ["alltypes.mmstats", "one-counter.mmstats"] {
            std::fs::copy(samples.join(name), place.tmp.join(name))
                .unwrap_or_else(|e| panic!("copy the mmstats sample {name}: {e}"));
        }
        Program {
            _registry: registry,
            _pipe: pipe,
        }
    }
}

#[test]
fn the_quick_tour_runs_command_by_command() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("read README.md");
    let steps = tour(&readme);
    assert!(
        steps.len() >= 10,
        "README.md's `{SECTION}` section has {} commands in sh blocks: did it move?",
        steps.len()
    );
    for (shown, _) in SHOWS {
        assert!(
            steps.iter().any(|s| s.command == *shown),
            "README.md's tour has no command `{shown}` any more: update SHOWS in readme.rs"
        );
    }

    let scratch = Dir::new("readme-tour");
    let place = Place {
        statsd: format!("127.0.0.1:{}", free_statsd_port()),
        admin: format!("127.0.0.1:{}", free_tcp_port()),
        http: format!("127.0.0.1:{}", free_tcp_port()),
        tmp: scratch.path().join("tmp"),
        shm: scratch.path().join("shm"),
        curl_home: scratch.path().to_owned(),
    };
    std::fs::create_dir_all(&place.tmp).unwrap();
    std::fs::create_dir_all(&place.shm).unwrap();
    // An answer of 400 or more fails the tour's `curl -s` lines, with the
    // reason on stderr.
    scratch.write(".curlrc", "fail\nshow-error\n");
    let _program = Program::start(&place);

    let mut background: Vec<(String, Process)> = Vec::new();
    let mut checked: Vec<&str> = Vec::new();
    for step in &steps {
        if step.comment.contains(NOT_RUN) {
            continue;
        }
        if step.background().is_some() {
            background.push((step.name(), start(&place, step)));
            continue;
        }
        // A command still running after TIMEOUT is killed (run_bounded's
        // panic), then named with its README line.
        let command = place.bash(&place.rewrite(step));
        let output = panic::catch_unwind(AssertUnwindSafe(|| run_bounded(command, TIMEOUT)))
            .unwrap_or_else(|_| {
                panic!(
                    "{} did not end within {TIMEOUT:?}: killed{}",
                    step.name(),
                    logs(&background)
                )
            });
        let stdout = String::from_utf8_lossy(&output.stdout);
        let printed = format!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert!(
            output.status.success(),
            "{} failed ({}), run as `{}`; it printed:\n{printed}{}{}",
            step.name(),
            output.status,
            place.rewrite(step),
            place.describe(),
            logs(&background)
        );
        for (shown, text) in SHOWS {
            if step.command == *shown && !checked.contains(shown) {
                checked.push(shown);
                assert!(
                    stdout.contains(text),
                    "{} did not show {text:?}; it printed:\n{printed}{}{}",
                    step.name(),
                    place.describe(),
                    logs(&background)
                );
            }
        }
    }
    for (name, mut process) in background {
        if let Some(status) = process.try_wait() {
            panic!(
                "{name} exited ({status}) before the tour ended; it printed:\n{}",
                process.log()
            );
        }
        process.stop();
    }
}

#[test]
fn commands_and_comments_are_told_apart() {
    let readme = "intro\n## A quick tour\n\n```sh\n\
        # a comment line\n\
        statkit serve &      # in the background\n\
        echo 'a:1|c|#env:prod' | statkit send -   # quoted # stays\n\
        statkit poll \\\n   -d 1   # joined\n\
        cargo build   # (not run in CI: why)\n\
        ```\n\n```rust\nnot_sh();\n```\n## Next\n```sh\nstatkit other\n```\n";
    let steps = tour(readme);
    let got: Vec<(usize, &str, &str)> = steps
        .iter()
        .map(|s| (s.line, s.command.as_str(), s.comment.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (6, "statkit serve &", "in the background"),
            (
                7,
                "echo 'a:1|c|#env:prod' | statkit send -",
                "quoted # stays"
            ),
            (8, "statkit poll -d 1", "joined"),
            (10, "cargo build", "(not run in CI: why)"),
        ]
    );
    assert_eq!(steps[0].background(), Some("statkit serve"));
    assert_eq!(steps[1].background(), None);
    assert!(steps[3].comment.contains(NOT_RUN));
}

fn place_for_rewriting() -> Place {
    Place {
        statsd: "127.0.0.1:1001".into(),
        admin: "127.0.0.1:1002".into(),
        http: "127.0.0.1:1003".into(),
        tmp: PathBuf::from("/scratch/tmp"),
        shm: PathBuf::from("/scratch/shm"),
        curl_home: PathBuf::from("/scratch"),
    }
}

fn step(command: &str) -> Step {
    Step {
        line: 1,
        command: command.into(),
        comment: String::new(),
    }
}

#[test]
fn defaults_and_tmp_are_rewritten() {
    let place = place_for_rewriting();
    assert_eq!(
        place.rewrite(&step(
            "curl -s '127.0.0.1:8127/stats/x?aggr=sum' && statkit send --statsd 127.0.0.1:8125 a:1|c"
        )),
        "curl -s '127.0.0.1:1003/stats/x?aggr=sum' && statkit send --statsd 127.0.0.1:1001 a:1|c"
    );
    assert_eq!(
        place.rewrite(&step(
            "statkit ctl --admin 127.0.0.1:8126 counters /tmp/*.mmstats"
        )),
        "statkit ctl --admin 127.0.0.1:1002 counters /scratch/tmp/*.mmstats"
    );
}

#[test]
#[should_panic(expected = "names the default port :8127 other than as 127.0.0.1:8127")]
fn a_default_port_written_otherwise_is_refused() {
    place_for_rewriting().rewrite(&step("curl -s localhost:8127/metrics"));
}
