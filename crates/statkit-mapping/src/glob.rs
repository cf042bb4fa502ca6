//! Glob rules compiled into one trie over dot-separated components, one
//! root per metric kind (as statsd_exporter's FSM): a name is matched in
//! one walk whatever the number of rules, with no allocation.
//!
//! With ordering (the default), the match is the earliest rule in the
//! file among those matching; each subtree knows the earliest rule below
//! it, so the walk skips subtrees that cannot beat the best found. With
//! `glob_disable_ordering`, a literal component is preferred over `*` at
//! every step and the first complete match wins.

use hashbrown::HashMap;

use crate::rule::{MatchType, MetricKind, Rule};

/// Components a glob may have, and so captures a match may make.
pub const MAX_COMPONENTS: usize = 64;

/// Why a glob `match` is invalid.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    let components: Vec<&str> = pattern.split('.').collect();
    if components.len() > MAX_COMPONENTS {
        return Err(format!("more than {MAX_COMPONENTS} components"));
    }
    for (i, c) in components.iter().enumerate() {
        let b = c.as_bytes();
        let first_ok =
            |x: u8| x.is_ascii_alphabetic() || x == b'_' || (i > 0 && x.is_ascii_digit());
        let ok = *c == "*"
            || (!b.is_empty()
                && first_ok(b[0])
                && b.iter()
                    .all(|&x| x.is_ascii_alphanumeric() || x == b'_' || x == b'-'));
        if !ok {
            return Err(format!(
                "{pattern:?} is not a glob: component {c:?} must be `*` or letters, digits, `_` and `-` \
                 (the first component not starting with a digit); use `match_type: regex` for more"
            ));
        }
    }
    Ok(())
}

/// Glob rules past which [`shadowed`] does not look (it compares every
/// pair).
const MAX_SHADOW_CHECK: usize = 2_000;

/// Glob rules an earlier glob rule hides (it matches every name they do,
/// for every kind they take), as statsd_exporter warns: the later rule's
/// line and what hides it. Not looked for past [`MAX_SHADOW_CHECK`] rules.
pub(crate) fn shadowed(rules: &[Rule]) -> Vec<(usize, String)> {
    let globs: Vec<(&Rule, Vec<&str>)> = rules
        .iter()
        .filter(|r| r.match_type == MatchType::Glob)
        .map(|r| (r, r.pattern.split('.').collect()))
        .collect();
    let mut found = Vec::new();
    if globs.len() > MAX_SHADOW_CHECK {
        return found;
    }
    for (i, (later, parts)) in globs.iter().enumerate() {
        let hider = globs[..i].iter().find(|(earlier, theirs)| {
            earlier.kind.is_none_or(|k| later.kind == Some(k))
                && theirs.len() == parts.len()
                && theirs.iter().zip(parts).all(|(a, b)| *a == "*" || a == b)
        });
        if let Some((earlier, _)) = hider {
            found.push((
                later.line,
                format!(
                    "this rule never matches: `{}` at line {} comes first and matches every name it does",
                    earlier.pattern, earlier.line
                ),
            ));
        }
    }
    found
}

type Components = HashMap<Box<[u8]>, u32, foldhash::fast::FixedState>;

#[derive(Debug, Default)]
struct Node {
    literal: Components,
    star: Option<u32>,
    /// The earliest rule ending here.
    rule: Option<u32>,
    /// The earliest rule ending here or below.
    best_below: u32,
    /// Components after this node, over the rules through it.
    min_rest: u32,
    max_rest: u32,
}

/// A capture: the byte range of a component in the name.
pub(crate) type Span = (u32, u32);

/// The compiled glob rules.
#[derive(Debug)]
pub(crate) struct Glob {
    nodes: Vec<Node>,
    ordered: bool,
}

/// A match: the rule (its index in the file's order) and its captures.
#[derive(Debug)]
pub(crate) struct Found {
    pub rule: u32,
    pub captures: [Span; MAX_COMPONENTS],
    pub count: usize,
}

/// The walk's state.
struct Walk<'n> {
    name: &'n [u8],
    captures: [Span; MAX_COMPONENTS],
    best: Option<Found>,
}

impl Glob {
    pub fn new(ordered: bool) -> Glob {
        let roots = MetricKind::ALL.len();
        let mut nodes = Vec::with_capacity(roots);
        nodes.resize_with(roots, || Node {
            best_below: u32::MAX,
            min_rest: u32::MAX,
            ..Node::default()
        });
        Glob { nodes, ordered }
    }

    /// Adds rule number `rule` (rules must be added in file order) for the
    /// kinds given, or every kind.
    pub fn add(&mut self, pattern: &str, kind: Option<MetricKind>, rule: u32) {
        let components: Vec<&[u8]> = pattern.split('.').map(str::as_bytes).collect();
        for k in MetricKind::ALL {
            if kind.is_none_or(|only| only == k) {
                self.add_path(k.index(), &components, rule);
            }
        }
    }

    fn add_path(&mut self, root: usize, components: &[&[u8]], rule: u32) {
        let mut at = root;
        let n = components.len() as u32;
        self.note(at, n, rule);
        for (i, c) in components.iter().enumerate() {
            let next = match (*c == b"*", self.nodes[at].star) {
                (true, Some(next)) => next,
                (true, None) => {
                    let next = self.push();
                    self.nodes[at].star = Some(next);
                    next
                }
                (false, _) => match self.nodes[at].literal.get(*c) {
                    Some(&next) => next,
                    None => {
                        let next = self.push();
                        self.nodes[at].literal.insert((*c).into(), next);
                        next
                    }
                },
            };
            at = next as usize;
            self.note(at, n - 1 - i as u32, rule);
        }
        let node = &mut self.nodes[at];
        node.rule = Some(node.rule.map_or(rule, |r| r.min(rule)));
    }

    fn push(&mut self) -> u32 {
        self.nodes.push(Node {
            best_below: u32::MAX,
            min_rest: u32::MAX,
            ..Node::default()
        });
        (self.nodes.len() - 1) as u32
    }

    /// Records that `rule`, with `rest` components still to come, passes
    /// through node `at`.
    fn note(&mut self, at: usize, rest: u32, rule: u32) {
        let node = &mut self.nodes[at];
        node.best_below = node.best_below.min(rule);
        node.min_rest = node.min_rest.min(rest);
        node.max_rest = node.max_rest.max(rest);
    }

    /// The rule matching `name` for `kind`, if any.
    pub fn find(&self, name: &[u8], kind: MetricKind) -> Option<Found> {
        let components = name.iter().filter(|&&b| b == b'.').count() + 1;
        let root = &self.nodes[kind.index()];
        if components > MAX_COMPONENTS || !fits(root, components as u32) {
            return None;
        }
        let mut walk = Walk {
            name,
            captures: [(0, 0); MAX_COMPONENTS],
            best: None,
        };
        self.walk(kind.index(), 0, components as u32, 0, &mut walk);
        walk.best
    }

    /// Matches the components from byte `start` on, `rest` of them, from
    /// node `at`, `count` captures made so far; true to stop the search.
    fn walk(&self, at: usize, start: usize, rest: u32, count: usize, w: &mut Walk<'_>) -> bool {
        let node = &self.nodes[at];
        if rest == 0 {
            return match node.rule {
                Some(rule) if w.best.as_ref().is_none_or(|b| rule < b.rule) => {
                    w.best = Some(Found {
                        rule,
                        captures: w.captures,
                        count,
                    });
                    !self.ordered
                }
                _ => false,
            };
        }
        let end = w.name[start..]
            .iter()
            .position(|&b| b == b'.')
            .map_or(w.name.len(), |i| start + i);
        let component = &w.name[start..end];
        let worth = |next: &Node, best: &Option<Found>| {
            fits(next, rest - 1) && best.as_ref().is_none_or(|b| next.best_below < b.rule)
        };
        if let Some(&next) = node.literal.get(component) {
            if worth(&self.nodes[next as usize], &w.best)
                && self.walk(next as usize, end + 1, rest - 1, count, w)
            {
                return true;
            }
        }
        if let Some(next) = node.star {
            if worth(&self.nodes[next as usize], &w.best) {
                w.captures[count] = (start as u32, end as u32);
                return self.walk(next as usize, end + 1, rest - 1, count + 1, w);
            }
        }
        false
    }
}

/// Whether some rule through `node` has exactly `rest` more components
/// (as far as the bounds tell).
fn fits(node: &Node, rest: u32) -> bool {
    node.min_rest <= rest && rest <= node.max_rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(patterns: &[&str], ordered: bool) -> Glob {
        let mut g = Glob::new(ordered);
        for (i, p) in patterns.iter().enumerate() {
            check(p).unwrap();
            g.add(p, None, i as u32);
        }
        g
    }

    /// The rule and captures matching `name` as a counter.
    fn find(g: &Glob, name: &str) -> Option<(u32, Vec<String>)> {
        let f = g.find(name.as_bytes(), MetricKind::Counter)?;
        let caps = f.captures[..f.count]
            .iter()
            .map(|&(a, b)| name[a as usize..b as usize].to_owned())
            .collect();
        Some((f.rule, caps))
    }

    #[test]
    fn stars_are_whole_components() {
        let g = glob(&["shop.*.checkout", "shop.*.*.pay"], true);
        assert_eq!(find(&g, "shop.eu.checkout"), Some((0, vec!["eu".into()])));
        assert_eq!(
            find(&g, "shop.eu.web.pay"),
            Some((1, vec!["eu".into(), "web".into()]))
        );
        assert_eq!(find(&g, "shop.checkout"), None);
        assert_eq!(find(&g, "shop.eu.checkout.x"), None);
        assert_eq!(find(&g, "shop..checkout"), Some((0, vec![String::new()])));
        assert_eq!(find(&g, "shopx.eu.checkout"), None);
    }

    #[test]
    fn the_earliest_rule_wins_with_ordering() {
        let patterns = ["app.*.*", "app.api.errors", "app.*.errors"];
        let g = glob(&patterns, true);
        assert_eq!(find(&g, "app.api.errors").map(|f| f.0), Some(0));
        let g = glob(&["app.api.errors", "app.*.*"], true);
        assert_eq!(find(&g, "app.api.errors").map(|f| f.0), Some(0));
        assert_eq!(find(&g, "app.web.errors").map(|f| f.0), Some(1));
    }

    #[test]
    fn without_ordering_literals_beat_stars() {
        let g = glob(&["app.*.*", "app.api.errors", "app.*.errors"], false);
        assert_eq!(find(&g, "app.api.errors").map(|f| f.0), Some(1));
        assert_eq!(find(&g, "app.web.errors").map(|f| f.0), Some(2));
        // A literal path that dead-ends falls back to the star.
        let g = glob(&["a.b.c", "a.*.d"], false);
        assert_eq!(find(&g, "a.b.d"), Some((1, vec!["b".into()])));
    }

    #[test]
    fn kinds_have_their_own_rules() {
        let mut g = Glob::new(true);
        g.add("jobs.*", Some(MetricKind::Gauge), 0);
        g.add("jobs.*", None, 1);
        let rule = |k| g.find(b"jobs.x", k).map(|f| f.rule);
        assert_eq!(rule(MetricKind::Gauge), Some(0));
        assert_eq!(rule(MetricKind::Counter), Some(1));
        assert_eq!(rule(MetricKind::Observer), Some(1));
    }

    #[test]
    fn a_shorter_rule_added_later_still_matches() {
        let g = glob(&["a.b.c", "a.b"], true);
        assert_eq!(find(&g, "a.b").map(|f| f.0), Some(1));
    }

    #[test]
    fn globs_are_checked() {
        assert!(check("a.*.b-c.9x").is_ok());
        assert!(check("*").is_ok());
        assert!(check("9a.b").is_err());
        assert!(check("a..b").is_err());
        assert!(check("a.b*").is_err());
        assert!(check("a.b c").is_err());
        assert!(check(&vec!["a"; 65].join(".")).is_err());
    }
}
