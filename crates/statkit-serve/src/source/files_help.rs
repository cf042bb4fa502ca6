//! The help texts and units the scanner finds in stats files, for
//! `/metrics`: a side channel beside the readings, which carry values only
//! (as statsd samples do) into the tables.
//!
//! Each scan replaces the whole table with what that scan found, keyed by
//! the statsd name as the store keeps it (canonical, sanitized as the
//! table sanitizes), so a process that exits takes its descriptions with
//! it. The table is bounded ([`MAX_DESCRIBED`] keys); what a scan finds
//! past it is left out and counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use statkit_encode::prometheus::Described as Shown;
use statkit_scan::described::KeyHelp;

/// Described keys kept at most.
pub(crate) const MAX_DESCRIBED: usize = 20_000;

/// A key's unit and help text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Help {
    unit: String,
    help: String,
}

/// One scan's descriptions, by statsd name.
#[derive(Debug, Default)]
pub(crate) struct Table {
    by_name: HashMap<Vec<u8>, Help>,
    /// Changes with the contents, so a cached `/metrics` answer is not
    /// served with older descriptions.
    version: u64,
}

impl Table {
    /// The description of statsd name `name` (a store key without tags).
    pub(crate) fn get(&self, name: &[u8]) -> Option<Shown<'_>> {
        self.by_name.get(name).map(|h| Shown {
            help: &h.help,
            unit: &h.unit,
        })
    }

    pub(crate) fn version(&self) -> u64 {
        self.version
    }
}

/// The table the scanner writes and `/metrics` reads.
#[derive(Debug, Default)]
pub(crate) struct Described {
    current: Mutex<Arc<Table>>,
    /// Keys the last scan found past [`MAX_DESCRIBED`].
    left_out: AtomicU64,
}

impl Described {
    /// The current table.
    pub(crate) fn current(&self) -> Arc<Table> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keys the last scan found past the bound.
    pub(crate) fn left_out(&self) -> u64 {
        self.left_out.load(Ordering::Relaxed)
    }

    /// Replaces the table with `found` (the first description of a key
    /// counts), each key turned into the store's name by `canonical`;
    /// past [`MAX_DESCRIBED`] keys the rest are left out and counted, with
    /// the `past` the scan already left out. A scan that finds what the
    /// last one found changes nothing.
    pub(crate) fn replace(
        &self,
        found: &[KeyHelp],
        past: u64,
        mut canonical: impl FnMut(&str) -> Vec<u8>,
    ) {
        let mut by_name = HashMap::new();
        let mut left_out = past;
        for key in found {
            let name = canonical(&key.key);
            if by_name.contains_key(&name) {
                continue;
            }
            if by_name.len() >= MAX_DESCRIBED {
                left_out += 1;
                continue;
            }
            let help = Help {
                unit: key.unit.clone(),
                help: key.help.clone(),
            };
            by_name.insert(name, help);
        }
        self.left_out.store(left_out, Ordering::Relaxed);
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.by_name != by_name {
            let version = current.version.wrapping_add(1);
            *current = Arc::new(Table { by_name, version });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str, help: &str) -> KeyHelp {
        KeyHelp {
            key: key.into(),
            unit: String::new(),
            help: help.into(),
        }
    }

    #[test]
    fn each_scan_replaces_the_table_and_the_first_description_counts() {
        let described = Described::default();
        let upper = |k: &str| k.to_uppercase().into_bytes();
        described.replace(
            &[key("a", "first"), key("a", "second"), key("b", "")],
            0,
            upper,
        );
        let table = described.current();
        assert_eq!(table.get(b"A").map(|d| d.help), Some("first"));
        assert!(table.get(b"a").is_none(), "looked up by the store's name");
        let version = table.version();
        described.replace(&[key("a", "first"), key("b", "")], 0, upper);
        assert_eq!(described.current().version(), version, "unchanged");
        described.replace(&[key("b", "")], 0, upper);
        let table = described.current();
        assert!(table.get(b"A").is_none() && table.version() != version);
    }

    #[test]
    fn keys_past_the_bound_are_left_out_and_counted() {
        let described = Described::default();
        let found: Vec<KeyHelp> = (0..MAX_DESCRIBED + 5)
            .map(|i| key(&format!("k{i}"), "h"))
            .collect();
        described.replace(&found, 3, |k| k.as_bytes().to_vec());
        assert_eq!(described.left_out(), 5 + 3);
        assert!(described.current().get(b"k0").is_some());
        assert!(described
            .current()
            .get(format!("k{MAX_DESCRIBED}").as_bytes())
            .is_none());
        described.replace(&found[..1], 0, |k| k.as_bytes().to_vec());
        assert_eq!(described.left_out(), 0);
    }
}
