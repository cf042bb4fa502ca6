//! The settings as text: a TOML configuration (`--print-config`), the
//! admin port's `name: value` lines, and the reference table of
//! docs/serve.md.

use std::fmt::Write;

use toml::Value;

use super::{Declared, Origin, Settings};

/// The section a key lives in (`""` for the top level) and its name there.
fn split(key: &str) -> (&str, &str) {
    key.rsplit_once('.').unwrap_or(("", key))
}

/// The settings as a TOML file, each with its help as a comment; unset
/// ones are commented out, so feeding the text back with `--config` gives
/// the same settings and the same text.
pub fn print_toml(settings: &Settings) -> String {
    let mut out = String::from(
        "# statkit serve: the effective configuration (defaults, file, environment, flags).\n",
    );
    let mut sections: Vec<&str> = Vec::new();
    for setting in settings.registry() {
        let (section, _) = split(setting.key());
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    // Top-level keys must come before the first table header.
    sections.sort_by_key(|section| !section.is_empty());
    for section in sections {
        if !section.is_empty() {
            let _ = write!(out, "\n[{section}]\n");
        }
        for setting in settings.registry() {
            let (of, name) = split(setting.key());
            if of != section {
                continue;
            }
            let _ = write!(
                out,
                "\n# {} [default: {}]\n",
                setting.help(),
                setting.default_shown()
            );
            // A default the environment decides (the state folder, the
            // stats folder) is shown but left to decide again where the
            // file is used, as is an unset setting.
            let derived = match settings.origin(setting.key()) {
                Some(Origin::Default) => setting.is_derived(),
                Some(Origin::Env(name)) => !name.starts_with("STATKIT_"),
                _ => false,
            };
            match settings.value(setting.key()) {
                Some(value) if derived => {
                    let _ = writeln!(out, "# {name} = {value}");
                }
                Some(value) => {
                    let _ = writeln!(out, "{name} = {value}");
                }
                None => {
                    let _ = writeln!(out, "# {name} = <{}>", setting.value_name());
                }
            }
        }
    }
    out
}

/// One `key: value` line per setting, as etsy's admin port lists its
/// configuration (lists joined by commas, numbers as JavaScript prints
/// them); unset settings show nothing after the colon.
pub fn plain_lines(settings: &Settings) -> String {
    let mut out = String::from("\n");
    for setting in settings.registry() {
        let value = settings.value(setting.key()).map(plain).unwrap_or_default();
        let _ = writeln!(out, "{}: {value}", setting.key());
    }
    out
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Integer(n) => n.to_string(),
        Value::Float(x) => statkit_wire::jsnum::to_string(*x),
        Value::Boolean(b) => b.to_string(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The reference table of every setting, in Markdown, for docs/serve.md.
pub fn docs_table(registry: &[&'static dyn Declared]) -> String {
    let mut out = String::from(
        "| setting | flag, environment | default | meaning |\n| --- | --- | --- | --- |\n",
    );
    for setting in registry {
        let given = if setting.is_file_only() {
            "file only".to_owned()
        } else {
            let repeat = if setting.is_list() {
                " (repeatable)"
            } else {
                ""
            };
            format!("`{}`{repeat}, `{}`", setting.flag(), setting.env())
        };
        let mut meaning = setting.help().replace('|', "\\|");
        let aliases: Vec<String> = setting
            .aliases()
            .iter()
            .map(|a| format!("`{}`", a.key))
            .collect();
        if !aliases.is_empty() {
            let _ = write!(meaning, " (formerly {})", aliases.join(", "));
        }
        let _ = writeln!(
            out,
            "| `{}` | {given} | {} | {meaning} |",
            setting.key(),
            setting.default_shown().replace('|', "\\|"),
        );
    }
    out
}
