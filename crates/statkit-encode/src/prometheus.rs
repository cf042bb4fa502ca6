//! Prometheus exposition of the store: text format 0.0.4 or OpenMetrics
//! 1.0.
//!
//! Without a mapping file:
//!
//! - A counter is a `counter` family: `<name>_total`, the count since the
//!   series was first seen (kept across restarts by the state file).
//! - A gauge is a `gauge`; a set a `gauge` of the members the last flush
//!   saw.
//! - A timer is a `histogram`: `<name>_bucket{le=...}` for the configured
//!   bounds and `+Inf`, `_sum`, `_count`, all since first seen, in
//!   milliseconds.
//!
//! A key `name;tag=value;bare` gives the metric name `name` and the labels
//! `tag="value"` and `bare="true"`. Metric names keep `[A-Za-z0-9_:]` and
//! turn every other byte into `_`; label names keep `[A-Za-z0-9_]`.
//!
//! With a mapping file ([`Mapping`], statsd_exporter's rules), a name a
//! rule maps takes the rule's name, its labels over the key's tags (sorted
//! by name), its `help`, and, as statsd_exporter exposes them: a counter
//! keeps its name as written (`_total` is added only in OpenMetrics, where
//! it is required), and a timer is observed in seconds, as a histogram of
//! the rule's buckets or a summary (`prometheus/mapped.rs` says what a
//! summary can show). A dropped name is left out; a name no rule maps is
//! exposed as without a mapping.
//!
//! Two series that give the same name and labels, or one name used by two
//! types, would make the exposition invalid: the first (in name order) is
//! kept, the rest are left out and counted.
//!
//! A name that had more label sets than the store takes per name has an
//! overflow series (every label `__overflow__`), and
//! `statkit_series_overflow_total{name="<statsd name>"}` counts the series
//! reports folded into it.

mod mapped;
mod process;
mod write;

use std::sync::Arc;
use std::time::Duration;

use statkit_mapping::{Cache, Mapper, Rule};
use statkit_store::{split_key, Kind, Series, Store};

use crate::labels::HostLabels;

pub use mapped::metric_kind;
pub use process::{process, ProcessStats};
pub use write::metric_name;
use write::Les;
pub(crate) use write::{float, number, tag_pairs};
use write::{header, labels, samples};

/// Which exposition format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (without `q=0`), else text 0.0.4.
    pub fn negotiate(accept: &str) -> Format {
        let wants = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            parts.next() == Some("application/openmetrics-text")
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        });
        if wants {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A mapping file's rules and the cache of what they made of the store's
/// names (keep it from one render to the next).
#[derive(Debug)]
pub struct Mapping<'m> {
    pub mapper: &'m Mapper,
    pub cache: &'m mut Cache,
}

/// How the store is exposed: through a mapping file or as sent, which idle
/// series are left out, and the descriptions programs gave their metrics.
#[derive(Default)]
pub struct Exposition<'m, 'd> {
    pub mapping: Option<Mapping<'m>>,
    /// The host's labels (`--label`), on every series that does not name
    /// them itself.
    pub labels: Option<&'m HostLabels>,
    /// Series without activity (`Series::last_active`) for longer than this
    /// before the store's newest flush are left out, except the server's
    /// own; a mapped series goes by its rule's `ttl` when it has one.
    /// `None`: every series is shown.
    pub series_ttl: Option<Duration>,
    /// A statsd name's (a key without its tags) help text and unit, from
    /// where its values came from (a stats file's `describe_*`): its
    /// family's `# HELP` is that text unless a mapping rule has one, and,
    /// in OpenMetrics, `# UNIT` is the unit when the family's name ends
    /// with `_<unit>`, as the OpenMetrics specification requires of a unit
    /// (otherwise the unit is left out). Families take the description of
    /// their first series' name.
    pub described: Option<&'d Describe<'d>>,
}

/// Gives a statsd name's description, if its program gave one.
pub type Describe<'d> = dyn Fn(&[u8]) -> Option<Described<'d>> + 'd;

impl std::fmt::Debug for Exposition<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition")
            .field("mapping", &self.mapping)
            .field("labels", &self.labels)
            .field("series_ttl", &self.series_ttl)
            .field("described", &self.described.is_some())
            .finish()
    }
}

/// A family's own help text and unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Described<'d> {
    /// The `# HELP` text (empty: the default text).
    pub help: &'d str,
    /// The unit (empty: none).
    pub unit: &'d str,
}

/// Whether `series` has had no activity for longer than `ttl` before the
/// store's newest flush.
fn idle(store: &Store, series: &Series, ttl: Option<Duration>) -> bool {
    ttl.is_some_and(|ttl| {
        let quiet = store.last_flush().saturating_sub(series.last_active);
        quiet as f64 > ttl.as_secs_f64()
    })
}

/// How a series' family is typed and written.
#[derive(Clone, Debug)]
enum Shape {
    /// As without a mapping file.
    Plain,
    /// Mapped: a counter whose name did (`true`) or did not end in
    /// `_total`, a gauge, or a timer by its rule.
    Mapped { total: bool, rule: Arc<Rule> },
}

/// One series, ready to sort into families.
struct Entry<'s> {
    /// The name text 0.0.4 declares: the family, with `_total` for a
    /// counter that has it (so a counter `x` and a gauge `x_total`, whose
    /// samples would collide, sort together and clash).
    exposed: String,
    kind: Kind,
    shape: Shape,
    labels: String,
    raw_name: &'s [u8],
    series: &'s Series,
}

impl Entry<'_> {
    /// Whether the entry is a counter whose exposed name ends in `_total`.
    fn total(&self) -> bool {
        self.kind == Kind::Counter
            && match &self.shape {
                Shape::Plain => true,
                Shape::Mapped { total, .. } => *total,
            }
    }

    /// The family's name: OpenMetrics declares a counter without `_total`.
    fn family(&self) -> &str {
        match self.total() {
            true => self.exposed.strip_suffix("_total").unwrap_or(&self.exposed),
            false => &self.exposed,
        }
    }

    /// The name `format` declares the entry's family by: text 0.0.4
    /// declares a counter `x` as `x_total` (so a gauge `x_total` clashes
    /// with it), OpenMetrics as `x` (so a gauge `x` does).
    fn declared(&self, format: Format) -> &str {
        match format {
            Format::Text => &self.exposed,
            Format::OpenMetrics => self.family(),
        }
    }

    /// What must agree for two entries to share a family.
    fn typing(&self) -> (Kind, &'static str, bool) {
        let (type_name, total) = match &self.shape {
            Shape::Plain => (write::type_name(self.kind, None), true),
            Shape::Mapped { total, rule } => (write::type_name(self.kind, Some(rule)), *total),
        };
        (self.kind, type_name, total)
    }
}

/// Writes the store in `format` to `out` as `exposition` says; returns how
/// many series were left out for clashing names.
pub fn render(
    store: &Store,
    format: Format,
    exposition: Exposition<'_, '_>,
    out: &mut String,
) -> usize {
    let (ttl, host) = (exposition.series_ttl, exposition.labels);
    let lookup = |name: &[u8]| exposition.described.and_then(|described| described(name));
    let mut entries: Vec<Entry<'_>> = match exposition.mapping {
        None => store
            .iter()
            .filter(|&(_, key, series)| store.is_own(key) || !idle(store, series, ttl))
            .map(|series| plain(series, host))
            .collect(),
        Some(mapping) => mapped::entries(store, mapping, ttl, host),
    };
    // Grouped by the name the format declares (`Entry::declared`).
    entries.sort_unstable_by(|a, b| {
        (a.declared(format), a.kind, &a.labels, a.raw_name).cmp(&(
            b.declared(format),
            b.kind,
            &b.labels,
            b.raw_name,
        ))
    });
    let les = Les::new(store);
    let mut clashes = 0;
    let mut previous: Option<(&str, (Kind, &str, bool), &str)> = None;
    for e in &entries {
        let key = e.declared(format);
        match previous {
            Some((declared, typing, labels)) if declared == key => {
                if typing != e.typing() || labels == e.labels {
                    clashes += 1;
                    continue;
                }
            }
            _ => header(out, format, e, lookup(e.raw_name)),
        }
        previous = Some((key, e.typing(), &e.labels));
        samples(out, format, e, &les);
    }
    write::overflows(out, format, store);
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    clashes
}

/// The entry of a series as without a mapping file.
fn plain<'s>(
    (kind, key, series): (Kind, &'s [u8], &'s Series),
    host: Option<&HostLabels>,
) -> Entry<'s> {
    let (name, tags) = split_key(key);
    let mut exposed = String::with_capacity(name.len() + 7);
    statkit_mapping::push_metric_name(name, &mut exposed);
    if kind == Kind::Counter {
        exposed.push_str("_total");
    }
    Entry {
        exposed,
        kind,
        shape: Shape::Plain,
        labels: labels(tags, kind == Kind::Timer, host),
        raw_name: name,
        series,
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod described_tests;
