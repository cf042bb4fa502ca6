//! The help texts and units of the keys the [`feed`](crate::feed) gives,
//! for the server's `/metrics` (`# HELP`, `# UNIT`). Readings carry values
//! only, as statsd samples do; the descriptions go beside them.
//!
//! A described metric's key (per process and for the host) takes its
//! description. A histogram's keys take it with what each is: `.count`
//! (values recorded, no unit) and `.p50`, `.p90`, `.p99`, `.max` (in the
//! histogram's unit). The host key takes the description of the first
//! file that has one. Text values give no key, so no description.

use std::collections::HashMap;
use std::path::Path;

use statkit_format::{Description, StatFile, Value};

use crate::feed::{clean, file_prefix, HISTOGRAM_GAUGES, HOST_PREFIX};

/// A feed key's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyHelp {
    /// The statsd key the feed gives (without tags).
    pub key: String,
    /// Its unit, or empty.
    pub unit: String,
    /// Its help text.
    pub help: String,
}

/// Appends to `out` the descriptions of the keys a scan of `files` gives
/// described metrics, in file order; a key of several tag sets comes once
/// per tag set (the first counts).
pub fn key_help<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a StatFile)>,
    out: &mut Vec<KeyHelp>,
) {
    for (path, file) in files {
        if file.descriptions.is_empty() {
            continue;
        }
        let by_name: HashMap<&str, &Description> = file
            .descriptions
            .iter()
            .map(|d| (d.name.as_str(), d))
            .collect();
        let retired = file.identity.as_ref().is_some_and(|i| i.retired);
        let prefix = (!retired).then(|| file_prefix(path));
        for stat in &file.stats {
            let name = stat
                .label
                .split_once('{')
                .map_or(stat.label.as_str(), |(n, _)| n);
            let Some(described) = by_name.get(name) else {
                continue;
            };
            let name = clean(name);
            for prefix in prefix.iter().map(String::as_str).chain([HOST_PREFIX]) {
                keys(&format!("{prefix}{name}"), &stat.value, described, out);
            }
        }
    }
}

/// The keys of one value under `key`, with their descriptions.
fn keys(key: &str, value: &Value, described: &Description, out: &mut Vec<KeyHelp>) {
    let mut push = |key: String, unit: &str, help: String| {
        out.push(KeyHelp {
            key,
            unit: unit.to_owned(),
            help,
        })
    };
    let help = described.help.as_str();
    match value {
        Value::Text(_) => {}
        Value::Histogram(_) => {
            push(
                format!("{key}.count"),
                "",
                format!("{help} (values recorded)"),
            );
            for (suffix, _) in HISTOGRAM_GAUGES {
                let what = format!("{help} ({suffix} of the values since the last scan)");
                push(format!("{key}.{suffix}"), &described.unit, what);
            }
        }
        _ => push(key.to_owned(), &described.unit, help.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use statkit_format::{Format, Histogram, Identity, Stat};

    use super::*;

    fn file(retired: bool) -> StatFile {
        let stat = |label: &str, value| Stat {
            label: label.into(),
            value,
        };
        StatFile {
            format: Format::Statkit,
            pid: Some(7),
            identity: Some(Identity {
                pid: 7,
                start_time: 1,
                created_ns: 0,
                program: "web".into(),
                retired,
                piped: false,
            }),
            stats: vec![
                stat("hits{code=200}", Value::Counter(1)),
                stat("lat", Value::Histogram(Histogram::default())),
                stat("version", Value::Text("1".into())),
                stat("plain", Value::Gauge(1.0)),
            ],
            descriptions: vec![
                Description::new("hits", "", "requests served").unwrap(),
                Description::new("lat", "seconds", "time to answer").unwrap(),
                Description::new("version", "", "the build").unwrap(),
                Description::new("unused", "", "no such metric").unwrap(),
            ],
        }
    }

    fn keys_of(files: &[(&str, StatFile)]) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        key_help(files.iter().map(|(p, f)| (Path::new(*p), f)), &mut out);
        out.into_iter().map(|k| (k.key, k.unit, k.help)).collect()
    }

    #[test]
    fn described_metrics_give_their_keys_per_process_and_for_the_host() {
        let keys = keys_of(&[("/d/web-7.statkit", file(false))]);
        let has = |key: &str, unit: &str, help: &str| {
            keys.contains(&(key.to_owned(), unit.to_owned(), help.to_owned()))
        };
        assert!(has("shm.web-7.hits", "", "requests served"), "{keys:?}");
        assert!(has("shm.host.hits", "", "requests served"));
        assert!(has(
            "shm.web-7.lat.count",
            "",
            "time to answer (values recorded)"
        ));
        assert!(has(
            "shm.host.lat.p99",
            "seconds",
            "time to answer (p99 of the values since the last scan)"
        ));
        assert!(!keys
            .iter()
            .any(|(k, _, _)| k.contains("version") || k.contains("plain") || k.contains("unused")));
        assert_eq!(keys.len(), 2 + 2 * 5);
    }

    #[test]
    fn retired_totals_describe_the_host_keys_only() {
        let keys = keys_of(&[("/d/web.retired.statkit", file(true))]);
        assert!(
            keys.iter().all(|(k, _, _)| k.starts_with("shm.host.")),
            "{keys:?}"
        );
        assert_eq!(keys.len(), 1 + 5);
    }
}
