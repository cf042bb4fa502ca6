//! The case files of the suite and their loader.
//!
//! A case is one TOML file (the format is documented in
//! `conformance/README.md`); its id is its path under the suite folder
//! without `.toml` (`packing/etsy-two-types`). Files are read with unknown
//! keys refused, so a misspelt statistic fails the load instead of silently
//! going unchecked.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use statkit_agg::{Bin, Percentile};

/// The dialects a case may document an answer for. Only these names are
/// accepted, so that the published table names each one the same way.
pub const DIALECTS: &[&str] = &[
    "etsy",
    "dogstatsd",
    "statsd_exporter",
    "brubeck",
    "statsite",
    "netdata",
];

/// The dialect whose server the suite can run (etsy statsd 0.9.0): every
/// case answers for it, by default with statkit's own answer.
pub const ETSY: &str = "etsy";

/// The longest datagram a case may build: the largest UDP payload over
/// IPv4, so that every case can be played over the network as written.
pub const MAX_DATAGRAM: usize = 65_507;

/// Why the suite could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0} holds no case file (*.toml)")]
    Empty(PathBuf),
}

/// The kind of series a flush reports.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Counter,
    Gauge,
    Timer,
    Set,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Timer => "timer",
            Self::Set => "set",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// statkit's `sample_rates` setting.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SampleRates {
    /// etsy's: a rate scales a timer's count only.
    Etsy,
    /// A value sent at `@0.1` weighs ten values in every statistic.
    Weighted,
}

/// A histogram setting (etsy's `histogram`): bins for timers whose key
/// contains `metric`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistogramSetting {
    pub metric: String,
    /// Upper bounds, numbers or the string `"inf"`.
    pub bins: Vec<BinBound>,
}

/// One bin bound as written: a number or `"inf"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum BinBound {
    Number(f64),
    Word(String),
}

/// The settings that shape a case's result. Anything left out is the
/// default of both statkit and etsy (percentiles `[90]`, sanitized keys,
/// etsy's sample rates) or, for statkit's limits, statkit's default.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Seconds; only rates (`rate`, `count_ps`) depend on it. Default 10.
    pub flush_interval: Option<f64>,
    /// Percent thresholds; negative means the top N%. Default `[90]`.
    pub percentiles: Option<Vec<f64>>,
    pub sample_rates: Option<SampleRates>,
    /// etsy's `keyNameSanitize`. Default true.
    pub key_sanitize: Option<bool>,
    /// statkit's limits (no etsy equivalent).
    pub max_key_bytes: Option<usize>,
    pub max_set_members: Option<usize>,
    pub max_series: Option<usize>,
    pub timer_exact_limit: Option<usize>,
    #[serde(default)]
    pub histogram: Vec<HistogramSetting>,
}

impl Settings {
    /// Whether the case needs nothing but the defaults, which is what a
    /// server played over the network is expected to run.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// These settings without statkit's own (limits, sample-rate mode):
    /// what a server of another dialect can be told. etsy has no limits
    /// and only its own sample rates, which is what its documented answers
    /// already say.
    pub fn dialect_visible(&self) -> Settings {
        Settings {
            flush_interval: self.flush_interval,
            percentiles: self.percentiles.clone(),
            key_sanitize: self.key_sanitize,
            histogram: self.histogram.clone(),
            ..Settings::default()
        }
    }

    /// Settings read from a TOML file of their own (the keys of a case's
    /// `[settings]`), such as the ones a network target runs.
    pub fn from_file(path: &Path) -> Result<Settings, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| LoadError::Toml {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// The settings that differ from the defaults, for a skipped case's
    /// reason.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                parts.push(format!("{name} = {value}"));
            }
        };
        add("flush_interval", self.flush_interval.map(|v| v.to_string()));
        add(
            "percentiles",
            self.percentiles.as_ref().map(|p| format!("{p:?}")),
        );
        add("sample_rates", self.sample_rates.map(|r| format!("{r:?}")));
        add("key_sanitize", self.key_sanitize.map(|v| v.to_string()));
        add("max_key_bytes", self.max_key_bytes.map(|v| v.to_string()));
        add(
            "max_set_members",
            self.max_set_members.map(|v| v.to_string()),
        );
        add("max_series", self.max_series.map(|v| v.to_string()));
        add(
            "timer_exact_limit",
            self.timer_exact_limit.map(|v| v.to_string()),
        );
        if !self.histogram.is_empty() {
            parts.push("histogram".to_owned());
        }
        parts.join(", ")
    }
}

/// Statistics of one percent threshold, named by its label (`90`,
/// `top10`, `99_9`) in [`ExpectedSeries::percentiles`].
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ThresholdStats {
    pub count: Option<f64>,
    pub mean: Option<f64>,
    pub upper: Option<f64>,
    pub lower: Option<f64>,
    pub sum: Option<f64>,
    pub sum_squares: Option<f64>,
}

/// One series a flush must report. Only the statistics given are compared;
/// which ones a kind may carry is checked when the file is loaded.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSeries {
    pub kind: Kind,
    pub name: String,
    /// Graphite-style tags in order: `env=prod`, or a bare `canary`.
    #[serde(default)]
    pub tags: Vec<String>,
    pub count: Option<f64>,
    pub rate: Option<f64>,
    pub count_ps: Option<f64>,
    pub value: Option<f64>,
    pub cardinality: Option<f64>,
    pub sum: Option<f64>,
    pub sum_squares: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub std: Option<f64>,
    #[serde(default)]
    pub percentiles: BTreeMap<String, ThresholdStats>,
    /// Histogram bins by etsy's label (`bin_1`, `bin_inf`).
    #[serde(default)]
    pub bins: BTreeMap<String, f64>,
}

impl ExpectedSeries {
    /// The statistics to compare, by their neutral names (the ones
    /// [`crate::Observed`] uses): `count`, `upper_90`, `bin_10`...
    pub fn stats(&self) -> BTreeMap<String, f64> {
        let mut stats = BTreeMap::new();
        let mut put = |name: &str, value: Option<f64>| {
            if let Some(value) = value {
                stats.insert(name.to_owned(), value);
            }
        };
        put("count", self.count);
        put("rate", self.rate);
        put("count_ps", self.count_ps);
        put("value", self.value);
        put("cardinality", self.cardinality);
        put("sum", self.sum);
        put("sum_squares", self.sum_squares);
        put("lower", self.lower);
        put("upper", self.upper);
        put("mean", self.mean);
        put("median", self.median);
        put("std", self.std);
        for (label, t) in &self.percentiles {
            put(&format!("count_{label}"), t.count);
            put(&format!("mean_{label}"), t.mean);
            put(&format!("upper_{label}"), t.upper);
            put(&format!("lower_{label}"), t.lower);
            put(&format!("sum_{label}"), t.sum);
            put(&format!("sum_squares_{label}"), t.sum_squares);
        }
        for (label, n) in &self.bins {
            put(label, Some(*n));
        }
        stats
    }

    /// The statistics a kind cannot have, to refuse at load time.
    fn misplaced(&self) -> Vec<&'static str> {
        let given = |name: &'static str, present: bool| present.then_some(name);
        let timer_only = [
            given("count_ps", self.count_ps.is_some()),
            given("sum", self.sum.is_some()),
            given("sum_squares", self.sum_squares.is_some()),
            given("lower", self.lower.is_some()),
            given("upper", self.upper.is_some()),
            given("mean", self.mean.is_some()),
            given("median", self.median.is_some()),
            given("std", self.std.is_some()),
            given("percentiles", !self.percentiles.is_empty()),
            given("bins", !self.bins.is_empty()),
        ];
        let (count, rate, value, cardinality) = (
            given("count", self.count.is_some()),
            given("rate", self.rate.is_some()),
            given("value", self.value.is_some()),
            given("cardinality", self.cardinality.is_some()),
        );
        let wrong: Vec<Option<&'static str>> = match self.kind {
            Kind::Counter => [value, cardinality].into_iter().chain(timer_only).collect(),
            Kind::Gauge => [count, rate, cardinality]
                .into_iter()
                .chain(timer_only)
                .collect(),
            Kind::Set => [count, rate, value].into_iter().chain(timer_only).collect(),
            Kind::Timer => vec![rate, value, cardinality],
        };
        wrong.into_iter().flatten().collect()
    }
}

/// What a flush must report: its series and the server's counts of
/// rejected input.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Every series the flush reports (besides the server's own).
    #[serde(default)]
    pub series: Vec<ExpectedSeries>,
    /// Values rejected as malformed (etsy's `bad_lines_seen`).
    #[serde(default)]
    pub bad_lines: u64,
    /// Samples statkit refused for its limits (`samples_refused` plus
    /// `series_refused`); servers without such counters report 0.
    #[serde(default)]
    pub refused: u64,
    /// DogStatsD events and service checks recognized as such.
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub service_checks: u64,
}

/// One dialect's documented answer to a case's question.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DialectAnswer {
    /// The answer in words, with where it is documented.
    pub answer: String,
    /// The dialect's result in the neutral form, when it differs from
    /// statkit's and a server of the dialect can be run to check it.
    pub expect: Option<Expectation>,
}

/// A datagram as a case file writes it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum RawDatagram {
    Text(String),
    Built(BuiltDatagram),
}

/// A datagram that TOML text cannot hold literally: raw bytes in hex, or
/// a long one built from a repeated piece.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct BuiltDatagram {
    hex: Option<String>,
    #[serde(default)]
    prefix: String,
    repeat: Option<String>,
    #[serde(default)]
    times: usize,
    #[serde(default)]
    suffix: String,
}

/// A case file as written, before it is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    question: String,
    /// The area of the protocol the case belongs to, for the table.
    topic: String,
    datagrams: Vec<RawDatagram>,
    #[serde(default)]
    settings: Settings,
    expect: Expectation,
    #[serde(default)]
    dialects: BTreeMap<String, DialectAnswer>,
    follows: Option<String>,
    option: Option<String>,
    notes: Option<String>,
    /// Where the case came from, e.g. `etsy_compat` for the lines of the
    /// differential test against etsy statsd.
    origin: Option<String>,
}

/// One checked case of the suite.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The file's path under the suite folder, without `.toml`.
    pub id: String,
    pub path: PathBuf,
    pub question: String,
    pub topic: String,
    pub datagrams: Vec<Vec<u8>>,
    pub settings: Settings,
    /// statkit's answer with the case's settings.
    pub expect: Expectation,
    pub dialects: BTreeMap<String, DialectAnswer>,
    /// The dialect statkit follows by default, where dialects disagree.
    pub follows: Option<String>,
    /// The setting under which statkit gives another dialect's answer.
    pub option: Option<String>,
    pub notes: Option<String>,
    pub origin: Option<String>,
    /// The percent thresholds, checked.
    pub percentiles: Vec<Percentile>,
    /// The histogram settings, checked.
    pub histograms: Vec<(String, Vec<Bin>)>,
}

impl Case {
    /// etsy's result: its documented one, else statkit's.
    pub fn etsy_expect(&self) -> &Expectation {
        self.dialect_expect(ETSY)
    }

    /// `dialect`'s result when the case gives one, else statkit's.
    pub fn dialect_expect(&self, dialect: &str) -> &Expectation {
        self.dialects
            .get(dialect)
            .and_then(|d| d.expect.as_ref())
            .unwrap_or(&self.expect)
    }

    /// Whether etsy's documented result differs from statkit's.
    pub fn differs_from_etsy(&self) -> bool {
        !same(self.etsy_expect(), &self.expect)
    }
}

/// Whether two expectations say the same thing. Not `==`: a NaN statistic
/// (etsy flushes NaN on purpose in one case) is never `==` itself. Their
/// debug forms print every number in full, NaN as `NaN`, so they are equal
/// exactly when the expectations are, with NaN equal to NaN.
fn same(a: &Expectation, b: &Expectation) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Loads every `*.toml` under `dir` (recursively), in path order.
pub fn load_suite(dir: &Path) -> Result<Vec<Case>, LoadError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(LoadError::Empty(dir.to_owned()));
    }
    files.iter().map(|path| load_case(dir, path)).collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Loads and checks one case file; `root` is the suite folder its id is
/// relative to.
pub fn load_case(root: &Path, path: &Path) -> Result<Case, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: CaseFile = toml::from_str(&text).map_err(|source| LoadError::Toml {
        path: path.to_owned(),
        source: Box::new(source),
    })?;
    let invalid = |message: String| LoadError::Invalid {
        path: path.to_owned(),
        message,
    };
    let id = path
        .strip_prefix(root)
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/");
    check(&file).map_err(invalid)?;
    let datagrams = file
        .datagrams
        .iter()
        .enumerate()
        .map(|(i, d)| build(d).map_err(|e| invalid(format!("datagram {}: {e}", i + 1))))
        .collect::<Result<Vec<_>, _>>()?;
    let percentiles = file
        .settings
        .percentiles
        .clone()
        .unwrap_or_else(|| vec![90.0])
        .into_iter()
        .map(|p| Percentile::new(p).map_err(|e| invalid(format!("settings.percentiles: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let histograms = file
        .settings
        .histogram
        .iter()
        .map(|h| {
            let bins = h.bins.iter().map(bin).collect::<Result<Vec<_>, _>>();
            bins.map(|bins| (h.metric.clone(), bins))
                .map_err(|e| invalid(format!("settings.histogram {:?}: {e}", h.metric)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Case {
        id,
        path: path.to_owned(),
        question: file.question,
        topic: file.topic,
        datagrams,
        settings: file.settings,
        expect: file.expect,
        dialects: file.dialects,
        follows: file.follows,
        option: file.option,
        notes: file.notes,
        origin: file.origin,
        percentiles,
        histograms,
    })
}

/// The checks serde cannot make: names, kinds' statistics, consistency.
fn check(file: &CaseFile) -> Result<(), String> {
    if file.question.trim().is_empty() {
        return Err("`question` is empty".into());
    }
    if file.datagrams.is_empty() {
        return Err("`datagrams` is empty: a case sends at least one".into());
    }
    for name in file.dialects.keys() {
        if !DIALECTS.contains(&name.as_str()) {
            return Err(format!(
                "unknown dialect `{name}` (known: {})",
                DIALECTS.join(", ")
            ));
        }
    }
    if let Some(follows) = &file.follows {
        if follows != "statkit" && !file.dialects.contains_key(follows) {
            return Err(format!(
                "`follows = {follows:?}` names no dialect answered in [dialects] (or \"statkit\")"
            ));
        }
    }
    let answers: Vec<(&str, &Expectation)> = std::iter::once(("expect", &file.expect))
        .chain(
            file.dialects
                .iter()
                .filter_map(|(name, d)| d.expect.as_ref().map(|e| (name.as_str(), e))),
        )
        .collect();
    for (owner, expectation) in answers {
        for series in &expectation.series {
            let misplaced = series.misplaced();
            if !misplaced.is_empty() {
                return Err(format!(
                    "{owner}: a {} ({:?}) has no {}",
                    series.kind,
                    series.name,
                    misplaced.join(", ")
                ));
            }
        }
    }
    let differing = file
        .dialects
        .values()
        .any(|d| d.expect.as_ref().is_some_and(|e| !same(e, &file.expect)));
    if differing && file.follows.is_none() {
        return Err(
            "a dialect's result differs from statkit's: say which statkit follows with `follows`"
                .into(),
        );
    }
    Ok(())
}

fn build(datagram: &RawDatagram) -> Result<Vec<u8>, String> {
    let bytes = match datagram {
        RawDatagram::Text(text) => text.as_bytes().to_vec(),
        RawDatagram::Built(built) => match (&built.hex, &built.repeat) {
            (Some(hex), None) if built.prefix.is_empty() && built.suffix.is_empty() => {
                decode_hex(hex)?
            }
            (None, Some(piece)) => {
                let mut bytes = built.prefix.as_bytes().to_vec();
                for _ in 0..built.times.min(MAX_DATAGRAM) {
                    bytes.extend_from_slice(piece.as_bytes());
                    if bytes.len() > MAX_DATAGRAM {
                        break;
                    }
                }
                bytes.extend_from_slice(built.suffix.as_bytes());
                bytes
            }
            _ => {
                return Err(
                    "a table datagram is either `{ hex = \"..\" }` or `{ prefix, repeat, times, suffix }`"
                        .into(),
                )
            }
        },
    };
    if bytes.len() > MAX_DATAGRAM {
        return Err(format!(
            "{} bytes, more than a UDP datagram holds ({MAX_DATAGRAM})",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("`hex` has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| {
                    format!(
                        "`hex` holds a non-hex pair {:?}",
                        String::from_utf8_lossy(pair)
                    )
                })
        })
        .collect()
}

fn bin(bound: &BinBound) -> Result<Bin, String> {
    match bound {
        BinBound::Number(n) if n.is_finite() => Ok(Bin::Below(*n)),
        BinBound::Word(w) if w == "inf" => Ok(Bin::Infinity),
        other => Err(format!(
            "bin {other:?} is neither a finite number nor \"inf\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write test case");
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("statkit-conformance-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch folder");
        dir
    }

    const MINIMAL: &str = r#"
question = "q"
topic = "counters"
datagrams = ["k:1|c", { prefix = "a", repeat = "b", times = 3, suffix = ":1|c" }, { hex = "6b3a317c63" }]
[[expect.series]]
kind = "counter"
name = "k"
count = 2
"#;

    #[test]
    fn loads_a_case_and_builds_its_datagrams() {
        let dir = scratch("load");
        let path = write(&dir, "one.toml", MINIMAL);
        let case = load_case(&dir, &path).expect("loads");
        assert_eq!(case.id, "one");
        assert_eq!(
            case.datagrams,
            vec![b"k:1|c".to_vec(), b"abbb:1|c".to_vec(), b"k:1|c".to_vec()]
        );
        assert_eq!(case.percentiles.len(), 1);
        assert!(!case.differs_from_etsy());
        let mut nan = case.clone();
        nan.expect.series[0].count = Some(f64::NAN);
        assert!(!nan.differs_from_etsy(), "NaN is the same answer as NaN");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = scratch("errors");
        let cases = [
            (MINIMAL.replace("count = 2", "value = 2"), "has no value"),
            (MINIMAL.replace("count = 2", "cuont = 2"), "unknown field"),
            (
                format!("{MINIMAL}\n[dialects.brubek]\nanswer = \"x\"\n"),
                "unknown dialect `brubek`",
            ),
            (
                format!("{MINIMAL}\n[dialects.etsy]\nanswer = \"x\"\n[dialects.etsy.expect]\nbad_lines = 1\n"),
                "say which statkit follows",
            ),
            (MINIMAL.replace("6b3a317c63", "6b3"), "odd number"),
        ];
        for (text, wanted) in cases {
            let path = write(&dir, "bad.toml", &text);
            let error = load_case(&dir, &path).expect_err(wanted).to_string();
            assert!(error.contains("bad.toml"), "{error}");
            assert!(error.contains(wanted), "{error} lacks {wanted}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
