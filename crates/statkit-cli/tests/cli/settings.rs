//! `statkit serve`'s settings as a user meets them: `--help`,
//! `--print-config`, a configuration file with a typo, and `ctl config` on a
//! running server. All of them come from one declaration per setting, so
//! they must agree.

use std::collections::BTreeMap;
use std::process::Command;

use crate::util::{self, Statkit, TIMEOUT};

/// `statkit serve` with none of the environment the harness sets, so every
/// setting is at its default unless a test says otherwise.
fn serve(args: &[&str]) -> Command {
    let mut command = util::statkit_command();
    command
        .env_remove("STATKIT_DIR")
        .env_remove("STATKIT_PIPE_DIR")
        .arg("serve")
        .args(args);
    command
}

fn stdout(command: Command) -> String {
    let output = util::run_bounded(command, TIMEOUT);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// What `--print-config` printed, as dotted keys and values.
fn settings(printed: &str) -> BTreeMap<String, toml::Value> {
    fn walk(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, toml::Value>) {
        for (name, value) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            match value {
                toml::Value::Table(inner) => walk(inner, &key, out),
                other => {
                    out.insert(key, other.clone());
                }
            }
        }
    }
    let table: toml::Table = printed.parse().expect("--print-config prints TOML");
    let mut out = BTreeMap::new();
    walk(&table, "", &mut out);
    out
}

/// A value as help writes defaults: lists joined by commas, no quotes.
fn plain(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => text.clone(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Every flag of `--help` with its help text (which may continue on the
/// lines below it).
fn flags(help: &str) -> Vec<(String, String)> {
    let mut flags: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("--") {
            let flag = rest.split([' ', '=']).next().unwrap_or_default();
            flags.push((format!("--{flag}"), trimmed.to_owned()));
        } else if let Some((_, text)) = flags.last_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    flags
}

#[test]
fn help_shows_the_defaults_the_server_runs_with_and_every_variable() {
    let help = stdout(serve(&["--help"]));
    let printed = settings(&stdout(serve(&["--print-config"])));
    let by_flag: BTreeMap<String, (&String, &toml::Value)> = printed
        .iter()
        .map(|(key, value)| (format!("--{}", key.replace(['.', '_'], "-")), (key, value)))
        .collect();
    let mut compared = 0;
    for (flag, text) in flags(&help) {
        if ["--config", "--print-config", "--help", "--version"].contains(&flag.as_str()) {
            continue;
        }
        let variable = format!(
            "[env: STATKIT_{}]",
            flag[2..].replace('-', "_").to_uppercase()
        );
        assert!(
            text.contains(&variable),
            "{flag} does not name {variable}: {text}"
        );
        let Some(default) = text
            .split("[default: ")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
        else {
            panic!("{flag} shows no default: {text}");
        };
        match by_flag.get(&flag) {
            Some((key, value)) if default == "none" => {
                assert_eq!(plain(value), "", "{key}: help says none");
            }
            Some((key, value)) if !default.contains([' ', '$']) => {
                assert_eq!(
                    plain(value),
                    default,
                    "{key}: help and --print-config disagree"
                );
                compared += 1;
            }
            Some(_) => {}
            None => assert!(
                default == "none" || default.contains(' ') || default == "off",
                "{flag}: help says {default:?} but --print-config leaves it unset"
            ),
        }
    }
    assert!(compared > 40, "only {compared} defaults compared");
}

#[test]
fn printed_configuration_reads_back_the_same() {
    let dir = util::Dir::new("settings");
    let first = stdout(serve(&[
        "--print-config",
        "--flush-interval",
        "1500ms",
        "--graphite",
        "127.0.0.1:2003",
        "--percent-threshold",
        "90,-10",
        "--http-allow",
        "::1",
    ]));
    assert!(first.contains("\nflush_interval = \"1500ms\"\n"), "{first}");
    assert!(
        first.contains("\npercent_thresholds = [90.0, -10.0]\n"),
        "{first}"
    );
    let file = dir.write("printed.toml", &first);
    let again = stdout(serve(&[
        "--print-config",
        "--config",
        file.to_str().unwrap(),
    ]));
    assert_eq!(again, first);
}

#[test]
fn a_mistyped_key_or_flag_gets_a_suggestion_and_exit_code_2() {
    let dir = util::Dir::new("settings");
    let file = dir.write(
        "typo.toml",
        "flush_intervall = 2\n[http]\nlisten = \"off\"\n",
    );
    let output = util::run_bounded(serve(&["--config", file.to_str().unwrap()]), TIMEOUT);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "typo.toml: unknown setting `flush_intervall`; did you mean `flush_interval`?"
        ),
        "{stderr}"
    );
    let output = util::run_bounded(serve(&["--flush-intervall", "2"]), TIMEOUT);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("'--flush-interval'"));
}

#[test]
fn variables_and_former_names_still_set_their_settings() {
    let mut command = serve(&["--print-config", "--buffer-length", "60"]);
    command
        .env("STATKIT_FLUSH_INTERVAL", "2m")
        .env("STATKIT_HTTP", "off")
        .env("STATKIT_PROMETHEUS_BUCKETS", "1,2");
    let printed = settings(&stdout(command));
    assert_eq!(printed["flush_interval"], toml::Value::Integer(120));
    assert_eq!(printed["http.listen"].as_str(), Some("off"));
    assert_eq!(plain(&printed["prometheus_buckets"]), "1,2");
    assert_eq!(printed["requests.buffer_length"], toml::Value::Integer(60));
}

#[test]
fn ctl_config_shows_the_settings_the_server_runs_with() {
    let statkit = Statkit::start(&["--console=false", "--flush-interval", "3600"]);
    let output = util::run_bounded(
        {
            let mut c = util::statkit_command();
            c.args(["ctl", "--admin", &statkit.admin.to_string(), "config"]);
            c
        },
        TIMEOUT,
    );
    let shown = String::from_utf8_lossy(&output.stdout);
    let keys: Vec<&str> = shown
        .lines()
        .filter_map(|line| line.split_once(": ").map(|(key, _)| key))
        .collect();
    let printed = stdout(serve(&["--print-config"]));
    // Every setting is a line `key = value`, or `# key = ...` when left to
    // the environment or unset; help lines are prose.
    let declared: Vec<String> = printed
        .lines()
        .filter_map(|line| line.trim_start_matches("# ").split_once(" = "))
        .map(|(key, _)| key)
        .filter(|key| {
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(keys.len(), declared.len(), "{shown}\n---\n{printed}");
    assert!(shown.contains("\nflush_interval: 3600\n"), "{shown}");
    assert!(shown.contains("\nconsole: false\n"), "{shown}");
}
