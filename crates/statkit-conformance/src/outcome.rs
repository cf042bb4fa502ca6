//! The neutral result of one flush, its comparison with an expectation, and
//! the verdict on a case.
//!
//! Both runners reduce what a server flushed to [`Observed`]: series named
//! by kind, name and tags, each with its statistics under neutral names, plus
//! the server's counts of rejected input. The comparison checks every series
//! the expectation lists (only the statistics it gives) and reports any
//! other series as unexpected, so a line a server files under the wrong
//! kind shows as one series missing and one unexpected.

use std::collections::BTreeMap;
use std::fmt;

use crate::case::{Case, Expectation, Kind};

/// One series of a flush.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub kind: Kind,
    pub name: String,
    pub tags: Vec<String>,
    /// Statistics by neutral name: `count`, `rate`, `value`, `cardinality`,
    /// the timer's `lower`, `upper_90`, `bin_10`...
    pub stats: BTreeMap<String, f64>,
}

impl Series {
    /// A series named by a statsd key as servers build it: the name, then
    /// Graphite tags after `;`.
    pub fn from_key(kind: Kind, key: &str) -> Series {
        let mut parts = key.split(';');
        let name = parts.next().unwrap_or_default().to_owned();
        Series {
            kind,
            name,
            tags: parts.map(str::to_owned).collect(),
            stats: BTreeMap::new(),
        }
    }

    fn label(&self) -> String {
        label(self.kind, &self.name, &self.tags)
    }
}

fn label(kind: Kind, name: &str, tags: &[String]) -> String {
    if tags.is_empty() {
        format!("{kind} {name:?}")
    } else {
        format!("{kind} {name:?} tags {tags:?}")
    }
}

/// What one flush reported, in the neutral form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub series: Vec<Series>,
    pub bad_lines: u64,
    pub refused: u64,
    pub events: u64,
    pub service_checks: u64,
}

impl Observed {
    /// The series of `kind` and `key`, added empty if the flush had not
    /// named it yet.
    pub fn series_mut(&mut self, kind: Kind, key: &str) -> &mut Series {
        let wanted = Series::from_key(kind, key);
        let found = self
            .series
            .iter()
            .position(|s| s.kind == kind && s.name == wanted.name && s.tags == wanted.tags);
        let index = found.unwrap_or_else(|| {
            self.series.push(wanted);
            self.series.len() - 1
        });
        &mut self.series[index]
    }
}

/// How a flush differs from an expectation: one entry per disagreement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Difference {
    pub lines: Vec<String>,
}

impl Difference {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines.join("; "))
    }
}

/// Numbers as JavaScript (and Graphite output) prints them.
pub fn number(value: f64) -> String {
    statkit_wire::jsnum::to_string(value)
}

/// Equal as the suite means it: the same bits' worth of value, and NaN
/// equal to NaN (etsy flushes NaN for some statistics, on purpose).
fn same(expected: f64, got: f64) -> bool {
    expected == got || (expected.is_nan() && got.is_nan())
}

/// Compares `observed` with `expected`; an empty difference means they agree.
pub fn compare(expected: &Expectation, observed: &Observed) -> Difference {
    let mut lines = Vec::new();
    let mut matched = vec![false; observed.series.len()];
    for want in &expected.series {
        let found = observed
            .series
            .iter()
            .position(|s| s.kind == want.kind && s.name == want.name && s.tags == want.tags);
        let Some(index) = found else {
            lines.push(format!(
                "missing {}",
                label(want.kind, &want.name, &want.tags)
            ));
            continue;
        };
        matched[index] = true;
        let got = &observed.series[index];
        for (stat, value) in want.stats() {
            match got.stats.get(&stat) {
                Some(g) if same(value, *g) => {}
                Some(g) => lines.push(format!(
                    "{} {stat}: expected {}, got {}",
                    got.label(),
                    number(value),
                    number(*g)
                )),
                None => lines.push(format!(
                    "{} {stat}: expected {}, not reported",
                    got.label(),
                    number(value)
                )),
            }
        }
    }
    for (series, _) in observed.series.iter().zip(&matched).filter(|(_, m)| !**m) {
        let stats: Vec<String> = series
            .stats
            .iter()
            .filter(|(k, _)| {
                ["count", "value", "cardinality", "lower", "upper"].contains(&k.as_str())
            })
            .map(|(k, v)| format!("{k}={}", number(*v)))
            .collect();
        lines.push(format!("unexpected {} {}", series.label(), stats.join(" ")));
    }
    for (what, want, got) in [
        ("bad lines", expected.bad_lines, observed.bad_lines),
        ("refused", expected.refused, observed.refused),
        ("events", expected.events, observed.events),
        (
            "service checks",
            expected.service_checks,
            observed.service_checks,
        ),
    ] {
        if want != got {
            lines.push(format!("{what}: expected {want}, got {got}"));
        }
    }
    Difference { lines }
}

/// What became of one case.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// The result is the one the case expects.
    Pass,
    /// The result is not statkit's but the one the case documents for this
    /// dialect.
    Documented(String),
    /// Neither: the difference from the expected result.
    Fail(Difference),
    /// Not played, and why.
    Skipped(String),
}

impl Verdict {
    /// The case's line of a report.
    pub fn line(&self, id: &str) -> String {
        match self {
            Self::Pass => format!("pass {id}"),
            Self::Documented(dialect) => format!("differs as documented ({dialect}) {id}"),
            Self::Fail(difference) => format!("FAIL {id}: {difference}"),
            Self::Skipped(why) => format!("skip {id}: {why}"),
        }
    }
}

/// Judges `observed` for `case`. With `dialect` `None` the result must be
/// statkit's, or else one a dialect's documented result (reported as such);
/// with a dialect, it must be that dialect's documented result (statkit's
/// where the case documents none).
pub fn judge(case: &Case, observed: &Observed, dialect: Option<&str>) -> Verdict {
    let expected = dialect.map_or(&case.expect, |d| case.dialect_expect(d));
    let difference = compare(expected, observed);
    if difference.is_empty() {
        return Verdict::Pass;
    }
    if dialect.is_none() {
        let documented = case.dialects.iter().find(|(_, answer)| {
            answer
                .expect
                .as_ref()
                .is_some_and(|e| compare(e, observed).is_empty())
        });
        if let Some((name, _)) = documented {
            return Verdict::Documented(name.clone());
        }
    }
    Verdict::Fail(difference)
}

/// Counts of verdicts over a run, and its summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub documented: usize,
    pub skipped: usize,
}

impl Tally {
    pub fn add(&mut self, verdict: &Verdict) {
        match verdict {
            Verdict::Pass => self.passed += 1,
            Verdict::Documented(_) => self.documented += 1,
            Verdict::Fail(_) => self.failed += 1,
            Verdict::Skipped(_) => self.skipped += 1,
        }
    }

    /// `N passed, M failed`, then what else happened.
    pub fn summary(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed, self.failed);
        if self.documented > 0 {
            line.push_str(&format!(", {} differ as documented", self.documented));
        }
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::ExpectedSeries;

    fn counter(name: &str, count: f64) -> ExpectedSeries {
        ExpectedSeries {
            kind: Kind::Counter,
            name: name.into(),
            tags: vec![],
            count: Some(count),
            rate: None,
            count_ps: None,
            value: None,
            cardinality: None,
            sum: None,
            sum_squares: None,
            lower: None,
            upper: None,
            mean: None,
            median: None,
            std: None,
            percentiles: BTreeMap::new(),
            bins: BTreeMap::new(),
        }
    }

    fn observed(entries: &[(Kind, &str, &str, f64)], bad_lines: u64) -> Observed {
        let mut o = Observed {
            bad_lines,
            ..Observed::default()
        };
        for (kind, key, stat, value) in entries {
            o.series_mut(*kind, key)
                .stats
                .insert((*stat).into(), *value);
        }
        o
    }

    #[test]
    fn agreement_is_an_empty_difference() {
        let want = Expectation {
            series: vec![counter("k", 3.0)],
            ..Expectation::default()
        };
        let got = observed(
            &[
                (Kind::Counter, "k", "count", 3.0),
                (Kind::Counter, "k", "rate", 0.3),
            ],
            0,
        );
        assert!(compare(&want, &got).is_empty());
    }

    #[test]
    fn differences_read_as_sentences() {
        let want = Expectation {
            series: vec![counter("k", 3.0), counter("gone", 1.0)],
            ..Expectation::default()
        };
        let got = observed(
            &[
                (Kind::Counter, "k", "count", 2.0),
                (Kind::Timer, "t;env=prod", "count", 1.0),
            ],
            2,
        );
        let text = compare(&want, &got).to_string();
        assert_eq!(
            text,
            "counter \"k\" count: expected 3, got 2; missing counter \"gone\"; \
             unexpected timer \"t\" tags [\"env=prod\"] count=1; bad lines: expected 0, got 2"
        );
    }

    #[test]
    fn nan_equals_nan() {
        assert!(same(f64::NAN, f64::NAN) && !same(f64::NAN, 1.0) && same(0.0, -0.0));
    }

    #[test]
    fn the_summary_line_leads_with_passes_and_failures() {
        let mut tally = Tally::default();
        for v in [
            Verdict::Pass,
            Verdict::Pass,
            Verdict::Fail(Difference::default()),
            Verdict::Documented("etsy".into()),
        ] {
            tally.add(&v);
        }
        assert_eq!(
            tally.summary(),
            "2 passed, 1 failed, 1 differ as documented"
        );
    }
}
