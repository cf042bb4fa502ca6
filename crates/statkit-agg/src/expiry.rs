//! Series that leave the aggregation after a time without activity
//! (`Options::series_ttl`): etsy keeps a counter, timer, set or gauge it
//! once saw for as long as it runs (reporting zeros, or the last value),
//! so names that come and go (a worker's pid, a user id in a tag) pile up
//! in every flush; with a time to live they leave the aggregation, and so
//! every output, once idle that long.
//!
//! Activity is a sample absorbed for the series, whatever its value (a
//! `x:0|c` counts); the server's own series never expire. Idle flushes
//! are counted per series in a map of their own, which exists only when
//! a time to live is set, so etsy's default costs nothing. They are not
//! part of a checkpoint: after a restart each series' count starts again.

use crate::aggregator::Kind;
use crate::names::{Arena, NameMap};

/// What [`Expiry::touch`] marks: active this interval.
const TOUCHED: u32 = u32::MAX;

/// Idle flushes of every series, by kind.
#[derive(Debug)]
pub(crate) struct Expiry {
    /// Flushes a series may stay idle; it leaves at the flush that would
    /// make it `flushes`.
    flushes: u32,
    idle: [NameMap<u32>; 4],
}

impl Expiry {
    pub fn new(flushes: u32) -> Self {
        Self {
            flushes: flushes.max(1),
            idle: Default::default(),
        }
    }

    /// The series received a sample this interval.
    pub fn touch(&mut self, kind: Kind, name: &[u8]) {
        if let Some(idle) = self.idle[index(kind)].get_or_insert_with(name, usize::MAX, || 0) {
            *idle = TOUCHED;
        }
    }

    /// Ends an interval for the series of `kind` in `map`: those touched
    /// start counting again, the others count one more idle flush, and
    /// those idle for the time to live are removed from `map` and returned.
    /// `own` names are never counted.
    pub fn age<V, A: Arena>(
        &mut self,
        kind: Kind,
        map: &mut NameMap<V, A>,
        own: impl Fn(&[u8]) -> bool,
    ) -> Vec<Vec<u8>> {
        let idle = &mut self.idle[index(kind)];
        let limit = self.flushes;
        let mut expired = Vec::new();
        map.retain(|name, _| {
            if own(name) {
                return true;
            }
            match idle.get_or_insert_with(name, usize::MAX, || 0) {
                Some(n) if *n == TOUCHED => {
                    *n = 0;
                    true
                }
                Some(n) if *n + 1 >= limit => {
                    expired.push(name.to_vec());
                    false
                }
                Some(n) => {
                    *n += 1;
                    true
                }
                None => true,
            }
        });
        // Forget what left the map, expired or deleted: the counts stay
        // bounded by the aggregation's own.
        idle.retain(|name, _| map.get_mut(name).is_some());
        expired
    }
}

fn index(kind: Kind) -> usize {
    match kind {
        Kind::Counters => 0,
        Kind::Gauges => 1,
        Kind::Timers => 2,
        Kind::Sets => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(names: &[&str]) -> NameMap<()> {
        let mut map = NameMap::default();
        for name in names {
            map.get_or_insert_with(name.as_bytes(), usize::MAX, || ());
        }
        map
    }

    fn names(map: &NameMap<()>) -> Vec<String> {
        map.iter()
            .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
            .collect()
    }

    #[test]
    fn a_series_leaves_after_its_idle_flushes_and_a_touch_restarts_them() {
        let mut expiry = Expiry::new(2);
        let mut counters = map(&["a", "b", "own"]);
        let own = |name: &[u8]| name == b"own";
        expiry.touch(Kind::Counters, b"a");
        expiry.touch(Kind::Counters, b"b");
        assert!(expiry.age(Kind::Counters, &mut counters, own).is_empty());
        expiry.touch(Kind::Counters, b"a");
        assert!(
            expiry.age(Kind::Counters, &mut counters, own).is_empty(),
            "b idle once"
        );
        assert_eq!(
            expiry.age(Kind::Counters, &mut counters, own),
            [b"b".to_vec()]
        );
        assert_eq!(names(&counters), ["a", "own"]);
        assert_eq!(
            expiry.age(Kind::Counters, &mut counters, own),
            [b"a".to_vec()]
        );
        assert_eq!(names(&counters), ["own"], "the server's own never leave");
        assert!(expiry.idle[0].is_empty());
    }
}
