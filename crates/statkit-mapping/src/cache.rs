//! A bounded cache of what the rules made of each name, so a name seen
//! before costs one hash lookup, whatever the rules.
//!
//! Two generations: names go into the current one; when it holds
//! `capacity` names it becomes the previous one (the older previous is
//! dropped), and a name found only in the previous generation moves back
//! into the current one. So the cache never holds more than twice its
//! capacity, and names in steady use stay in it.

use hashbrown::HashMap;

use crate::mapper::{Mapped, Mapper};
use crate::rule::MetricKind;

type Generation = HashMap<Box<[u8]>, Mapped, foldhash::fast::RandomState>;

/// A cache in front of one [`Mapper`].
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    current: [Generation; 3],
    previous: [Generation; 3],
    len: usize,
    hits: u64,
    misses: u64,
}

impl Cache {
    /// A cache keeping at least the last `capacity` names used (and at
    /// most twice as many); 0 caches nothing.
    pub fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            current: Default::default(),
            previous: Default::default(),
            len: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// What `mapper` makes of `name` of `kind`, from the cache when it
    /// has it. The cache must be used with one mapper only (make a new one
    /// for a new file).
    pub fn map(&mut self, mapper: &Mapper, name: &[u8], kind: MetricKind) -> &Mapped {
        let k = kind.index();
        if self.current[k].contains_key(name) {
            self.hits += 1;
        } else if let Some((key, mapped)) = self.previous[k].remove_entry(name) {
            self.hits += 1;
            self.insert(k, key, mapped);
        } else {
            self.misses += 1;
            let mapped = mapper.map(name, kind);
            if self.capacity == 0 {
                self.previous[k].clear();
                self.previous[k].insert(name.into(), mapped);
                return &self.previous[k][name];
            }
            self.insert(k, name.into(), mapped);
        }
        &self.current[k][name]
    }

    fn insert(&mut self, k: usize, key: Box<[u8]>, mapped: Mapped) {
        if self.len >= self.capacity {
            for (current, previous) in self.current.iter_mut().zip(&mut self.previous) {
                *previous = std::mem::take(current);
            }
            self.len = 0;
        }
        self.current[k].insert(key, mapped);
        self.len += 1;
    }

    /// Lookups answered from the cache, and those that asked the rules.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Names held, over both generations.
    pub fn len(&self) -> usize {
        self.current
            .iter()
            .chain(&self.previous)
            .map(HashMap::len)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper() -> Mapper {
        Mapper::from_yaml("mappings:\n- match: a.*\n  name: a_$1\n").unwrap()
    }

    #[test]
    fn answers_as_the_mapper_and_stays_bounded() {
        let m = mapper();
        let mut cache = Cache::new(4);
        for round in 0..3 {
            for i in 0..10 {
                let name = format!("a.{i}");
                let direct = m.map(name.as_bytes(), MetricKind::Counter);
                assert_eq!(
                    cache.map(&m, name.as_bytes(), MetricKind::Counter),
                    &direct,
                    "{round}"
                );
                assert!(cache.len() <= 8);
            }
        }
        let (hits, misses) = cache.counts();
        assert_eq!(hits + misses, 30);
    }

    #[test]
    fn names_in_use_stay() {
        let m = mapper();
        let mut cache = Cache::new(4);
        for i in 0..100 {
            cache.map(&m, b"a.hot", MetricKind::Gauge);
            cache.map(&m, format!("a.{i}").as_bytes(), MetricKind::Gauge);
        }
        assert_eq!(cache.counts(), (99, 101));
        let mut none = Cache::new(0);
        assert_eq!(none.map(&m, b"b", MetricKind::Gauge), &Mapped::Unmapped);
        assert_eq!(none.len(), 1);
    }
}
