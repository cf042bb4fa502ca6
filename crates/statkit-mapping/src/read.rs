//! Reading a mapping file's tree into rules: every mistake is reported
//! with its line, all of them at once; keys statsd_exporter would ignore
//! are warnings, so a file it accepts still loads.

use std::time::Duration;

use crate::diagnostic::{Diagnostic, Severity};
use crate::duration;
use crate::escape::is_label_name;
use crate::rule::{
    Action, MatchType, MetricKind, Observer, Quantile, Rule, DEFAULT_BUCKETS, DEFAULT_QUANTILES,
};
use crate::template::Template;
use crate::yaml::{Node, Value};

/// What a file gives: its rules and the one option only `defaults` has.
#[derive(Debug, Default)]
pub(crate) struct File {
    pub rules: Vec<Rule>,
    pub glob_disable_ordering: bool,
}

/// The observer settings `defaults` and each rule may give.
#[derive(Clone, Debug, Default)]
struct ObserverParts {
    histogram: Option<bool>,
    buckets: Option<Vec<f64>>,
    quantiles: Option<Vec<Quantile>>,
    max_age: Option<Duration>,
    age_buckets: Option<u32>,
    buf_cap: Option<u32>,
    /// The line of a `summary_options` / `histogram_options` given.
    summary_options: Option<usize>,
    histogram_options: Option<usize>,
}

#[derive(Debug, Default)]
struct Defaults {
    observer: ObserverParts,
    ttl: Option<Duration>,
    match_type: Option<MatchType>,
    glob_disable_ordering: bool,
}

/// Collects the diagnostics while reading.
#[derive(Default)]
pub(crate) struct Reader {
    pub diagnostics: Vec<Diagnostic>,
}

/// The pairs of a mapping node, or an error.
fn pairs<'n>(r: &mut Reader, node: &'n Node, what: &str) -> &'n [(Node, Node)] {
    match &node.value {
        Value::Map(pairs) => pairs,
        _ if node.is_null() => &[],
        _ => {
            r.error(
                node.line,
                format!("{what} must be a mapping of keys, not {}", node.what()),
            );
            &[]
        }
    }
}

impl Reader {
    pub fn error(&mut self, line: usize, message: impl Into<String>) {
        self.push(Severity::Error, line, message);
    }

    pub fn warn(&mut self, line: usize, message: impl Into<String>) {
        self.push(Severity::Warning, line, message);
    }

    fn push(&mut self, severity: Severity, line: usize, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            severity,
            line,
            message: message.into(),
        });
    }

    /// The keyed entries of a mapping: duplicate keys are errors, keys not
    /// in `known` warnings (statsd_exporter ignores them).
    fn entries<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
    ) -> Vec<(&'n str, &'n Node)> {
        let mut out: Vec<(&str, &Node)> = Vec::new();
        for (key, value) in pairs(self, node, what) {
            let Some(k) = key.scalar() else {
                self.error(
                    key.line,
                    format!("a key of {what} must be text, not {}", key.what()),
                );
                continue;
            };
            if out.iter().any(|(seen, _)| *seen == k) {
                self.error(key.line, format!("`{k}` is given twice in {what}"));
                continue;
            }
            if !known.contains(&k) {
                self.warn(key.line, format!("unknown key `{k}` in {what} is ignored"));
                continue;
            }
            out.push((k, value));
        }
        out
    }

    fn text(&mut self, node: &Node, key: &str) -> Option<String> {
        match node.scalar() {
            Some(_) if node.is_null() => None,
            Some(text) => Some(text.to_owned()),
            None => {
                self.error(
                    node.line,
                    format!("`{key}` must be text, not {}", node.what()),
                );
                None
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, node: &Node, key: &str, what: &str) -> Option<T> {
        let text = self.text(node, key)?;
        let parsed = text.trim().parse().ok();
        if parsed.is_none() {
            self.error(node.line, format!("`{key}`: {text:?} is not {what}"));
        }
        parsed
    }

    fn boolean(&mut self, node: &Node, key: &str) -> Option<bool> {
        match self.text(node, key)?.as_str() {
            "true" | "True" | "TRUE" | "yes" | "on" => Some(true),
            "false" | "False" | "FALSE" | "no" | "off" => Some(false),
            other => {
                self.error(
                    node.line,
                    format!("`{key}`: {other:?} is neither true nor false"),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, key: &str) -> Option<Duration> {
        let text = self.text(node, key)?;
        duration::parse(&text)
            .map_err(|e| self.error(node.line, format!("`{key}`: {e}")))
            .ok()
    }

    fn list<'n>(&mut self, node: &'n Node, key: &str) -> &'n [Node] {
        match &node.value {
            Value::Seq(items) => items,
            _ if node.is_null() => &[],
            _ => {
                self.error(
                    node.line,
                    format!("`{key}` must be a list, not {}", node.what()),
                );
                &[]
            }
        }
    }

    fn buckets(&mut self, node: &Node, key: &str) -> Option<Vec<f64>> {
        let items = self.list(node, key);
        let bounds: Vec<f64> = items
            .iter()
            .filter_map(|item| self.number(item, key, "a number"))
            .collect();
        if bounds.len() != items.len() {
            return None;
        }
        if !bounds.iter().all(|b| b.is_finite()) || !bounds.windows(2).all(|w| w[0] < w[1]) {
            self.error(
                node.line,
                format!("`{key}`: bounds must be finite and strictly ascending"),
            );
            return None;
        }
        (!bounds.is_empty()).then_some(bounds)
    }

    fn quantiles(&mut self, node: &Node, key: &str) -> Option<Vec<Quantile>> {
        let items = self.list(node, key);
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let mut q = Quantile {
                quantile: f64::NAN,
                error: 0.0,
            };
            for (k, v) in self.entries(item, "a quantile", &["quantile", "error"]) {
                let value = self.number::<f64>(v, k, "a number").unwrap_or(f64::NAN);
                match k {
                    "quantile" => q.quantile = value,
                    _ => q.error = value,
                }
            }
            if !(0.0..=1.0).contains(&q.quantile) || !(0.0..=1.0).contains(&q.error) {
                self.error(
                    item.line,
                    "a quantile needs `quantile` and `error`, each from 0 to 1",
                );
                return None;
            }
            out.push(q);
        }
        (!out.is_empty()).then_some(out)
    }

    fn match_type(&mut self, node: &Node) -> Option<MatchType> {
        match self.text(node, "match_type")?.as_str() {
            "glob" | "" => Some(MatchType::Glob),
            "regex" => Some(MatchType::Regex),
            other => {
                self.error(
                    node.line,
                    format!("`match_type`: {other:?} is neither glob nor regex"),
                );
                None
            }
        }
    }

    fn observer_type(&mut self, node: &Node, key: &str) -> Option<bool> {
        match self.text(node, key)?.as_str() {
            "histogram" => Some(true),
            "summary" => Some(false),
            "" => None,
            other => {
                self.error(
                    node.line,
                    format!("`{key}`: {other:?} is neither summary nor histogram"),
                );
                None
            }
        }
    }

    /// Reads one observer-related key into `parts`; false when `key` is
    /// not one.
    fn observer_key(&mut self, parts: &mut ObserverParts, key: &str, node: &Node) -> bool {
        match key {
            "observer_type" | "timer_type" => {
                if parts.histogram.is_some() {
                    self.error(
                        node.line,
                        "give `observer_type` or the older `timer_type`, not both",
                    );
                }
                parts.histogram = self.observer_type(node, key);
            }
            "buckets" => parts.buckets = self.buckets(node, key),
            "quantiles" => parts.quantiles = self.quantiles(node, key),
            "histogram_options" => {
                parts.histogram_options = Some(node.line);
                for (k, v) in self.entries(
                    node,
                    "histogram_options",
                    &[
                        "buckets",
                        "native_histogram_bucket_factor",
                        "native_histogram_max_buckets",
                    ],
                ) {
                    if k == "buckets" {
                        if parts.buckets.is_some() {
                            self.error(v.line, "`buckets` is given both at the top of the rule and in histogram_options");
                        }
                        parts.buckets = self.buckets(v, k);
                    } else {
                        self.warn(
                            v.line,
                            format!("`{k}`: native histograms are not made; ignored"),
                        );
                    }
                }
            }
            "summary_options" => {
                parts.summary_options = Some(node.line);
                let known = ["quantiles", "max_age", "age_buckets", "buf_cap"];
                for (k, v) in self.entries(node, "summary_options", &known) {
                    match k {
                        "quantiles" => {
                            if parts.quantiles.is_some() {
                                self.error(v.line, "`quantiles` is given both at the top of the rule and in summary_options");
                            }
                            parts.quantiles = self.quantiles(v, k);
                        }
                        "max_age" => parts.max_age = self.duration(v, k),
                        "age_buckets" => parts.age_buckets = self.number(v, k, "a whole number"),
                        _ => parts.buf_cap = self.number(v, k, "a whole number"),
                    }
                }
            }
            _ => return false,
        }
        true
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let mut d = Defaults::default();
        let known = [
            "observer_type",
            "timer_type",
            "buckets",
            "quantiles",
            "histogram_options",
            "summary_options",
            "ttl",
            "match_type",
            "glob_disable_ordering",
        ];
        for (k, v) in self.entries(node, "defaults", &known) {
            if self.observer_key(&mut d.observer, k, v) {
                continue;
            }
            match k {
                "ttl" => d.ttl = self.duration(v, k),
                "match_type" => d.match_type = self.match_type(v),
                _ => d.glob_disable_ordering = self.boolean(v, k).unwrap_or(false),
            }
        }
        d
    }

    /// The whole file.
    pub fn file(&mut self, root: Option<&Node>) -> File {
        let Some(root) = root else {
            return File::default();
        };
        let mut defaults = Defaults::default();
        let mut mappings = None;
        for (k, v) in self.entries(root, "the file", &["defaults", "mappings"]) {
            match k {
                "defaults" => defaults = self.defaults(v),
                _ => mappings = Some(v),
            }
        }
        let mut rules = Vec::new();
        if let Some(node) = mappings {
            for item in self.list(node, "mappings") {
                if let Some(rule) = self.rule(item, &defaults) {
                    rules.push(rule);
                }
            }
        }
        File {
            rules,
            glob_disable_ordering: defaults.glob_disable_ordering,
        }
    }

    /// One entry of `mappings`.
    fn rule(&mut self, node: &Node, defaults: &Defaults) -> Option<Rule> {
        let errors_before = self.errors();
        let known = [
            "match",
            "match_type",
            "name",
            "labels",
            "help",
            "match_metric_type",
            "action",
            "observer_type",
            "timer_type",
            "buckets",
            "quantiles",
            "histogram_options",
            "summary_options",
            "ttl",
            "honor_labels",
            "scale",
        ];
        let mut pattern = None;
        let mut match_type = defaults.match_type;
        let (mut name, mut help, mut kind, mut ttl) = (None, None, None, defaults.ttl);
        let mut action = Action::Map;
        let mut labels: Vec<(String, Template)> = Vec::new();
        let mut parts = ObserverParts::default();
        for (k, v) in self.entries(node, "a mapping rule", &known) {
            if self.observer_key(&mut parts, k, v) {
                continue;
            }
            match k {
                "match" => pattern = self.text(v, k).map(|p| (p, v.line)),
                "match_type" => match_type = self.match_type(v),
                "name" => name = self.text(v, k).map(|n| (n, v.line)),
                "help" => help = self.text(v, k),
                "ttl" => ttl = self.duration(v, k),
                "labels" => labels = self.labels(v),
                "match_metric_type" => kind = self.metric_kind(v),
                "action" => action = self.action(v).unwrap_or(Action::Map),
                _ => self.warn(
                    v.line,
                    format!("`{k}` is not supported by statkit; ignored"),
                ),
            }
        }
        let Some((pattern, pattern_line)) = pattern else {
            self.error(node.line, "a mapping rule needs `match`");
            return None;
        };
        let match_type = match_type.unwrap_or(MatchType::Glob);
        if match_type == MatchType::Glob {
            if let Err(e) = crate::glob::check(&pattern) {
                self.error(pattern_line, format!("`match`: {e}"));
            }
        }
        let name = self.name(name, action, node.line);
        if match_type == MatchType::Glob {
            let stars = pattern.split('.').filter(|c| *c == "*").count();
            let templates = name
                .iter()
                .map(|(_, t)| t)
                .chain(labels.iter().map(|(_, t)| t));
            let templates: Vec<&Template> = templates.collect();
            for named in templates.iter().flat_map(|t| t.names()) {
                self.warn(node.line, format!("`${named}` names a regex group, which a glob has not (empty); for a capture followed by text write `${{1}}_x`"));
            }
            if let Some(max) = templates
                .iter()
                .map(|t| t.max_index())
                .max()
                .filter(|&m| m > stars)
            {
                self.error(
                    node.line,
                    format!("the rule uses ${max} but its `match` has {stars} `*`"),
                );
            }
        }
        let observer = self.observer(parts, &defaults.observer, node.line);
        if self.errors() > errors_before {
            return None;
        }
        let (name, name_template) = name?;
        Some(Rule {
            line: node.line,
            pattern,
            match_type,
            kind,
            action,
            name,
            help,
            observer: observer?,
            ttl: ttl.filter(|t| !t.is_zero()),
            name_template,
            labels,
        })
    }

    fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    fn name(
        &mut self,
        name: Option<(String, usize)>,
        action: Action,
        line: usize,
    ) -> Option<(String, Template)> {
        let Some((name, name_line)) = name.filter(|(n, _)| !n.is_empty()) else {
            if action == Action::Drop {
                return Some((String::new(), Template::parse("")));
            }
            self.error(
                line,
                "a mapping rule needs `name` (unless its action is drop)",
            );
            return None;
        };
        let template = Template::parse(&name);
        let bad = template.texts().find_map(|(text, first)| {
            let starts_with_digit = first && text.starts_with(|c: char| c.is_ascii_digit());
            let bad_char = text
                .chars()
                .find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
            bad_char
                .map(|c| format!("{c:?} is not allowed"))
                .or(starts_with_digit.then(|| "it starts with a digit".to_owned()))
        });
        if let Some(why) = bad {
            self.error(name_line, format!("`name`: {name:?} is not a metric name: {why} (letters, digits, `_`, `:` and $1-style captures)"));
            return None;
        }
        Some((name, template))
    }

    fn labels(&mut self, node: &Node) -> Vec<(String, Template)> {
        let mut out = Vec::new();
        for (key, value) in pairs(self, node, "`labels`") {
            let (Some(k), Some(v)) = (key.scalar(), value.scalar()) else {
                self.error(key.line, "`labels` must map label names to text");
                continue;
            };
            if !is_label_name(k) {
                self.error(key.line, format!("{k:?} is not a label name (letters, digits and `_`, not starting with a digit or `__`)"));
                continue;
            }
            if out.iter().any(|(n, _)| n == k) {
                self.error(key.line, format!("label `{k}` is given twice"));
                continue;
            }
            out.push((k.to_owned(), Template::parse(v)));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn metric_kind(&mut self, node: &Node) -> Option<MetricKind> {
        match self.text(node, "match_metric_type")?.as_str() {
            "counter" => Some(MetricKind::Counter),
            "gauge" => Some(MetricKind::Gauge),
            "observer" | "timer" => Some(MetricKind::Observer),
            "" => None,
            other => {
                self.error(
                    node.line,
                    format!("`match_metric_type`: {other:?} is none of counter, gauge, observer"),
                );
                None
            }
        }
    }

    fn action(&mut self, node: &Node) -> Option<Action> {
        match self.text(node, "action")?.as_str() {
            "map" | "" => Some(Action::Map),
            "drop" => Some(Action::Drop),
            other => {
                self.error(
                    node.line,
                    format!("`action`: {other:?} is neither map nor drop"),
                );
                None
            }
        }
    }

    /// The rule's observer, from its own keys over `defaults`.
    fn observer(
        &mut self,
        own: ObserverParts,
        defaults: &ObserverParts,
        line: usize,
    ) -> Option<Observer> {
        let histogram = own.histogram.or(defaults.histogram).unwrap_or(false);
        if histogram && own.summary_options.is_some() {
            self.error(line, "a histogram rule cannot have `summary_options`");
            return None;
        }
        let summary = own.histogram.or(defaults.histogram) == Some(false);
        if summary && own.histogram_options.is_some() {
            self.error(line, "a summary rule cannot have `histogram_options`");
            return None;
        }
        Some(if histogram {
            Observer::Histogram {
                buckets: own
                    .buckets
                    .or(defaults.buckets.clone())
                    .unwrap_or(DEFAULT_BUCKETS.to_vec()),
            }
        } else {
            Observer::Summary {
                quantiles: own
                    .quantiles
                    .or(defaults.quantiles.clone())
                    .unwrap_or(DEFAULT_QUANTILES.to_vec()),
                max_age: own.max_age.or(defaults.max_age),
                age_buckets: own.age_buckets.or(defaults.age_buckets),
                buf_cap: own.buf_cap.or(defaults.buf_cap),
            }
        })
    }
}
