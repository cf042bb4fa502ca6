//! `name` and label templates: `$1` and `${1}` name a capture (a glob's
//! `*`, a regex's group; `$0` the whole name), `${name}` a regex's named
//! group, `$$` a `$`. As Go's `Regexp.Expand`, which statsd_exporter uses:
//! a reference is the longest run of letters, digits and `_` after `$`, so
//! `$1x` names a group `1x` (empty unless a regex names one so), and
//! `${1}x` is capture 1 then `x`; a `$` followed by nothing of the kind is
//! kept as it is.

/// One reference in a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reference {
    Index(usize),
    Name(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(Box<str>),
    Capture(Reference),
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn reference(name: &str) -> Reference {
    match name.parse::<usize>() {
        Ok(i) => Reference::Index(i),
        Err(_) => Reference::Name(name.into()),
    }
}

/// The reference at the start of `after` (the text after a `$`) and its
/// length, if there is one.
fn read_reference(after: &str) -> Option<(Reference, usize)> {
    if let Some(inner) = after.strip_prefix('{') {
        let end = inner.find('}')?;
        let name = &inner[..end];
        if name.is_empty() || !name.bytes().all(is_name_byte) {
            return None;
        }
        return Some((reference(name), end + 2));
    }
    let end = after
        .bytes()
        .position(|b| !is_name_byte(b))
        .unwrap_or(after.len());
    (end > 0).then(|| (reference(&after[..end]), end))
}

impl Template {
    pub fn parse(text: &str) -> Template {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(dollar) = rest.find('$') {
            literal.push_str(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                literal.push('$');
                rest = tail;
                continue;
            }
            match read_reference(after) {
                Some((r, len)) => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal).into()));
                    }
                    pieces.push(Piece::Capture(r));
                    rest = &after[len..];
                }
                None => {
                    literal.push('$');
                    rest = after;
                }
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal.into()));
        }
        Template { pieces }
    }

    /// Whether the template is only text (no reference).
    pub fn is_plain(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }

    /// The template's fixed text, in order (for checking a name's
    /// characters), each with whether it opens the template.
    pub fn texts(&self) -> impl Iterator<Item = (&str, bool)> {
        self.pieces.iter().enumerate().filter_map(|(i, p)| match p {
            Piece::Text(t) => Some((&**t, i == 0)),
            Piece::Capture(_) => None,
        })
    }

    /// The highest capture index the template names.
    pub fn max_index(&self) -> usize {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Capture(Reference::Index(i)) => Some(*i),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The named references (`$1_b` is one: Go reads the longest run of
    /// name characters).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Capture(Reference::Name(n)) => Some(&**n),
            _ => None,
        })
    }

    /// Writes the template to `out`, each reference replaced by what
    /// `capture` gives for it (nothing when it gives `None`).
    pub fn expand<'a>(&self, capture: impl Fn(&Reference) -> Option<&'a [u8]>, out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Capture(r) => {
                    if let Some(bytes) = capture(r) {
                        out.push_str(&String::from_utf8_lossy(bytes));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: &str, captures: &[&str]) -> String {
        let mut out = String::new();
        Template::parse(template).expand(
            |r| match r {
                Reference::Index(i) => captures.get(*i).map(|c| c.as_bytes()),
                Reference::Name(n) if &**n == "who" => Some(b"named"),
                Reference::Name(_) => None,
            },
            &mut out,
        );
        out
    }

    #[test]
    fn references_as_go_expands_them() {
        let caps = ["all", "one", "two"];
        assert_eq!(expand("a_${1}_b", &caps), "a_one_b");
        // As Go: `_` continues the reference, naming a group `1_b`.
        assert_eq!(expand("a_$1_b", &caps), "a_");
        assert_eq!(expand("${2}x", &caps), "twox");
        assert_eq!(expand("$2x", &caps), "");
        assert_eq!(expand("$0", &caps), "all");
        assert_eq!(expand("$9", &caps), "");
        assert_eq!(expand("${who}-$who", &caps), "named-named");
        assert_eq!(expand("cost$$", &caps), "cost$");
        assert_eq!(expand("$-x ${ $", &caps), "$-x ${ $");
        assert_eq!(expand("plain", &caps), "plain");
    }

    #[test]
    fn plain_texts_and_highest_index() {
        let t = Template::parse("job_${1}_$3");
        assert!(!t.is_plain());
        assert_eq!(t.max_index(), 3);
        assert_eq!(
            t.texts().collect::<Vec<_>>(),
            vec![("job_", true), ("_", false)]
        );
        assert!(Template::parse("x").is_plain());
    }
}
