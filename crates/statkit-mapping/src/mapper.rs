//! The loaded rules and what they make of a name.

use std::sync::Arc;

use regex::bytes::Regex;

use crate::diagnostic::{Diagnostic, LoadError, Severity};
use crate::escape::push_metric_name;
use crate::glob::{Glob, Span};
use crate::read::Reader;
use crate::rule::{Action, MatchType, MetricKind, Observer, Rule};
use crate::template::{Reference, Template};
use crate::yaml;

/// Largest mapping file read, in bytes: far above any real one.
pub const MAX_FILE_BYTES: usize = 16 << 20;

/// What the rules make of one name.
#[derive(Clone, Debug, PartialEq)]
pub enum Mapped {
    /// No rule matches: the name is exposed as without a mapping.
    Unmapped,
    /// A rule with `action: drop` matches: the series is not exposed.
    Drop,
    Metric(Metric),
}

/// A mapped name: the rule's `name` and `labels` with the captures put in.
#[derive(Clone, Debug)]
pub struct Metric {
    /// A valid Prometheus metric name (escaped after expanding).
    pub name: String,
    /// The rule's labels, sorted by name; statsd tags are merged by the
    /// caller (a rule's label wins over a tag of the same name).
    pub labels: Vec<(String, String)>,
    /// The rule that matched: its `help`, observer and `ttl`.
    pub rule: Arc<Rule>,
}

impl PartialEq for Metric {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.labels == other.labels && self.rule.line == other.rule.line
    }
}

/// A loaded mapping file.
#[derive(Debug)]
pub struct Mapper {
    rules: Vec<Arc<Rule>>,
    glob: Glob,
    /// Regex rules, in file order: their index in `rules` and the regex.
    regexes: Vec<(usize, Regex)>,
    /// What was ignored while reading (warnings only).
    warnings: Vec<Diagnostic>,
}

impl Mapper {
    /// Reads a mapping file as statsd_exporter writes them. An empty file
    /// has no rules (every name unmapped).
    pub fn from_yaml(text: &str) -> Result<Mapper, LoadError> {
        if text.len() > MAX_FILE_BYTES {
            return Err(LoadError::Invalid(vec![Diagnostic {
                severity: Severity::Error,
                line: 1,
                message: format!("the file is larger than {MAX_FILE_BYTES} bytes"),
            }]));
        }
        let root = yaml::parse(text).map_err(|e| LoadError::Syntax {
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        let mut reader = Reader::default();
        let file = reader.file(root.as_ref());
        let mut glob = Glob::new(!file.glob_disable_ordering);
        let mut regexes = Vec::new();
        for (i, rule) in file.rules.iter().enumerate() {
            match rule.match_type {
                MatchType::Glob => glob.add(&rule.pattern, rule.kind, i as u32),
                MatchType::Regex => match Regex::new(&rule.pattern) {
                    Ok(re) => regexes.push((i, re)),
                    Err(e) => {
                        reader.error(rule.line, format!("`match`: not a regular expression: {e}"))
                    }
                },
            }
        }
        if !file.glob_disable_ordering {
            for (line, message) in crate::glob::shadowed(&file.rules) {
                reader.warn(line, message);
            }
        }
        let mut diagnostics = reader.diagnostics;
        diagnostics.sort_by_key(|d| (d.line, d.severity));
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(LoadError::Invalid(diagnostics));
        }
        Ok(Mapper {
            rules: file.rules.into_iter().map(Arc::new).collect(),
            glob,
            regexes,
            warnings: diagnostics,
        })
    }

    /// The rules, in file order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// What was ignored while reading, in line order.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Every histogram rule's bounds (seconds), ascending, each once.
    pub fn histogram_bounds(&self) -> Vec<f64> {
        let mut bounds: Vec<f64> = self
            .rules
            .iter()
            .filter_map(|r| match &r.observer {
                Observer::Histogram { buckets } => Some(buckets.iter().copied()),
                Observer::Summary { .. } => None,
            })
            .flatten()
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        bounds
    }

    /// What the rules make of `name` (a statsd name without its tags) of
    /// `kind`. As statsd_exporter: glob rules are tried first (the earliest
    /// matching one wins, unless `glob_disable_ordering`), then regex rules
    /// in file order.
    pub fn map(&self, name: &[u8], kind: MetricKind) -> Mapped {
        if let Some(found) = self.glob.find(name, kind) {
            let rule = &self.rules[found.rule as usize];
            let captures = &found.captures[..found.count];
            return self.mapped(rule, |r| glob_capture(name, captures, r));
        }
        for (i, re) in &self.regexes {
            let rule = &self.rules[*i];
            if rule.kind.is_some_and(|k| k != kind) {
                continue;
            }
            if let Some(caps) = re.captures(name) {
                return self.mapped(rule, |r| match r {
                    Reference::Index(i) => caps.get(*i).map(|m| m.as_bytes()),
                    Reference::Name(n) => caps.name(n).map(|m| m.as_bytes()),
                });
            }
        }
        Mapped::Unmapped
    }

    fn mapped<'n>(
        &self,
        rule: &Arc<Rule>,
        capture: impl Fn(&Reference) -> Option<&'n [u8]> + Copy,
    ) -> Mapped {
        if rule.action == Action::Drop {
            return Mapped::Drop;
        }
        let mut name = String::with_capacity(rule.name.len() + 16);
        expand_name(&rule.name_template, capture, &mut name);
        let labels = rule
            .labels
            .iter()
            .map(|(label, template)| {
                let mut value = String::new();
                template.expand(capture, &mut value);
                (label.clone(), value)
            })
            .collect();
        Mapped::Metric(Metric {
            name,
            labels,
            rule: rule.clone(),
        })
    }
}

/// A glob capture: `$0` is the whole name, `$1` the first `*`.
fn glob_capture<'n>(name: &'n [u8], captures: &[Span], r: &Reference) -> Option<&'n [u8]> {
    match r {
        Reference::Index(0) => Some(name),
        Reference::Index(i) => captures
            .get(i - 1)
            .map(|&(a, b)| &name[a as usize..b as usize]),
        Reference::Name(_) => None,
    }
}

/// The name template expanded, then escaped as a metric name (captures may
/// hold `-` and the like).
fn expand_name<'n>(
    template: &Template,
    capture: impl Fn(&Reference) -> Option<&'n [u8]>,
    out: &mut String,
) {
    if template.is_plain() {
        template.expand(capture, out);
        return;
    }
    let mut raw = String::new();
    template.expand(capture, &mut raw);
    push_metric_name(raw.as_bytes(), out);
}
