//! The help texts and units of the keys the [`feed`](crate::feed) gives,
//! for the server's `/metrics` (`# HELP`, `# UNIT`). Readings carry values
//! only, as statsd samples do; the descriptions go beside them.
//!
//! A described metric's key (per process and for the host) takes its
//! description. A histogram's keys take it with what each is: `.count`
//! (values recorded, no unit) and `.p50`, `.p90`, `.p99`, `.max` (in the
//! histogram's unit). The host key takes the description of the first
//! file that has one. Text values give no key, so no description.

use std::collections::{HashMap, HashSet};
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
/// described metrics, in file order, each key once (the first description
/// counts), at most `limit` of them; returns how many times it met a key
/// past the limit (a key met in several files counts each time: counting
/// each once would mean remembering them all).
pub fn key_help<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a StatFile)>,
    limit: usize,
    out: &mut Vec<KeyHelp>,
) -> usize {
    let mut found = Found {
        seen: HashSet::new(),
        limit,
        left_out: 0,
        out,
    };
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
                found.keys(&format!("{prefix}{name}"), &stat.value, described);
            }
        }
    }
    found.left_out
}

/// The keys found so far, within the limit.
struct Found<'o> {
    seen: HashSet<String>,
    limit: usize,
    left_out: usize,
    out: &'o mut Vec<KeyHelp>,
}

impl Found<'_> {
    /// Adds `key` unless it is there already; past the limit, counts it.
    fn push(&mut self, key: String, unit: &str, help: String) {
        if self.seen.contains(&key) {
            return;
        }
        if self.seen.len() >= self.limit {
            self.left_out += 1;
            return;
        }
        self.seen.insert(key.clone());
        self.out.push(KeyHelp {
            key,
            unit: unit.to_owned(),
            help,
        });
    }

    /// The keys of one value under `key`, with their descriptions.
    fn keys(&mut self, key: &str, value: &Value, described: &Description) {
        let help = described.help.as_str();
        match value {
            Value::Text(_) => {}
            Value::Histogram(_) => {
                let count = format!("{help} (values recorded)");
                self.push(format!("{key}.count"), "", count);
                for (suffix, _) in HISTOGRAM_GAUGES {
                    let what = format!("{help} ({suffix} of the values since the last scan)");
                    self.push(format!("{key}.{suffix}"), &described.unit, what);
                }
            }
            _ => self.push(key.to_owned(), &described.unit, help.to_owned()),
        }
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
        let files = files.iter().map(|(p, f)| (Path::new(*p), f));
        assert_eq!(key_help(files, usize::MAX, &mut out), 0);
        out.into_iter().map(|k| (k.key, k.unit, k.help)).collect()
    }

    #[test]
    fn each_key_comes_once_and_past_the_limit_keys_are_counted() {
        let (a, b) = (file(false), file(false));
        let files = [
            (Path::new("/d/a.statkit"), &a),
            (Path::new("/d/b.statkit"), &b),
        ];
        let mut out = Vec::new();
        // 6 keys a file, and the 6 host keys they share.
        assert_eq!(key_help(files, usize::MAX, &mut out), 0);
        assert_eq!(out.len(), 18);
        out.clear();
        // Past the limit: b's 6 keys, and 2 host keys met in a and b.
        assert_eq!(key_help(files, 10, &mut out), 6 + 2 * 2);
        assert_eq!(out.len(), 10);
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
