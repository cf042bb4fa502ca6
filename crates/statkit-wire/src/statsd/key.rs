//! Series keys as etsy statsd 0.9 builds them.
//!
//! etsy appends DogStatsD tags to the name as Graphite tagged-series syntax
//! (`name;tag=value;bare`) and then sanitizes the whole key: runs of
//! whitespace become `_`, `/` becomes `-`, and every character outside
//! `[A-Za-z0-9_.;=-]` is deleted. statkit builds the same key so that
//! series, Graphite paths and admin output agree with etsy's.

/// Builds the canonical key of `name` with its raw DogStatsD `tags` section
/// (comma separated, possibly empty).
///
/// Returns `name` itself when it needs no change (the common case: no tags
/// and nothing to sanitize); otherwise writes the key into `scratch`, which
/// the caller reuses across lines so no line allocates once it has grown.
pub fn canonical<'a>(
    name: &'a [u8],
    tags: &[u8],
    sanitize: bool,
    scratch: &'a mut Vec<u8>,
) -> &'a [u8] {
    if tags.is_empty() && (!sanitize || all_kept(name)) {
        return name;
    }
    scratch.clear();
    scratch.extend_from_slice(name);
    if !tags.is_empty() {
        for tag in tags.split(|&b| b == b',') {
            scratch.push(b';');
            push_tag(scratch, tag);
        }
    }
    if sanitize {
        sanitize_in_place(scratch);
    }
    scratch
}

/// etsy replaces the first `;` of a tag with `_` and its first `:` with `=`
/// (JavaScript's `String.replace` with a string pattern replaces once).
fn push_tag(out: &mut Vec<u8>, tag: &[u8]) {
    let start = out.len();
    out.extend_from_slice(tag);
    let tag = &mut out[start..];
    if let Some(i) = tag.iter().position(|&b| b == b';') {
        tag[i] = b'_';
    }
    if let Some(i) = tag.iter().position(|&b| b == b':') {
        tag[i] = b'=';
    }
}

/// Bytes that survive sanitizing unchanged.
#[inline]
pub fn is_kept(b: u8) -> bool {
    KEPT[usize::from(b)]
}

/// Whether sanitizing leaves `name` as it is. Eight bytes at a time without
/// a branch per byte: this runs for every line received.
#[inline]
fn all_kept(name: &[u8]) -> bool {
    let mut chunks = name.chunks_exact(8);
    for chunk in &mut chunks {
        if !chunk
            .iter()
            .fold(true, |all, &b| all & KEPT[usize::from(b)])
        {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| KEPT[usize::from(b)])
}

/// [`is_kept`] as a table: every statsd line's key is checked byte by byte,
/// and one load per byte costs a third of the comparisons it replaces.
static KEPT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b';' | b'=');
        b += 1;
    }
    table
};

/// Applies etsy's three regular expressions in order, in place:
/// `\s+` -> `_`, `/` -> `-`, then deletes `[^a-zA-Z_\-0-9\.;=]`.
pub fn sanitize_in_place(key: &mut Vec<u8>) {
    sanitize_tail(key, 0);
}

/// Sanitizes `key[start..]` in place, leaving what comes before untouched
/// (for a name appended to a path that is already built).
pub fn sanitize_tail(key: &mut Vec<u8>, start: usize) {
    let mut read = start;
    let mut write = start;
    while read < key.len() {
        let (ch_len, class) = classify(&key[read..]);
        read += ch_len;
        match class {
            Class::Space => {
                // A run of whitespace collapses into one underscore.
                while read < key.len() {
                    let (next_len, next) = classify(&key[read..]);
                    if next != Class::Space {
                        break;
                    }
                    read += next_len;
                }
                key[write] = b'_';
                write += 1;
            }
            Class::Slash => {
                key[write] = b'-';
                write += 1;
            }
            Class::Kept(b) => {
                key[write] = b;
                write += 1;
            }
            Class::Dropped => {}
        }
    }
    key.truncate(write);
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Space,
    Slash,
    Kept(u8),
    Dropped,
}

/// Classifies the character starting at `bytes[0]`, returning its length in
/// bytes. Non-ASCII characters are decoded so that JavaScript's Unicode
/// whitespace (`\s`) turns into `_` as it does in etsy; invalid UTF-8 bytes
/// are dropped one at a time (node decodes them to U+FFFD, also dropped).
fn classify(bytes: &[u8]) -> (usize, Class) {
    let b = bytes[0];
    if b < 0x80 {
        let class = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => Class::Space,
            b'/' => Class::Slash,
            _ if is_kept(b) => Class::Kept(b),
            _ => Class::Dropped,
        };
        return (1, class);
    }
    let len = match b {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return (1, Class::Dropped),
    };
    let Some(ch) = bytes
        .get(..len)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|s| s.chars().next())
    else {
        return (1, Class::Dropped);
    };
    let class = if is_js_unicode_space(ch) {
        Class::Space
    } else {
        Class::Dropped
    };
    (len, class)
}

/// The non-ASCII members of JavaScript's `\s`.
fn is_js_unicode_space(ch: char) -> bool {
    matches!(
        ch,
        '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::canonical;

    fn key(name: &str, tags: &str) -> String {
        let mut scratch = Vec::new();
        String::from_utf8(canonical(name.as_bytes(), tags.as_bytes(), true, &mut scratch).to_vec())
            .unwrap()
    }

    #[test]
    fn clean_names_are_borrowed_unchanged() {
        let mut scratch = Vec::new();
        let name = b"api.requests-total_2";
        let out = canonical(name, b"", true, &mut scratch);
        assert_eq!(out.as_ptr(), name.as_ptr());
    }

    #[test]
    fn sanitizes_like_etsy() {
        assert_eq!(key("we ird/key!", ""), "we_ird-key");
        assert_eq!(key("a  \t b", ""), "a_b");
        assert_eq!(key("h\u{e9}llo", ""), "hllo");
        assert_eq!(key("nb\u{a0}sp", ""), "nb_sp");
        assert_eq!(key("x:y#z", ""), "xyz");
    }

    #[test]
    fn tags_become_graphite_tagged_series() {
        assert_eq!(key("req", "env:prod,canary"), "req;env=prod;canary");
        assert_eq!(key("req", "a:b:c"), "req;a=bc");
        assert_eq!(key("req", "x;y:z"), "req;x_y=z");
        assert_eq!(key("req", "path:/api v1"), "req;path=-api_v1");
    }

    #[test]
    fn unsanitized_keys_keep_every_byte() {
        let mut scratch = Vec::new();
        assert_eq!(canonical(b"a b/c", b"", false, &mut scratch), b"a b/c");
        assert_eq!(canonical(b"a", b"k:v", false, &mut scratch), b"a;k=v");
    }
}
