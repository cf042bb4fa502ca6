//! Objects printed the way node's `util.inspect` prints them, which is what
//! etsy statsd's admin port answers `counters`, `gauges` and `timers` with.
//! Scripts that scraped etsy's admin output keep working.

use statkit_wire::jsnum;

/// A value inside an inspected object.
#[derive(Clone, Debug, PartialEq)]
pub enum Item<'a> {
    Number(f64),
    Numbers(&'a [f64]),
    Strings(Vec<&'a [u8]>),
}

/// Past this many characters node breaks an object over several lines.
const BREAK_LENGTH: usize = 72;

/// `{ key: value, 'dotted.key': value }`, or one entry per line when long.
pub fn object<'a>(entries: impl Iterator<Item = (&'a [u8], Item<'a>)>) -> String {
    let parts: Vec<String> = entries
        .map(|(key, item)| format!("{}: {}", key_text(key), item_text(&item)))
        .collect();
    if parts.is_empty() {
        return "{}".into();
    }
    let flat_len: usize = parts.iter().map(|p| p.len() + 2).sum::<usize>() + 2;
    if flat_len <= BREAK_LENGTH && parts.iter().all(|p| !p.contains('\n')) {
        format!("{{ {} }}", parts.join(", "))
    } else {
        format!("{{\n  {}\n}}", parts.join(",\n  "))
    }
}

fn key_text(key: &[u8]) -> String {
    let identifier = key
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_' || *b == b'$')
        && key
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$');
    if identifier {
        String::from_utf8_lossy(key).into_owned()
    } else {
        quote(key)
    }
}

fn quote(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    format!(
        "'{}'",
        text.replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('\n', "\\n")
    )
}

fn item_text(item: &Item<'_>) -> String {
    match item {
        Item::Number(n) => jsnum::to_string(*n),
        Item::Numbers(values) => list(values.iter().map(|v| jsnum::to_string(*v))),
        Item::Strings(values) => list(values.iter().map(|v| quote(v))),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    if items.is_empty() {
        "[]".into()
    } else {
        format!("[ {} ]", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::{object, Item};

    #[test]
    fn short_objects_fit_on_one_line() {
        let text = object(
            [
                (&b"statsd.bad_lines_seen"[..], Item::Number(0.0)),
                (b"foo", Item::Number(2.5)),
            ]
            .into_iter(),
        );
        assert_eq!(text, "{ 'statsd.bad_lines_seen': 0, foo: 2.5 }");
    }

    #[test]
    fn long_objects_take_a_line_per_entry() {
        let entries = (0..6).map(|i| {
            (
                &b"some.rather.long.metric.name"[..],
                Item::Number(f64::from(i)),
            )
        });
        let text = object(entries);
        assert!(
            text.starts_with("{\n  'some.rather.long.metric.name': 0,\n"),
            "{text}"
        );
        assert!(text.ends_with("'some.rather.long.metric.name': 5\n}"));
    }

    #[test]
    fn lists_and_empty_values() {
        assert_eq!(object(std::iter::empty()), "{}");
        let values = [1.0, 2.5];
        assert_eq!(
            object([(&b"t"[..], Item::Numbers(&values))].into_iter()),
            "{ t: [ 1, 2.5 ] }"
        );
        assert_eq!(
            object([(&b"s"[..], Item::Strings(vec![b"a", b"it's"]))].into_iter()),
            "{ s: [ 'a', 'it\\'s' ] }"
        );
        assert_eq!(
            object([(&b"e"[..], Item::Numbers(&[]))].into_iter()),
            "{ e: [] }"
        );
    }
}
