//! A map from byte-string names to values, built for many small names.
//!
//! Names live back to back in one arena instead of one heap allocation
//! each, and the hash index stores only a `u32` slot number. For 100k
//! series of ~15-byte names that is about a third of the memory of a
//! `HashMap<Box<[u8]>, V>`, and inserting a name is amortized vector growth
//! rather than a `malloc`. Iteration follows insertion order, which is the
//! order etsy statsd (a JavaScript object) flushes its keys in, except that
//! JavaScript lists integer-like keys (`404`) first.
//!
//! The aggregator's maps share their arena, copy-on-write, with the
//! snapshots a flush takes ([`SharedArena`], [`NameMap::shared_names`]): a
//! flush of 100k series refers to its names instead of copying a megabyte
//! of them, and so does every flush a slow sink still holds. Such a map
//! copies its arena only when it must add a name while a snapshot still
//! holds the old one. Every other map (a receiver's, a set's members) owns
//! a plain `Vec<u8>`, which costs no extra allocation per map.

use std::hash::BuildHasher;
use std::sync::Arc;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Marks a removed slot; its value stays until the next compaction.
const REMOVED: u32 = u32::MAX;

/// How a [`NameMap`] holds its names' bytes.
pub trait Arena: Default {
    fn bytes(&self) -> &[u8];
    /// The bytes to append to, copied first if a snapshot shares them.
    fn to_mut(&mut self) -> &mut Vec<u8>;
    /// Empties the arena, keeping its memory unless a snapshot holds it.
    fn reset(&mut self);
}

impl Arena for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn to_mut(&mut self) -> &mut Vec<u8> {
        self
    }

    fn reset(&mut self) {
        self.clear();
    }
}

/// An arena that snapshots share; see the module documentation.
pub type SharedArena = Arc<Vec<u8>>;

impl Arena for SharedArena {
    fn bytes(&self) -> &[u8] {
        self
    }

    fn to_mut(&mut self) -> &mut Vec<u8> {
        Arc::make_mut(self)
    }

    fn reset(&mut self) {
        match Arc::get_mut(self) {
            Some(bytes) => bytes.clear(),
            // A snapshot still reads the old names: leave them to it.
            None => *self = Arc::default(),
        }
    }
}

/// Insertion-ordered map of names to `V`. See the module documentation.
#[derive(Clone)]
pub struct NameMap<V, A = Vec<u8>> {
    index: HashTable<u32>,
    arena: A,
    slots: Vec<Slot<V>>,
    removed: usize,
    hasher: RandomState,
}

/// Where a name lies in a map's arena: valid for the arena the map had
/// when the span was read, which [`NameMap::shared_names`] hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NameSpan {
    start: u32,
    len: u32,
}

impl NameSpan {
    /// The name in `arena`; empty when the span does not lie in it.
    pub(crate) fn of(self, arena: &[u8]) -> &[u8] {
        let start = self.start as usize;
        arena
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Slot<V> {
    start: u32,
    len: u32,
    value: V,
}

impl<V, A: Arena> Default for NameMap<V, A> {
    fn default() -> Self {
        Self {
            index: HashTable::new(),
            arena: A::default(),
            slots: Vec::new(),
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
        self.slots.len() - self.removed
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    fn name_of<'m>(arena: &'m [u8], slot: &Slot<V>) -> &'m [u8] {
        &arena[slot.start as usize..(slot.start + slot.len) as usize]
    }

    fn find(&self, hash: u64, name: &[u8]) -> Option<usize> {
        let (arena, slots) = (self.arena.bytes(), &self.slots);
        self.index
            .find(hash, |&i| Self::name_of(arena, &slots[i as usize]) == name)
            .map(|&i| i as usize)
    }

    pub fn get(&self, name: &[u8]) -> Option<&V> {
        self.find(self.hash(name), name)
            .map(|i| &self.slots[i].value)
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut V> {
        self.find(self.hash(name), name)
            .map(|i| &mut self.slots[i].value)
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
            return Some(&mut self.slots[i].value);
        }
        if self.len() >= limit
            || name.len() >= REMOVED as usize
            || self.arena.bytes().len() + name.len() >= REMOVED as usize
        {
            return None;
        }
        let i = self.push(hash, name, make());
        Some(&mut self.slots[i].value)
    }

    fn push(&mut self, hash: u64, name: &[u8], value: V) -> usize {
        let i = self.slots.len();
        self.slots.push(Slot {
            start: self.arena.bytes().len() as u32,
            len: name.len() as u32,
            value,
        });
        self.arena.to_mut().extend_from_slice(name);
        let (arena, slots, hasher) = (self.arena.bytes(), &self.slots, &self.hasher);
        self.index.insert_unique(hash, i as u32, |&j| {
            hasher.hash_one(Self::name_of(arena, &slots[j as usize]))
        });
        i
    }

    /// Removes `name`, returning its value's slot to be reclaimed at the
    /// next compaction. Returns whether the name was present.
    pub fn remove(&mut self, name: &[u8]) -> bool {
        let hash = self.hash(name);
        let (arena, slots) = (self.arena.bytes(), &self.slots);
        let Ok(entry) = self
            .index
            .find_entry(hash, |&i| Self::name_of(arena, &slots[i as usize]) == name)
        else {
            return false;
        };
        let (i, _) = entry.remove();
        self.slots[i as usize].len = REMOVED;
        self.removed += 1;
        if self.removed > 64 && self.removed * 2 > self.slots.len() {
            self.compact();
        }
        true
    }

    /// Keeps only the names for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], &mut V) -> bool) {
        let mut doomed = false;
        for slot in self.slots.iter_mut().filter(|s| s.len != REMOVED) {
            let name = slot.span().of(self.arena.bytes());
            if !keep(name, &mut slot.value) {
                slot.len = REMOVED;
                self.removed += 1;
                doomed = true;
            }
        }
        if doomed {
            self.compact();
        }
    }

    /// Rebuilds the arena, slots and index without removed names.
    fn compact(&mut self) {
        let hasher = self.hasher;
        let old = std::mem::replace(
            self,
            Self {
                hasher,
                ..Self::default()
            },
        );
        self.arena.to_mut().reserve(old.arena.bytes().len());
        self.slots.reserve(old.len());
        for slot in old.slots.into_iter().filter(|s| s.len != REMOVED) {
            let name = slot.span().of(old.arena.bytes());
            let hash = self.hash(name);
            self.push(hash, name, slot.value);
        }
    }

    /// Removes every name, keeping the allocations for reuse.
    pub fn clear(&mut self) {
        self.index.clear();
        self.arena.reset();
        self.slots.clear();
        self.removed = 0;
    }

    /// Live names and values in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.slots
            .iter()
            .filter(|s| s.len != REMOVED)
            .map(|s| (s.span().of(self.arena.bytes()), &s.value))
    }

    /// Live names and mutable values in insertion order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&[u8], &mut V)> {
        let arena = self.arena.bytes();
        self.slots
            .iter_mut()
            .filter(|s| s.len != REMOVED)
            .map(move |s| (s.span().of(arena), &mut s.value))
    }

    /// Live names, as spans into [`NameMap::shared_names`], with their
    /// values, in insertion order.
    pub(crate) fn spans(&self) -> impl Iterator<Item = (NameSpan, &V)> {
        self.slots
            .iter()
            .filter(|s| s.len != REMOVED)
            .map(|s| (s.span(), &s.value))
    }

    /// As [`NameMap::spans`], with each name's bytes and a mutable value.
    pub(crate) fn spans_mut(&mut self) -> impl Iterator<Item = (NameSpan, &[u8], &mut V)> {
        let arena = self.arena.bytes();
        self.slots
            .iter_mut()
            .filter(|s| s.len != REMOVED)
            .map(move |s| (s.span(), s.span().of(arena), &mut s.value))
    }
}

impl<V> NameMap<V, SharedArena> {
    /// The arena every [`NameSpan`] from [`NameMap::spans`] and
    /// [`NameMap::spans_mut`] refers to, shared until the map next changes.
    pub(crate) fn shared_names(&self) -> SharedArena {
        Arc::clone(&self.arena)
    }
}

impl<V> Slot<V> {
    fn span(&self) -> NameSpan {
        NameSpan {
            start: self.start,
            len: self.len,
        }
    }
}

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
        let arena = map.shared_names();
        let spans: Vec<_> = map.spans().map(|(span, v)| (span, *v)).collect();
        map.get_or_insert_with(b"second", usize::MAX, || 2);
        assert!(map.remove(b"first"));
        map.clear();
        map.get_or_insert_with(b"third", usize::MAX, || 3);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].0.of(&arena), b"first");
        assert_eq!(spans[0].1, 1);
        let now: Vec<_> = map
            .spans()
            .map(|(span, _)| span.of(&map.shared_names()).to_vec())
            .collect();
        assert_eq!(now, [b"third".to_vec()]);
    }

    #[test]
    fn an_unshared_arena_is_reused_in_place() {
        let mut map = NameMap::<_, SharedArena>::default();
        map.get_or_insert_with(b"a", usize::MAX, || ());
        let before = Arc::as_ptr(&map.arena);
        map.clear();
        map.get_or_insert_with(b"b", usize::MAX, || ());
        assert_eq!(Arc::as_ptr(&map.arena), before);
    }
}
