//! Labels: the ones a series' key carries (`name;tag=value;bare`) and the
//! ones the whole host adds (`--label host=web1`), as every labelled
//! output (`/metrics`, remote-write, OTLP, InfluxDB) names them.
//!
//! Host labels work as Prometheus' external labels: each is added to every
//! series that does not already carry a label of that name, so a key's own
//! tag wins. Their names are checked when they are given, not rewritten:
//! a name that is not a valid Prometheus label name, that starts with the
//! reserved `__`, or that is `le` (which a histogram's buckets need) is
//! refused.

use std::borrow::Cow;

/// Why a host label is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("{0:?} is not KEY=VALUE")]
    NotPair(String),
    #[error(
        "label name {0:?} is not a Prometheus label name ([A-Za-z_][A-Za-z0-9_]*, not starting with __, not le)"
    )]
    Name(String),
    #[error("label {0:?} has an empty value")]
    EmptyValue(String),
    #[error("label {0:?} is given twice")]
    Twice(String),
}

/// The labels added to every series a host exports, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostLabels {
    pairs: Vec<(String, String)>,
}

impl HostLabels {
    /// Labels from `(name, value)` pairs; names must be valid and
    /// distinct, values not empty (Prometheus drops a label with an empty
    /// value, which would merge this host's series with others').
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, LabelError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in pairs {
            if !is_host_label_name(&name) {
                return Err(LabelError::Name(name));
            }
            if value.is_empty() {
                return Err(LabelError::EmptyValue(name));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(LabelError::Twice(name));
            }
            out.push((name, value));
        }
        out.sort();
        Ok(Self { pairs: out })
    }

    /// Labels from `KEY=VALUE` texts, as `--label` takes them.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Self, LabelError> {
        let pairs = texts
            .iter()
            .map(|text| {
                let text = text.as_ref();
                text.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| LabelError::NotPair(text.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(pairs)
    }

    /// These labels with `over`'s added, `over` winning for a name both
    /// give (a sink's own labels over the host's).
    pub fn with(&self, over: &HostLabels) -> HostLabels {
        let mut pairs = over.pairs.clone();
        for (name, value) in &self.pairs {
            if !over.pairs.iter().any(|(n, _)| n == name) {
                pairs.push((name.clone(), value.clone()));
            }
        }
        pairs.sort();
        HostLabels { pairs }
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`, not starting with `__`, not `le`.
fn is_host_label_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let valid = bytes.first().is_some_and(|b| !b.is_ascii_digit())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_');
    valid && !name.starts_with("__") && name != "le"
}

/// Adds the host's labels that `pairs` (a key's tags) do not name.
pub(crate) fn add_host<'k>(pairs: &mut Vec<(String, Cow<'k, str>)>, host: &'k HostLabels) {
    for (name, value) in host.pairs() {
        if !pairs.iter().any(|(n, _)| n == name) {
            pairs.push((name.clone(), Cow::Borrowed(value.as_str())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_labels_are_checked_and_sorted() {
        let labels = HostLabels::parse(&["host=web1", "dc = eu"]).unwrap();
        assert_eq!(
            labels.pairs(),
            [
                ("dc".to_owned(), "eu".to_owned()),
                ("host".to_owned(), "web1".to_owned())
            ]
        );
        let refused = |text: &str| HostLabels::parse(&[text]).unwrap_err();
        assert_eq!(refused("host"), LabelError::NotPair("host".into()));
        for name in ["__name__", "le", "1x", "a-b", ""] {
            assert_eq!(refused(&format!("{name}=v")), LabelError::Name(name.into()));
        }
        assert_eq!(refused("host="), LabelError::EmptyValue("host".into()));
        assert_eq!(
            HostLabels::parse(&["a=1", "a=2"]).unwrap_err(),
            LabelError::Twice("a".into())
        );
        // A value may hold anything, `=` included.
        let labels = HostLabels::parse(&["q=a=b c"]).unwrap();
        assert_eq!(labels.pairs()[0].1, "a=b c");
    }

    #[test]
    fn a_sinks_labels_win_over_the_hosts() {
        let host = HostLabels::parse(&["host=a", "dc=eu"]).unwrap();
        let sink = HostLabels::parse(&["dc=us", "team=x"]).unwrap();
        let both = host.with(&sink);
        let names: Vec<_> = both
            .pairs()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        assert_eq!(names, ["dc=us", "host=a", "team=x"]);
    }

    #[test]
    fn a_keys_tags_win_over_the_hosts_labels() {
        let host = HostLabels::parse(&["host=a", "dc=eu"]).unwrap();
        let tags = [(&b"host"[..], Some(&b"b"[..])), (b"canary", None)];
        let mut pairs = crate::prometheus::tag_pairs(tags.into_iter(), None);
        add_host(&mut pairs, &host);
        let text: Vec<_> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(text, ["host=b", "canary=true", "dc=eu"]);
    }
}
