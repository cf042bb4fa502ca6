//! Reading a series key back into its name and DogStatsD tags.
//!
//! The aggregator keys a tagged series as Graphite's tagged-series syntax:
//! `name;tag=value;bare`.

/// One tag: its name and, unless bare, its value.
pub type Tag<'k> = (&'k [u8], Option<&'k [u8]>);

/// The name part of `key` and its tags.
pub fn split_key(key: &[u8]) -> (&[u8], impl Iterator<Item = Tag<'_>>) {
    let (name, tags) = match key.iter().position(|&b| b == b';') {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => (key, &[][..]),
    };
    let tags = tags
        .split(|&b| b == b';')
        .filter(|t| !t.is_empty())
        .map(|tag| match tag.iter().position(|&b| b == b'=') {
            Some(i) => (&tag[..i], Some(&tag[i + 1..])),
            None => (tag, None),
        });
    (name, tags)
}

#[cfg(test)]
mod tests {
    use super::split_key;

    #[test]
    fn names_and_tags() {
        let (name, tags) = split_key(b"req;env=prod;canary;a=b=c");
        assert_eq!(name, b"req");
        let tags: Vec<_> = tags.collect();
        assert_eq!(
            tags,
            vec![
                (&b"env"[..], Some(&b"prod"[..])),
                (&b"canary"[..], None),
                (&b"a"[..], Some(&b"b=c"[..])),
            ]
        );
        let (name, tags) = split_key(b"plain");
        assert_eq!((name, tags.count()), (&b"plain"[..], 0));
    }
}
