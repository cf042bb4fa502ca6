//! Names as Prometheus accepts them.

/// A valid metric name, `[A-Za-z_:][A-Za-z0-9_:]*`: every other byte
/// becomes `_`, and a name starting with a digit (or empty) gets a leading
/// `_` (statsd_exporter's `EscapeMetricName`, except that an empty name
/// gives `_`).
pub fn metric_name(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    push_metric_name(name, &mut out);
    out
}

/// [`metric_name`], appended to `out`.
pub fn push_metric_name(name: &[u8], out: &mut String) {
    if name.first().is_none_or(u8::is_ascii_digit) {
        out.push('_');
    }
    out.extend(name.iter().map(|&b| match b {
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b':' => char::from(b),
        _ => '_',
    }));
}

/// Whether `name` is a label name a rule may set: `[A-Za-z_][A-Za-z0-9_]*`,
/// not starting with `__` (reserved by Prometheus).
pub(crate) fn is_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && !name.starts_with("__")
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        assert_eq!(metric_name(b"api.req-s"), "api_req_s");
        assert_eq!(metric_name(b"9lives"), "_9lives");
        assert_eq!(metric_name(b"a:b"), "a:b");
        assert_eq!(metric_name(b""), "_");
        assert_eq!(metric_name("é".as_bytes()), "__");
    }

    #[test]
    fn label_names() {
        assert!(is_label_name("outcome"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name(""));
    }
}
