//! A YAML document as a tree whose every node knows its line, so that the
//! reader can say where a bad value is (yaml-rust2's own tree forgets).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Nodes one document may make, aliases expanded: a bound against "billion
/// laughs" documents, far above any real mapping file.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// One node of the document and the line (1-based) it starts on.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub line: usize,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// A scalar's text; `plain` when unquoted (so `~` and `null` are null).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text, if this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// An unquoted `~`, `null` or nothing at all (`key:`).
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What the node is, for error messages.
    pub fn what(&self) -> &'static str {
        match self.value {
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Why a document could not be read as YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// The first document of `text`; `None` when there is none (an empty file).
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line(),
        column: e.marker().col() + 1,
        message: e.info().to_owned(),
    })?;
    if let Some(message) = builder.failure {
        return Err(SyntaxError {
            line: builder.failure_line,
            column: 1,
            message,
        });
    }
    Ok(builder.document)
}

/// Builds the tree from the parser's events.
#[derive(Default)]
struct Builder {
    /// Open collections: the node and, for a mapping, a key awaiting its
    /// value.
    stack: Vec<(Node, Option<Node>)>,
    anchors: Vec<(usize, Node)>,
    /// Anchor ids of the open collections, recorded when they close.
    open_anchors: Vec<usize>,
    document: Option<Node>,
    nodes: usize,
    failure: Option<String>,
    failure_line: usize,
}

impl Builder {
    fn fail(&mut self, line: usize, message: &str) {
        if self.failure.is_none() {
            self.failure = Some(message.to_owned());
            self.failure_line = line;
        }
    }

    /// Counts `n` more nodes; false (and a failure) past [`MAX_NODES`].
    fn count(&mut self, n: usize, line: usize) -> bool {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            self.fail(
                line,
                "the document is too large (aliases expand past a million nodes)",
            );
            return false;
        }
        true
    }

    /// Places a finished node into its parent, or as the document.
    fn place(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if self.document.is_none() {
                    self.document = Some(node);
                }
            }
            Some((parent, pending)) => match &mut parent.value {
                Value::Seq(items) => items.push(node),
                Value::Map(pairs) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => pairs.push((key, node)),
                },
                Value::Scalar { .. } => {}
            },
        }
    }
}

/// Nodes in a tree, for the alias bound.
fn size(node: &Node) -> usize {
    match &node.value {
        Value::Scalar { .. } => 1,
        Value::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Value::Map(pairs) => 1 + pairs.iter().map(|(k, v)| size(k) + size(v)).sum::<usize>(),
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.failure.is_some() {
            return;
        }
        let line = mark.line();
        let open = |value| Node { line, value };
        match event {
            Event::Scalar(text, style, anchor, _) => {
                if self.count(1, line) {
                    let plain = style == TScalarStyle::Plain;
                    self.place(open(Value::Scalar { text, plain }), anchor);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                let value = if matches!(event, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                if self.count(1, line) {
                    self.stack.push((open(value), None));
                    self.open_anchors.push(anchor);
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let (Some((node, _)), Some(anchor)) = (self.stack.pop(), self.open_anchors.pop())
                {
                    self.place(node, anchor);
                }
            }
            Event::Alias(id) => {
                let found = self.anchors.iter().rev().find(|(a, _)| *a == id);
                match found.map(|(_, node)| node.clone()) {
                    Some(node) => {
                        if self.count(size(&node), line) {
                            self.place(node, 0);
                        }
                    }
                    None => self.fail(line, "an alias names no anchor"),
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        node.scalar().unwrap()
    }

    #[test]
    fn nodes_know_their_lines() {
        let doc = parse("a: 1\nb:\n  - x\n  - 'y'\nc:\n").unwrap().unwrap();
        let Value::Map(pairs) = &doc.value else {
            panic!("{doc:?}")
        };
        assert_eq!(pairs.len(), 3);
        assert_eq!((scalar(&pairs[0].0), pairs[0].0.line), ("a", 1));
        let Value::Seq(items) = &pairs[1].1.value else {
            panic!()
        };
        assert_eq!((scalar(&items[1]), items[1].line), ("y", 4));
        assert!(!items[1].is_null());
        assert!(pairs[2].1.is_null());
    }

    #[test]
    fn aliases_expand_and_are_bounded() {
        let doc = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let Value::Map(pairs) = &doc.value else {
            panic!()
        };
        assert_eq!(pairs[0].1, pairs[1].1);
        let mut bomb = String::from("a: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let err = parse(&bomb).unwrap_err();
        assert!(err.message.contains("too large"), "{err:?}");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }
}
