//! What an operator meets first: the error a second server prints, shell
//! completions and the manual page, the JSON log, and the files in
//! packaging/ (the sample configuration, the systemd unit, the Dockerfile),
//! checked against the binary they describe.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{self, Statkit, TIMEOUT};

/// The repository's packaging/ folder.
fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging")
}

/// `statkit ARGS` with an empty environment: no `STATKIT_*` setting, no
/// variable of the tools statkit replaces (`GSTATS_*`, `STATSD_*`) that
/// would change a default.
fn statkit_bare(args: &[&str]) -> std::process::Output {
    let mut command = Command::new(util::statkit_bin());
    command.env_clear().args(args);
    util::run_bounded(command, TIMEOUT)
}

/// Its stdout, after checking that it exited 0.
#[track_caller]
fn success(args: &[&str], output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "statkit {args:?} failed ({}); stderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// `statkit ARGS`, run to completion (bounded), with no `STATKIT_*`
/// variables from the environment.
fn statkit(args: &[&str]) -> std::process::Output {
    let mut command = util::statkit_command();
    command.args(args);
    util::run_bounded(command, TIMEOUT)
}

/// The stdout of `statkit ARGS`, which must succeed.
#[track_caller]
fn stdout_of(args: &[&str]) -> String {
    success(args, statkit(args))
}

#[test]
fn a_second_server_on_a_taken_port_says_the_cause_once_and_what_to_do() {
    let first = Statkit::start(&["--http", "off"]);
    let taken = first.tcp.to_string();
    let output = statkit(&[
        "serve",
        "--statsd",
        &taken,
        "--admin",
        "127.0.0.1:0",
        "--http",
        "off",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && output.status.code().is_some(),
        "the second server must fail with an exit code, got {}; stderr:\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains(&format!("cannot listen for statsd (tcp) on {taken}")),
        "stderr:\n{stderr}"
    );
    // The OS's words for EADDRINUSE, as the server printed them.
    let cause = "Address already in use (os error 98)";
    assert_eq!(
        stderr.matches(cause).count(),
        1,
        "the cause must be said once:\n{stderr}"
    );
    assert!(
        stderr.contains("hint: is another statkit running? `statkit ctl health`")
            && stderr.contains("--statsd 127.0.0.1:0"),
        "no hint:\n{stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("ready"),
        "it must not claim to be ready"
    );
}

#[test]
fn bash_completion_knows_the_subcommands_and_serve_flags() {
    let script = stdout_of(&["completions", "bash"]);
    assert!(script.contains("serve"), "{script}");
    assert!(script.contains("--flush-interval"), "{script}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(
            stdout_of(&["completions", shell]).contains("flush-interval"),
            "the {shell} script does not complete serve's flags"
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let output = statkit(&["completions", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("tcsh"));
}

#[test]
fn man_prints_a_roff_page_naming_the_subcommands() {
    let page = stdout_of(&["man"]);
    assert!(page.contains(".TH statkit 1"), "not a roff page:\n{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for subcommand in ["serve", "ctl", "send", "slurp", "completions", "man"] {
        assert!(
            page.contains(&format!("statkit\\-{subcommand}(1)")),
            "the page does not name `{subcommand}`:\n{page}"
        );
    }
    let serve = stdout_of(&["man", "serve"]);
    assert!(serve.contains(".TH statkit-serve 1"), "{serve}");
    assert!(serve.contains("flush\\-interval"), "{serve}");
    let output = statkit(&["man", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("serve, ctl"),
        "an unknown page lists the known ones"
    );
}

#[test]
fn log_format_json_writes_one_object_a_line_with_the_fields_apart() {
    // Without the console sink, stdout holds the startup lines only.
    let mut statkit = Statkit::start(&["--log-format", "json", "--console", "false"]);
    let statsd = statkit.tcp.to_string();
    let started = util::poll_until(TIMEOUT, || {
        statkit
            .process
            .log()
            .contains("statkit serve started")
            .then_some(())
    });
    assert!(started.is_some(), "{}", statkit.process.log());
    let (status, killed) = statkit.process.stop();
    assert!(status.success() && !killed, "{}", statkit.process.log());
    let log = statkit.process.log();
    let is_stdout = |line: &str| {
        line == "ready" || line.starts_with("listening ") || line.starts_with("sending ")
    };
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter(|line| !is_stdout(line))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line:?}\n{log}"))
        })
        .collect();
    for event in &events {
        assert!(event["level"].is_string(), "{event}");
        assert!(event["fields"]["message"].is_string(), "{event}");
    }
    let startup = events
        .iter()
        .find(|e| e["fields"]["message"] == "statkit serve started")
        .unwrap_or_else(|| panic!("no startup event:\n{log}"));
    assert_eq!(startup["fields"]["statsd"], statsd.as_str(), "{startup}");
    assert!(startup["fields"]["version"].is_string(), "{startup}");
    assert!(
        events.iter().any(|e| e["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("shutting down")),
        "no shutdown event:\n{log}"
    );
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let output = util::serve_refused(&["--log-format", "xml"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("log_format") && stderr.contains("xml"),
        "{stderr}"
    );
}

/// packaging/statkit.toml is what `serve --print-config` prints with no
/// file, environment or flags: every key, at its default, with its help.
#[test]
fn the_sample_config_is_every_default() {
    let sample = packaging().join("statkit.toml");
    let args = ["serve", "--print-config"];
    let defaults = success(&args, statkit_bare(&args));
    if std::env::var_os("STATKIT_BLESS").is_some() {
        std::fs::write(&sample, &defaults).expect("write packaging/statkit.toml");
    }
    let written = std::fs::read_to_string(&sample).unwrap_or_default();
    assert!(
        written == defaults,
        "packaging/statkit.toml is not what `statkit serve --print-config` prints: regenerate it with \
         `STATKIT_BLESS=1 cargo test -p statkit-cli --test cli packaging::the_sample_config` \
         (or `env -i target/debug/statkit serve --print-config > packaging/statkit.toml`)\n{}",
        util::diff_lines(
            &defaults.lines().map(str::to_owned).collect::<Vec<_>>(),
            &written.lines().map(str::to_owned).collect::<Vec<_>>()
        )
    );
    // The server reads it, and it changes nothing.
    let path = sample.to_str().expect("UTF-8 path");
    let args = ["serve", "--config", path, "--print-config"];
    assert_eq!(success(&args, statkit_bare(&args)), defaults);
}

/// systemd-analyze, installed by scripts/test.sh (Debian's systemd).
fn systemd_analyze() -> PathBuf {
    let found = match std::env::var_os("STATKIT_TEST_SYSTEMD_ANALYZE") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("systemd-analyze"))
                .find(|path| path.is_file())
        }),
    };
    match found {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "systemd-analyze not found (from $STATKIT_TEST_SYSTEMD_ANALYZE or PATH): \
             run scripts/test.sh, which installs Debian's systemd"
        ),
    }
}

/// The value of the unit's `key=` line.
fn directive<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in packaging/statkit.service"))
}

#[test]
fn the_systemd_unit_verifies_and_starts_the_server_with_the_sample_config() {
    let unit = std::fs::read_to_string(packaging().join("statkit.service"))
        .expect("read packaging/statkit.service");
    // What ExecStart runs is a command line this statkit accepts.
    let exec: Vec<&str> = directive(&unit, "ExecStart").split_whitespace().collect();
    assert_eq!(
        exec[..],
        [
            "/usr/local/bin/statkit",
            "serve",
            "--config",
            "/etc/statkit/statkit.toml"
        ],
        "docs/install.md installs the binary and the config there"
    );
    let sample = packaging().join("statkit.toml");
    let args = [
        "serve",
        "--config",
        sample.to_str().expect("UTF-8 path"),
        "--print-config",
    ];
    success(&args, statkit_bare(&args));
    // The hardening the unit promises.
    for (key, value) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "statkit"),
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("BindPaths", "-/tmp/stats-pipe"),
        ("ReadWritePaths", "-/dev/shm/statkit"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
    ] {
        assert_eq!(directive(&unit, key), value, "{key}=");
    }

    // verify checks that the programs exist: this build's binary stands in
    // for the installed one. Man pages are not installed here (`statkit
    // man` is tested above).
    let dir = util::Dir::new("systemd-unit");
    let copy = dir.write(
        "statkit.service",
        &unit.replace("/usr/local/bin/statkit", util::statkit_bin()),
    );
    let analyze = systemd_analyze();
    let mut verify = Command::new(&analyze);
    verify.args(["verify", "--man=no"]).arg(&copy);
    let output = util::run_bounded(verify, TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify ({}):\n{stderr}",
        output.status
    );
    // And the sandbox is tight: systemd's exposure score at most 2.0 of 10
    // (as written, 1.6).
    let mut security = Command::new(&analyze);
    security
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&copy);
    let output = util::run_bounded(security, TIMEOUT);
    assert!(
        output.status.success(),
        "systemd-analyze security: exposure above 2.0:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The Dockerfile's instructions, continuation lines joined, comments
/// left out: (`FROM`, `rust:... AS builder`).
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(packaging().join("../Dockerfile")).expect("read Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
                instructions.push((word.to_ascii_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// A JSON-form instruction's words (`["serve", "--config", "FILE"]`).
fn exec_form(value: &str) -> Vec<String> {
    serde_json::from_str(value).unwrap_or_else(|e| panic!("not the exec form ({e}): {value}"))
}

/// Docker cannot build here, so the Dockerfile is checked piece by piece:
/// its stages, that what it copies exists, that the builder runs the
/// documented install, and that the command it starts, with its
/// environment, is one this statkit accepts and listens on the ports it
/// exposes.
#[test]
fn the_dockerfile_builds_in_two_stages_and_runs_what_this_statkit_accepts() {
    let instructions = dockerfile();
    let all = |name: &str| -> Vec<&str> {
        instructions
            .iter()
            .filter(|(word, _)| word == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    // The runtime stage's instructions: what the image runs with.
    let last = instructions
        .iter()
        .rposition(|(word, _)| word == "FROM")
        .expect("a FROM");
    let runtime = |name: &str| -> Vec<&str> {
        instructions[last..]
            .iter()
            .filter(|(word, _)| word == name)
            .map(|(_, value)| value.as_str())
            .collect()
    };
    let one = |name: &str| -> &str {
        match all(name)[..] {
            [value] => value,
            ref values => panic!("expected one {name}, found {values:?}"),
        }
    };

    // Two stages: a Rust builder, then a slim Debian runtime.
    let stages = all("FROM");
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(
        stages[0].starts_with("rust:") && stages[0].ends_with(" AS builder"),
        "{stages:?}"
    );
    assert!(
        stages[1].starts_with("debian:") && stages[1].ends_with("-slim"),
        "{stages:?}"
    );
    // The builder's Rust is at least the workspace's.
    let rust: Vec<u32> = one("ARG")
        .strip_prefix("RUST_VERSION=")
        .expect("ARG RUST_VERSION=")
        .split('.')
        .map(|n| n.parse().expect("a version number"))
        .collect();
    let manifest = std::fs::read_to_string(packaging().join("../Cargo.toml")).expect("Cargo.toml");
    let msrv: Vec<u32> = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the workspace's rust-version")
        .split('.')
        .map(|n| n.parse().expect("a version number"))
        .collect();
    assert!(
        rust >= msrv,
        "RUST_VERSION {rust:?} is below the MSRV {msrv:?}"
    );
    let runs = all("RUN");
    assert!(
        runs.iter().any(|r| {
            r.starts_with("cargo install --locked --path crates/statkit-cli --root /out")
        }),
        "the builder runs the install docs/install.md documents: {runs:?}"
    );

    // What it copies from the context exists, and the context (.dockerignore) lets it in.
    let ignore =
        std::fs::read_to_string(packaging().join("../.dockerignore")).expect(".dockerignore");
    let mut installed = None;
    for copy in all("COPY") {
        let words: Vec<&str> = copy.split_whitespace().collect();
        let (destination, sources) = words.split_last().expect("COPY SRC DEST");
        if let Some(stage) = sources[0].strip_prefix("--from=") {
            assert_eq!(stage, "builder");
            assert_eq!(
                sources[1..],
                ["/out/bin/statkit"],
                "cargo install --root /out"
            );
            installed = Some(*destination);
            continue;
        }
        for source in sources {
            assert!(
                packaging().join("..").join(source).exists(),
                "COPY {source}: not in the repository"
            );
            let allowed = format!("!{}", source.trim_end_matches('/'));
            assert!(
                ignore.lines().any(|l| l.trim_end_matches('/') == allowed),
                ".dockerignore leaves {source} out of the build context"
            );
        }
    }

    // It runs the binary it installed, as a user that is not root.
    let entrypoint = exec_form(one("ENTRYPOINT"));
    for name in ["ENTRYPOINT", "USER", "CMD", "EXPOSE"] {
        assert_eq!(
            runtime(name).len(),
            1,
            "{name} belongs to the runtime stage"
        );
    }
    assert_eq!(Some(entrypoint[0].as_str()), installed, "ENTRYPOINT");
    let user = one("USER");
    assert!(user != "root" && user != "0", "USER {user}");

    // The command with the image's environment, and the sample config in
    // place of /etc's: statkit accepts it, and listens on 0.0.0.0.
    let mut args = exec_form(one("CMD"));
    let config = args
        .iter()
        .position(|a| a == "--config")
        .expect("CMD gives --config");
    assert_eq!(args[config + 1], "/etc/statkit/statkit.toml");
    assert!(
        all("COPY").contains(&"packaging/statkit.toml /etc/statkit/statkit.toml"),
        "the image has the config CMD reads"
    );
    args[config + 1] = packaging()
        .join("statkit.toml")
        .to_string_lossy()
        .into_owned();
    args.push("--print-config".into());
    let mut command = Command::new(util::statkit_bin());
    command.env_clear().args(&args);
    for env in runtime("ENV") {
        for pair in env.split_whitespace() {
            let (name, value) = pair.split_once('=').expect("ENV NAME=VALUE");
            command.env(name, value);
        }
    }
    let printed = success(
        &["(the Dockerfile's CMD)"],
        util::run_bounded(command, TIMEOUT),
    );
    let settings: toml::Table = printed.parse().expect("--print-config prints TOML");
    let listen = |section: Option<&str>, key: &str| -> String {
        let table = match section {
            Some(name) => settings[name].as_table().expect("a section"),
            None => &settings,
        };
        table[key].as_str().expect("an address").to_owned()
    };
    let statsd = listen(None, "statsd");
    let admin = listen(Some("admin"), "listen");
    let http = listen(Some("http"), "listen");
    let port = |addr: &str| {
        addr.strip_prefix("0.0.0.0:")
            .unwrap_or_else(|| panic!("{addr} is not on every interface of the container"))
            .to_owned()
    };
    let exposed: Vec<&str> = one("EXPOSE").split_whitespace().collect();
    assert_eq!(
        exposed,
        [
            format!("{}/udp", port(&statsd)),
            format!("{}/tcp", port(&statsd)),
            format!("{}/tcp", port(&admin)),
            format!("{}/tcp", port(&http)),
        ],
        "EXPOSE names the ports the server listens on"
    );
}
