//! `NameMap` against a model (a `Vec` of pairs in insertion order) over
//! random sequences of every operation, with snapshots taken along the way
//! that must keep what they saw however the map changes after; and the
//! word-wise name comparison against `==`.

use proptest::prelude::*;

use super::{NameMap, SharedArena};

#[derive(Debug, Clone)]
enum Op {
    Add(u8, u32),
    Remove(u8),
    /// Keeps the names whose value is not divisible by the divisor.
    Retain(u32),
    Clear,
    Share,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, any::<u32>()).prop_map(|(n, v)| Op::Add(n, v)),
        2 => (0u8..40).prop_map(Op::Remove),
        1 => (2u32..5).prop_map(Op::Retain),
        1 => Just(Op::Clear),
        2 => Just(Op::Share),
    ]
}

/// Names of several lengths, the empty one among them.
fn name(n: u8) -> Vec<u8> {
    let mut name = "n".repeat(usize::from(n % 7)).into_bytes();
    if n > 0 {
        name.push(n);
    }
    name
}

type Pairs = Vec<(Vec<u8>, u32)>;

fn pairs<'a>(it: impl Iterator<Item = (&'a [u8], &'a u32)>) -> Pairs {
    it.map(|(k, v)| (k.to_vec(), *v)).collect()
}

proptest! {
    #[test]
    fn behaves_like_an_ordered_list(ops in prop::collection::vec(op(), 1..300)) {
        let mut map = NameMap::<u32, SharedArena>::default();
        let mut model: Pairs = Vec::new();
        let mut shared: Vec<(Pairs, SharedArena, Vec<u32>)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(n, v) => {
                    let name = name(n);
                    *map.get_or_insert_with(&name, usize::MAX, || 0).unwrap() += v % 1000;
                    match model.iter_mut().find(|(k, _)| *k == name) {
                        Some((_, old)) => *old += v % 1000,
                        None => model.push((name, v % 1000)),
                    }
                }
                Op::Remove(n) => {
                    let name = name(n);
                    let had = model.iter().any(|(k, _)| *k == name);
                    prop_assert_eq!(map.remove(&name), had);
                    model.retain(|(k, _)| *k != name);
                }
                Op::Retain(d) => {
                    map.retain(|_, v| *v % d != 0);
                    model.retain(|(_, v)| *v % d != 0);
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                }
                Op::Share => {
                    let (names, values) = map.share(|_, v| *v);
                    shared.push((model.clone(), names, values));
                }
            }
            prop_assert_eq!(map.len(), model.len());
            prop_assert_eq!(pairs(map.iter()), model.clone());
            for (k, v) in &model {
                prop_assert_eq!(map.get(k), Some(v));
            }
        }
        for (seen, names, values) in shared {
            let got: Pairs = values
                .iter()
                .enumerate()
                .map(|(i, v)| (names.get(i).to_vec(), *v))
                .collect();
            prop_assert_eq!(got, seen);
        }
    }
}

proptest! {
    #[test]
    fn same_is_byte_equality(
        a in prop::collection::vec(0u8..3, 0..24),
        b in prop::collection::vec(0u8..3, 0..24),
    ) {
        prop_assert_eq!(super::same(&a, &b), a == b);
        prop_assert!(super::same(&a, &a.clone()));
    }
}
