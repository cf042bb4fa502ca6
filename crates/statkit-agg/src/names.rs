//! A map from byte-string names to values, built for many small names.
//!
//! Names live back to back in one arena instead of one heap allocation
//! each, with a `u32` start per name, and the hash index stores only a
//! `u32` slot number. For 100k series of ~15-byte names that is
//! about a third of the memory of a `HashMap<Box<[u8]>, V>`, and inserting
//! a name is amortized vector growth rather than a `malloc`. Iteration
//! follows insertion order, which is the order etsy statsd (a JavaScript
//! object) flushes its keys in, except that JavaScript lists integer-like
//! keys (`404`) first.
//!
//! Names are kept apart from the values so that the aggregator's maps can
//! share them, copy-on-write, with the snapshots a flush takes
//! ([`SharedArena`], [`NameMap::share`]): a flush of 100k counters copies
//! 800 KB of values and refers to its 1.5 MB of names instead of copying
//! them, and so does every flush a slow sink still holds. Such a
//! map copies its names only when it must change them while a snapshot
//! still holds the old ones. Every other map (a receiver's, a set's
//! members) owns plain [`Names`], which cost no extra allocation per map.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Marks a removed slot's start; its value stays until the next
/// compaction. Names therefore take at most 2 GiB a map.
const REMOVED: u32 = 1 << 31;

/// Names back to back, and where each slot's name starts.
///
/// A name ends where the next one starts, so a slot costs 4 bytes besides
/// its name: 400 KB less than a (start, length) pair for 100k series.
#[derive(Clone, Debug, Default)]
pub(crate) struct Names {
    bytes: Vec<u8>,
    /// By slot; the top bit ([`REMOVED`]) marks a removed one.
    starts: Vec<u32>,
}

impl Names {
    /// The name in slot `i`; empty for a removed slot.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        match self.starts.get(i) {
            Some(&start) if start & REMOVED == 0 => {
                let end = (self.starts.get(i + 1))
                    .map_or(self.bytes.len(), |&next| (next & !REMOVED) as usize);
                self.bytes.get(start as usize..end).unwrap_or_default()
            }
            _ => &[],
        }
    }

    fn is_live(&self, i: usize) -> bool {
        self.starts
            .get(i)
            .is_some_and(|&start| start & REMOVED == 0)
    }

    /// Whether a name of `len` bytes still fits.
    fn has_room(&self, len: usize) -> bool {
        self.bytes.len().saturating_add(len) < REMOVED as usize
    }

    /// Room for `names` more names of `bytes` bytes in all.
    fn reserve(&mut self, names: usize, bytes: usize) {
        self.starts.reserve(names);
        self.bytes.reserve(bytes);
    }

    fn push(&mut self, name: &[u8]) {
        self.starts.push(self.bytes.len() as u32);
        self.bytes.extend_from_slice(name);
    }

    fn remove(&mut self, i: usize) {
        if let Some(start) = self.starts.get_mut(i) {
            *start |= REMOVED;
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
    }
}

/// `a == b` for names, which are mostly 4 to 16 bytes long: compared as two
/// overlapping words rather than through a call to `memcmp`, which cost
/// more than the rest of a lookup.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        8..=16 => {
            a.first_chunk::<8>() == b.first_chunk::<8>()
                && a.last_chunk::<8>() == b.last_chunk::<8>()
        }
        4..=7 => {
            a.first_chunk::<4>() == b.first_chunk::<4>()
                && a.last_chunk::<4>() == b.last_chunk::<4>()
        }
        _ => a == b,
    }
}

/// How a [`NameMap`] holds its [`Names`].
pub(crate) trait Arena: Default {
    fn names(&self) -> &Names;
    /// The names to change, copied first if a snapshot shares them.
    fn to_mut(&mut self) -> &mut Names;
    /// Empties the names, keeping their memory unless a snapshot holds it.
    fn reset(&mut self);
}

impl Arena for Names {
    fn names(&self) -> &Names {
        self
    }

    fn to_mut(&mut self) -> &mut Names {
        self
    }

    fn reset(&mut self) {
        self.clear();
    }
}

/// Names that snapshots share; see the module documentation.
pub(crate) type SharedArena = Arc<Names>;

impl Arena for SharedArena {
    fn names(&self) -> &Names {
        self
    }

    fn to_mut(&mut self) -> &mut Names {
        Arc::make_mut(self)
    }

    fn reset(&mut self) {
        match Arc::get_mut(self) {
            Some(names) => names.clear(),
            // A snapshot still reads the old names: leave them to it.
            None => *self = Arc::default(),
        }
    }
}

/// Insertion-ordered map of names to `V`. See the module documentation.
#[derive(Clone)]
pub(crate) struct NameMap<V, A = Names> {
    index: HashTable<u32>,
    names: A,
    /// One per slot, live or removed, in the order of `names`.
    values: Vec<V>,
    removed: usize,
    hasher: RandomState,
}

impl<V, A: Arena> Default for NameMap<V, A> {
    fn default() -> Self {
        Self {
            index: HashTable::new(),
            names: A::default(),
            values: Vec::new(),
            removed: 0,
            hasher: RandomState::default(),
        }
    }
}

impl<V: std::fmt::Debug, A: Arena> std::fmt::Debug for NameMap<V, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
            .finish()
    }
}

impl<V, A: Arena> NameMap<V, A> {
    /// Number of live names.
    pub fn len(&self) -> usize {
        self.values.len() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    fn find(&self, hash: u64, name: &[u8]) -> Option<usize> {
        let names = self.names.names();
        self.index
            .find(hash, |&i| same(names.get(i as usize), name))
            .map(|&i| i as usize)
    }

    #[cfg(test)]
    pub fn get(&self, name: &[u8]) -> Option<&V> {
        self.find(self.hash(name), name).map(|i| &self.values[i])
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut V> {
        self.find(self.hash(name), name)
            .map(|i| &mut self.values[i])
    }

    /// The value of `name`, inserting `make()` first when the name is new.
    /// Returns `None` without inserting when the map already holds `limit`
    /// names: callers count that as a refused series.
    pub fn get_or_insert_with(
        &mut self,
        name: &[u8],
        limit: usize,
        make: impl FnOnce() -> V,
    ) -> Option<&mut V> {
        let hash = self.hash(name);
        if let Some(i) = self.find(hash, name) {
            return Some(&mut self.values[i]);
        }
        if self.len() >= limit || !self.names.names().has_room(name.len()) {
            return None;
        }
        let i = self.push(hash, name, make());
        Some(&mut self.values[i])
    }

    fn push(&mut self, hash: u64, name: &[u8], value: V) -> usize {
        let i = self.values.len();
        self.values.push(value);
        self.names.to_mut().push(name);
        let (names, hasher) = (self.names.names(), &self.hasher);
        self.index
            .insert_unique(hash, i as u32, |&j| hasher.hash_one(names.get(j as usize)));
        i
    }

    /// Removes `name`, returning its value's slot to be reclaimed at the
    /// next compaction. Returns whether the name was present.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let hash = self.hash(name);
        let names = self.names.names();
        let Ok(entry) = self
            .index
            .find_entry(hash, |&i| same(names.get(i as usize), name))
        else {
            return false;
        };
        let (i, _) = entry.remove();
        self.names.to_mut().remove(i as usize);
        self.removed += 1;
        if self.removed > 64 && self.removed * 2 > self.values.len() {
            self.compact(|_| true);
        }
        true
    }

    /// Keeps only the names for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut V) -> bool) {
        let names = self.names.names();
        let kept: Vec<bool> = (self.values.iter_mut().enumerate())
            .map(|(i, value)| names.is_live(i) && keep(names.get(i), value))
            .collect();
        if kept.iter().filter(|&&k| !k).count() > self.removed {
            self.compact(|i| kept[i]);
        }
    }

    /// Rebuilds the names, values and index with only the live slots for
    /// which `keep` holds. Rebuilding, rather than marking slots removed,
    /// leaves names a snapshot shares untouched.
    fn compact(&mut self, keep: impl Fn(usize) -> bool) {
        let hasher = self.hasher;
        let old = std::mem::replace(
            self,
            Self {
                hasher,
                ..Self::default()
            },
        );
        let NameMap { names, values, .. } = old;
        let names = names.names();
        self.names.to_mut().reserve(values.len(), names.bytes.len());
        self.values.reserve(values.len());
        for (i, value) in values.into_iter().enumerate() {
            if names.is_live(i) && keep(i) {
                let name = names.get(i);
                self.push(self.hash(name), name, value);
            }
        }
    }

    /// Removes every name, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.index.clear();
        self.names.reset();
        self.values.clear();
        self.removed = 0;
    }

    /// The names back to back, where each starts, and the values, slot by
    /// slot, for copying a map whole (a checkpoint does); `None` while a
    /// removed slot lies among them.
    pub(crate) fn raw(&self) -> Option<(&[u8], &[u32], &[V])> {
        let names = self.names.names();
        (self.removed == 0).then_some((&names.bytes[..], &names.starts[..], &self.values[..]))
    }

    /// Live names and values in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        let names = self.names.names();
        (self.values.iter().enumerate())
            .filter(|&(i, _)| names.is_live(i))
            .map(|(i, value)| (names.get(i), value))
    }

    /// Live names and mutable values in insertion order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut V)> {
        let names = self.names.names();
        (self.values.iter_mut().enumerate())
            .filter(|&(i, _)| names.is_live(i))
            .map(|(i, value)| (names.get(i), value))
    }
}

impl<V> NameMap<V, SharedArena> {
    /// `f` of every live name and value, in insertion order, with the
    /// names shared: the `i`th result belongs to slot `i` of the names.
    /// Removed slots are compacted away first, so the two line up.
    pub(crate) fn share<T>(
        &mut self,
        mut f: impl FnMut(&[u8], &mut V) -> T,
    ) -> (SharedArena, Vec<T>) {
        if self.removed > 0 {
            self.compact(|_| true);
        }
        let names = Arc::clone(&self.names);
        let values = (self.values.iter_mut().enumerate())
            .map(|(i, value)| f(names.get(i), value))
            .collect();
        (names, values)
    }
}

#[cfg(test)]
mod model;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{NameMap, SharedArena};

    fn names<V>(map: &NameMap<V>) -> Vec<String> {
        map.iter()
            .map(|(k, _)| String::from_utf8(k.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn inserts_and_finds() {
        let mut map: NameMap<_> = NameMap::default();
        *map.get_or_insert_with(b"a", usize::MAX, || 0).unwrap() += 1;
        *map.get_or_insert_with(b"b", usize::MAX, || 0).unwrap() += 2;
        *map.get_or_insert_with(b"a", usize::MAX, || 0).unwrap() += 3;
        assert_eq!(map.get(b"a"), Some(&4));
        assert_eq!(map.get(b"b"), Some(&2));
        assert_eq!(map.get(b"c"), None);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn keeps_insertion_order_and_reinserts_at_the_end() {
        let mut map: NameMap<_> = NameMap::default();
        for name in ["x", "y", "z"] {
            map.get_or_insert_with(name.as_bytes(), usize::MAX, || ());
        }
        assert!(map.remove(b"x"));
        assert!(!map.remove(b"x"));
        map.get_or_insert_with(b"x", usize::MAX, || ());
        assert_eq!(names(&map), ["y", "z", "x"]);
    }

    #[test]
    fn refuses_new_names_past_the_limit() {
        let mut map: NameMap<_> = NameMap::default();
        assert!(map.get_or_insert_with(b"a", 1, || 1).is_some());
        assert!(map.get_or_insert_with(b"b", 1, || 1).is_none());
        assert!(map.get_or_insert_with(b"a", 1, || 1).is_some());
    }

    #[test]
    fn compaction_preserves_survivors() {
        let mut map: NameMap<_> = NameMap::default();
        for i in 0..1000u32 {
            map.get_or_insert_with(format!("n{i}").as_bytes(), usize::MAX, || i);
        }
        for i in (0..1000u32).filter(|i| i % 3 != 0) {
            assert!(map.remove(format!("n{i}").as_bytes()));
        }
        assert_eq!(map.len(), 334);
        for i in 0..1000u32 {
            assert_eq!(
                map.get(format!("n{i}").as_bytes()).copied(),
                (i % 3 == 0).then_some(i)
            );
        }
        let order: Vec<u32> = map.iter().map(|(_, v)| *v).collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn retain_drops_and_clear_empties() {
        let mut map: NameMap<_> = NameMap::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            map.get_or_insert_with(name.as_bytes(), usize::MAX, || i);
        }
        map.retain(|_, v| *v != 1);
        assert_eq!(names(&map), ["a", "c"]);
        map.clear();
        assert!(map.is_empty());
        assert_eq!(map.get(b"a"), None);
    }

    #[test]
    fn shared_names_survive_later_changes() {
        let mut map = NameMap::<_, SharedArena>::default();
        map.get_or_insert_with(b"first", usize::MAX, || 1);
        let (names, values) = map.share(|name, v| (name.to_vec(), *v));
        map.get_or_insert_with(b"second", usize::MAX, || 2);
        assert!(map.remove(b"first"));
        map.clear();
        map.get_or_insert_with(b"third", usize::MAX, || 3);
        assert_eq!(values, [(b"first".to_vec(), 1)]);
        assert_eq!(names.get(0), b"first");
        let (now, _) = map.share(|_, _| ());
        assert_eq!(now.get(0), b"third");
    }

    #[test]
    fn sharing_compacts_removed_names_first() {
        let mut map = NameMap::<_, SharedArena>::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            map.get_or_insert_with(name.as_bytes(), usize::MAX, || i);
        }
        assert!(map.remove(b"b"));
        let (names, values) = map.share(|_, v| *v);
        assert_eq!(values, [0, 2]);
        assert_eq!([names.get(0), names.get(1)], [b"a", b"c"]);
        assert_eq!(map.get(b"c"), Some(&2));
    }

    #[test]
    fn retaining_leaves_shared_names_alone() {
        let mut map = NameMap::<_, SharedArena>::default();
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            map.get_or_insert_with(name.as_bytes(), usize::MAX, || i);
        }
        let (names, _) = map.share(|_, _| ());
        map.retain(|name, _| name != b"a");
        assert_eq!(names.get(0), b"a");
        assert_eq!(names.get(1), b"b");
        let (now, values) = map.share(|_, v| *v);
        assert_eq!(values, [1, 2]);
        assert_eq!(now.get(0), b"b");
    }

    #[test]
    fn an_unshared_arena_is_reused_in_place() {
        let mut map = NameMap::<_, SharedArena>::default();
        map.get_or_insert_with(b"a", usize::MAX, || ());
        let before = Arc::as_ptr(&map.names);
        map.clear();
        map.get_or_insert_with(b"b", usize::MAX, || ());
        assert_eq!(Arc::as_ptr(&map.names), before);
    }
}
