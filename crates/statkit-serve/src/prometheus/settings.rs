//! The Prometheus face's settings: statsd_exporter's mapping file
//! (`[mapping]`), the per-name limit of label sets, the idle series' TTL.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use statkit_mapping::{LoadError, Mapper, MAX_FILE_BYTES};

use crate::settings::{declare, Setting};
use crate::{ConfigError, Settings};

declare! {
    CONFIG: Option<PathBuf> = Setting::new(
        "mapping.config",
        "",
        "statsd_exporter's mapping file (YAML, as it is): names, labels, help and timer types of /metrics",
    )
    .shown("none: names as sent")
    .value_name("FILE");
    MAX_SERIES_PER_NAME: usize = Setting::new(
        "max_series_per_name",
        "10000",
        "Label sets one name may have in the history store (/metrics, the dashboard); new ones past it are folded into the name's __overflow__ series and counted; 0 for no limit",
    )
    .value_name("N");
    SERIES_TTL: Duration = Setting::new(
        "series_ttl",
        "0",
        "Series without activity (a sample of any value) for this long leave the aggregation (Graphite gets no more zeros for them), the history store, the dashboard and /metrics, where a mapping rule's ttl wins; 0 keeps every series, as etsy does",
    );
}

/// What the Prometheus face is configured with.
#[derive(Clone, Debug, Default)]
pub struct PrometheusConfig {
    /// statsd_exporter's mapping file, read and checked.
    pub mapping: Option<Arc<Mapper>>,
    /// Idle series past this are left out of `/metrics`.
    pub series_ttl: Option<Duration>,
}

impl PrometheusConfig {
    pub(crate) fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        Ok(PrometheusConfig {
            mapping: from_settings(s)?,
            series_ttl: series_ttl(s),
        })
    }
}

/// `series_ttl`, `None` when 0 (off).
pub(crate) fn series_ttl(s: &Settings) -> Option<Duration> {
    Some(s.get(&SERIES_TTL)).filter(|t| !t.is_zero())
}

/// The per-name limit of the history store.
pub(crate) fn max_series_per_name(s: &Settings) -> usize {
    s.get(&MAX_SERIES_PER_NAME)
}

/// Bucket bounds the store may count at: the aggregation's own limit.
const MAX_BOUNDS: usize = 64;

/// The mapping file's rules, read and checked; `None` when none is set.
fn from_settings(s: &Settings) -> Result<Option<Arc<Mapper>>, ConfigError> {
    let Some(path) = s.get(&CONFIG) else {
        return Ok(None);
    };
    load(&path)
        .map(|m| Some(Arc::new(m)))
        .map_err(|message| ConfigError::invalid(CONFIG.key(), message))
}

/// Reads and checks the file at `path`; the error says what is wrong,
/// line by line.
pub fn load(path: &Path) -> Result<Mapper, String> {
    let shown = path.display();
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    Mapper::from_yaml(&text).map_err(|e| match e {
        LoadError::Syntax { .. } => format!("{shown}: {e}"),
        LoadError::Invalid(_) => format!("{shown} is not a valid mapping file:\n{e}"),
    })
}

/// The history store's bucket bounds (milliseconds) of a server with
/// `settings` and `mapper`'s rules: what `statkit mapping test` renders
/// with, as the server would.
pub fn store_bounds(settings: &Settings, mapper: &Mapper) -> Result<Arc<[f64]>, ConfigError> {
    bounds(crate::pipeline::settings::buckets(settings)?, Some(mapper))
}

/// The store's bucket bounds (milliseconds) with every histogram rule's
/// bounds (seconds) added, so each rule's buckets are counted.
pub(crate) fn bounds(
    configured: Arc<[f64]>,
    mapper: Option<&Mapper>,
) -> Result<Arc<[f64]>, ConfigError> {
    let Some(mapper) = mapper else {
        return Ok(configured);
    };
    let mut all: Vec<f64> = configured.to_vec();
    for bound in mapper.histogram_bounds() {
        let ms = bound * 1000.0;
        if !all.iter().any(|&b| (b - ms).abs() <= ms.abs() * 1e-9) {
            all.push(ms);
        }
    }
    if all.len() > MAX_BOUNDS {
        return Err(ConfigError::invalid(
            CONFIG.key(),
            format!(
                "the histogram rules and prometheus_buckets together have {} bucket bounds; at most {MAX_BOUNDS} can be counted",
                all.len()
            ),
        ));
    }
    all.sort_by(f64::total_cmp);
    Ok(Arc::from(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_bounds_join_the_configured_ones() {
        let mapper = Mapper::from_yaml(
            "mappings:\n- match: a\n  name: a\n  observer_type: histogram\n  buckets: [0.01, 0.5]\n",
        )
        .unwrap();
        let got = bounds(Arc::from([10.0, 100.0]), Some(&mapper)).unwrap();
        assert_eq!(&*got, &[10.0, 100.0, 500.0]);
        let same = bounds(Arc::from([1.0]), None).unwrap();
        assert_eq!(&*same, &[1.0]);
    }

    #[test]
    fn a_bad_file_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yml");
        std::fs::write(&path, "mappings:\n- match: a b\n  name: x\n").unwrap();
        let err = load(&path).unwrap_err();
        assert!(
            err.contains("is not a valid mapping file:\nline 2: error: `match`"),
            "{err}"
        );
        assert!(load(&dir.path().join("none"))
            .unwrap_err()
            .contains("cannot read"));
    }
}
