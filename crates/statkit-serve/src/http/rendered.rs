//! The last answers of the costly store views, reused while the store has
//! not changed.
//!
//! The store changes once per flush; a scraper, a dashboard or a script
//! polling `/metrics` or `/load/N` faster than that would otherwise render
//! the same megabytes again each time, on cores the receivers need. An
//! answer is kept under its route, variant and the store's generation, and
//! a put drops every answer of an older generation. Bounded in entries and
//! bytes; what does not fit is simply not kept.

use std::sync::Mutex;

use axum::body::Bytes;

/// Answers kept at most, and their bytes at most.
const MAX_ENTRIES: usize = 16;
const MAX_BYTES: usize = 32 << 20;

/// What an answer depends on besides the store: the route and whatever
/// of the request shapes it (a format, a window and the second it was
/// asked in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Key {
    pub route: &'static str,
    pub variant: u64,
}

#[derive(Debug, Default)]
pub(super) struct Rendered {
    entries: Mutex<Vec<(Key, u64, Bytes)>>,
}

impl Rendered {
    /// The answer kept for `key` at store generation `generation`.
    pub(super) fn get(&self, key: Key, generation: u64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .find(|(k, g, _)| *k == key && *g == generation)
            .map(|(_, _, body)| body.clone())
    }

    /// Keeps `body` as the answer for `key` at `generation`, if it fits.
    pub(super) fn put(&self, key: Key, generation: u64, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(k, g, _)| *g == generation && *k != key);
        let held: usize = entries.iter().map(|(_, _, b)| b.len()).sum();
        if entries.len() < MAX_ENTRIES && held + body.len() <= MAX_BYTES {
            entries.push((key, generation, body));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: Key = Key {
        route: "metrics",
        variant: 0,
    };

    #[test]
    fn an_answer_is_reused_until_the_store_changes() {
        let cache = Rendered::default();
        assert_eq!(cache.get(METRICS, 1), None);
        cache.put(METRICS, 1, Bytes::from_static(b"a"));
        assert_eq!(cache.get(METRICS, 1).as_deref(), Some(&b"a"[..]));
        assert_eq!(cache.get(METRICS, 2), None);
        let other = Key {
            variant: 1,
            ..METRICS
        };
        assert_eq!(cache.get(other, 1), None);
    }

    #[test]
    fn a_newer_generation_drops_the_older_answers() {
        let cache = Rendered::default();
        cache.put(METRICS, 1, Bytes::from_static(b"a"));
        let load = Key {
            route: "load",
            variant: 5,
        };
        cache.put(load, 2, Bytes::from_static(b"b"));
        assert_eq!(cache.get(METRICS, 1), None);
        assert_eq!(cache.entries.lock().unwrap().len(), 1);
    }

    #[test]
    fn answers_past_the_bounds_are_not_kept() {
        let cache = Rendered::default();
        cache.put(METRICS, 1, Bytes::from(vec![0; MAX_BYTES + 1]));
        assert_eq!(cache.get(METRICS, 1), None);
        for variant in 0..MAX_ENTRIES as u64 + 4 {
            let key = Key {
                route: "load",
                variant,
            };
            cache.put(key, 1, Bytes::from_static(b"x"));
        }
        assert_eq!(cache.entries.lock().unwrap().len(), MAX_ENTRIES);
    }
}
