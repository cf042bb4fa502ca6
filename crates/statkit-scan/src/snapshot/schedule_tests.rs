//! Every schedule of a writer's stores against the reader's three copies
//! of a block, checked to accept only whole values.
//!
//! The model. A block's words start at zero; the writer stores into them
//! one word at a time, in the order the real writers do (`guarded` in
//! `statkit/src/shm/cells.rs` around the stores of `Average::add` and
//! `Histogram::record` in `handles.rs`): `end` takes the next sequence
//! number, then the values, then `begin` takes the number too. Every store
//! moves the block to its next state, so a state is a position
//! `0..=stores` in the writer's program, and a reader's load of a word
//! sees that word as it stands at the position the load runs at.
//!
//! The reader copies the block three times, one `pread` after another,
//! and each `pread` may copy the words in any order (the kernel promises
//! none): any permutation of the words, interleaved in any way with the
//! writer's stores. Enumerating those literally is out of reach (an
//! average's four words under three writes: `(4!)^3 * C(24, 12)`, about
//! 3.7e10 interleavings), but they reduce exactly to something small. The
//! loads of one copy all run within a window of positions, the copies'
//! windows follow each other (`[0, c1]`, `[c1, c2]`, `[c2, stores]`, for
//! every `c1 <= c2`: two copies meet at a position when no store runs
//! between the last load of one and the first of the next), and because
//! the order within a copy is free, each word may be loaded at any
//! position of its copy's window independently of the others (load them
//! sorted by position: that is one of the permutations). So a copy's
//! possible contents are the product, over the words, of the values each
//! word takes within the window, and every interleaving under every
//! permutation yields one of the triples enumerated here; every triple
//! enumerated is some interleaving's. Memory ordering is outside the
//! model: stores and loads happen one at a time, in program order.
//!
//! Each triple goes through the reader's own [`assemble`] with the pairs
//! [`sequence_pairs`] finds in real entries, and the result through the
//! decoder's own check and decoding (`statkit_format::cell::Cells`).
//! Whatever it accepts must equal the value of one of the whole states:
//! the block before any write or after one closed.

use std::fmt::Debug;

use statkit_format::cell::{self, Cells};
use statkit_format::histogram::bucket_of;
use statkit_format::layout::{Entry, Kind};
use statkit_format::{FormatError, Histogram};

use super::{assemble, sequence_pairs};

/// How a block's cells are put together from its three copies.
type Assemble = fn(&mut [u8], &[u8], &[u8], &[(usize, usize)]);

/// Where the modelled cell starts: a counter sits before it at slot 0, so
/// the pair's offsets are not the block's first bytes.
const SLOT: u32 = 1;

/// A block as the writer leaves it after each of its stores.
struct Block {
    words: Vec<u64>,
    /// The block after each store; `states[0]` before any.
    states: Vec<Vec<u64>>,
    /// Positions in `states` where no write is open.
    whole: Vec<usize>,
}

impl Block {
    fn new(words: usize) -> Block {
        Block {
            words: vec![0; words],
            states: vec![vec![0; words]],
            whole: vec![0],
        }
    }

    fn load(&self, index: u32) -> u64 {
        self.words[index as usize]
    }

    fn store(&mut self, index: u32, value: u64) {
        self.words[index as usize] = value;
        self.states.push(self.words.clone());
    }

    /// `guarded` from `statkit/src/shm/cells.rs`, store for store.
    fn guarded(&mut self, first: u32, last: u32, write: impl FnOnce(&mut Block)) {
        let sequence = self.load(last).wrapping_add(1);
        self.store(last, sequence);
        write(self);
        self.store(first, sequence);
        self.whole.push(self.states.len() - 1);
    }

    /// `Average::add` from `statkit/src/shm/handles.rs`.
    fn add_average(&mut self, value: f64) {
        use cell::average as a;
        let at = |index: u32| SLOT + index;
        self.guarded(at(a::BEGIN), at(a::END), |b| {
            b.store(at(a::COUNT), b.load(at(a::COUNT)) + 1);
            let sum = f64::from_bits(b.load(at(a::SUM))) + value;
            b.store(at(a::SUM), sum.to_bits());
        });
    }

    /// `Histogram::record` from `statkit/src/shm/handles.rs`.
    fn record_histogram(&mut self, value: f64) {
        use cell::histogram as h;
        let at = |index: u32| SLOT + index;
        self.guarded(at(h::BEGIN), at(h::END), |b| {
            let count = b.load(at(h::COUNT));
            let (min, max) = if count == 0 {
                (value, value)
            } else {
                let min = f64::from_bits(b.load(at(h::MIN)));
                let max = f64::from_bits(b.load(at(h::MAX)));
                (min.min(value), max.max(value))
            };
            b.store(at(h::COUNT), count + 1);
            let sum = f64::from_bits(b.load(at(h::SUM))) + value;
            b.store(at(h::SUM), sum.to_bits());
            b.store(at(h::MIN), min.to_bits());
            b.store(at(h::MAX), max.to_bits());
            let bucket = at(h::BUCKETS + bucket_of(value) as u32);
            b.store(bucket, b.load(bucket) + 1);
        });
    }

    /// Every content a copy whose loads run within positions
    /// `from..=to` can have, as bytes.
    fn copies(&self, from: usize, to: usize) -> Vec<Vec<u8>> {
        let window = &self.states[from..=to];
        let mut copies = vec![Vec::with_capacity(self.words.len() * 8)];
        for word in 0..self.words.len() {
            let mut seen: Vec<u64> = Vec::new();
            for state in window {
                if !seen.contains(&state[word]) {
                    seen.push(state[word]);
                }
            }
            copies = copies
                .into_iter()
                .flat_map(|copy| {
                    seen.iter().map(move |value| {
                        let mut copy = copy.clone();
                        copy.extend_from_slice(&value.to_le_bytes());
                        copy
                    })
                })
                .collect();
        }
        copies
    }
}

/// What the enumeration found.
#[derive(Debug)]
struct Outcome<T> {
    /// Triples of copies checked.
    schedules: u64,
    /// Schedules whose cells the decoder accepted.
    accepted: u64,
    /// The whole values, and whether some schedule read each.
    whole: Vec<(T, bool)>,
    /// A schedule whose cells the decoder accepted as something no write
    /// left: the copies' windows, and the value.
    mixed: Option<(usize, usize, T)>,
}

/// The sequence pairs of a block holding a counter at slot 0 and a cell
/// of `kind` at [`SLOT`], found by the reader's own code in real entries.
fn pairs_of(kind: Kind) -> Vec<(usize, usize)> {
    let entry = |kind, slot| Entry {
        kind,
        slot,
        words: cell::words(kind),
        param: 0,
        label: "m".to_owned(),
    };
    let table: Vec<u8> = [entry(Kind::Counter, 0), entry(kind, SLOT)]
        .iter()
        .flat_map(|e| e.encode().expect("a short label"))
        .collect();
    let entry_size = table.len() / 2;
    sequence_pairs(&table, entry_size, SLOT + cell::words(kind))
}

/// Tries every schedule of `block`'s stores against three copies put
/// together by `assemble`; stops at the first mixed value accepted.
fn enumerate<T: PartialEq + Debug>(
    block: &Block,
    kind: Kind,
    assemble: Assemble,
    decode: impl Fn(&[u8]) -> Result<T, FormatError>,
) -> Outcome<T> {
    let pairs = pairs_of(kind);
    assert_eq!(pairs.len(), 1, "the cell's sequence pair, and only it");
    let bytes = |state: &[u64]| -> Vec<u8> { state.iter().flat_map(|w| w.to_le_bytes()).collect() };
    let mut outcome = Outcome {
        schedules: 0,
        accepted: 0,
        whole: block
            .whole
            .iter()
            .map(|&at| {
                let value = decode(&bytes(&block.states[at])).expect("a whole state decodes");
                (value, false)
            })
            .collect(),
        mixed: None,
    };
    let stores = block.states.len() - 1;
    let mut cells = vec![0u8; block.words.len() * 8];
    for c1 in 0..=stores {
        let firsts = block.copies(0, c1);
        for c2 in c1..=stores {
            let seconds = block.copies(c1, c2);
            let lasts = block.copies(c2, stores);
            for first in &firsts {
                for second in &seconds {
                    for last in &lasts {
                        outcome.schedules += 1;
                        cells.copy_from_slice(second);
                        assemble(&mut cells, first, last, &pairs);
                        let value = match decode(&cells) {
                            Ok(value) => value,
                            Err(FormatError::Torn { .. }) => continue,
                            Err(e) => panic!("only a torn write may fail: {e}"),
                        };
                        outcome.accepted += 1;
                        match outcome.whole.iter_mut().find(|(whole, _)| *whole == value) {
                            Some((_, read)) => *read = true,
                            None => {
                                outcome.mixed = Some((c1, c2, value));
                                return outcome;
                            }
                        }
                    }
                }
            }
        }
    }
    outcome
}

/// Three writes of an average (1, 2 and 4 added): 12 stores.
fn average_block() -> Block {
    let mut block = Block::new((SLOT + cell::words(Kind::Average)) as usize);
    for value in [1.0, 2.0, 4.0] {
        block.add_average(value);
    }
    assert_eq!(block.states.len(), 13, "four stores a write");
    block
}

fn decode_average(bytes: &[u8]) -> Result<(u64, f64), FormatError> {
    Cells::new(bytes, 0, SLOT).average("m")
}

/// One write of a histogram: the real 520 words (`begin` and `end` 4 KiB
/// apart), of which seven change: 7 stores. More writes cost too much to
/// enumerate here (two: 687,496 schedules, seconds in debug); the average
/// covers several writes.
fn histogram_block() -> Block {
    let mut block = Block::new((SLOT + cell::words(Kind::Histogram)) as usize);
    block.record_histogram(1.0);

    assert_eq!(block.states.len(), 8, "seven stores a write");
    block
}

fn decode_histogram(bytes: &[u8]) -> Result<Histogram, FormatError> {
    Cells::new(bytes, 0, SLOT).histogram("m")
}

/// The reader's protocol accepts only whole values under every schedule,
/// and reads every whole value under some.
fn holds<T: PartialEq + Debug>(outcome: Outcome<T>, schedules: u64) {
    assert_eq!(outcome.mixed, None, "a mix accepted");
    assert_eq!(outcome.schedules, schedules);
    assert!(outcome.accepted > 0 && outcome.accepted < outcome.schedules);
    for (value, read) in &outcome.whole {
        assert!(read, "no schedule read {value:?}");
    }
}

#[test]
fn three_copies_accept_only_whole_averages() {
    let outcome = enumerate(&average_block(), Kind::Average, assemble, decode_average);
    holds(outcome, 131_008);
}

#[test]
fn three_copies_accept_only_whole_histograms() {
    let outcome = enumerate(
        &histogram_block(),
        Kind::Histogram,
        assemble,
        decode_histogram,
    );
    holds(outcome, 4_608);
}

/// Wrong ways to put the copies together, each of which some schedule
/// must catch accepting a mix.
const BROKEN: [(&str, Assemble); 4] = [
    // One `pread`: every word from the same copy, in any order.
    ("one copy", |_, _, _, _| {}),
    // `begin` loaded with the values, in the first copy.
    (
        "values from the first copy",
        |values, first, last, pairs| {
            values.copy_from_slice(first);
            for &(_, end) in pairs {
                values[end..end + 8].copy_from_slice(&last[end..end + 8]);
            }
        },
    ),
    // `end` loaded with the values, in the last copy.
    ("values from the last copy", |values, first, last, pairs| {
        values.copy_from_slice(last);
        for &(begin, _) in pairs {
            values[begin..begin + 8].copy_from_slice(&first[begin..begin + 8]);
        }
    }),
    // The pair read the wrong way round: `end` first, `begin` last.
    ("pair swapped", |values, first, last, pairs| {
        for &(begin, end) in pairs {
            values[end..end + 8].copy_from_slice(&first[end..end + 8]);
            values[begin..begin + 8].copy_from_slice(&last[begin..begin + 8]);
        }
    }),
];

#[test]
fn the_enumeration_catches_wrong_protocols() {
    let (average, histogram) = (average_block(), histogram_block());
    for (name, broken) in BROKEN {
        let outcome = enumerate(&average, Kind::Average, broken, decode_average);
        assert!(outcome.mixed.is_some(), "{name}: no mixed average accepted");
        let outcome = enumerate(&histogram, Kind::Histogram, broken, decode_histogram);
        assert!(
            outcome.mixed.is_some(),
            "{name}: no mixed histogram accepted"
        );
    }
}

/// Every nondecreasing sequence of `len` positions in `0..=top`: the
/// positions at which a reader's `len` loads run, in its program order.
fn nondecreasing(len: usize, top: usize) -> Vec<Vec<usize>> {
    let mut all = vec![Vec::with_capacity(len)];
    for _ in 0..len {
        all = all
            .into_iter()
            .flat_map(|seq: Vec<usize>| {
                let from = seq.last().copied().unwrap_or(0);
                (from..=top).map(move |p| {
                    let mut seq = seq.clone();
                    seq.push(p);
                    seq
                })
            })
            .collect();
    }
    all
}

/// The reduction in the module docs, against the literal thing on a case
/// small enough: one write of an average (4 stores) interleaved every way
/// with three copies of the block's 5 words (15 loads), each copy in one
/// of four orders (ascending, descending, the values before the pair, the
/// pair before the values). Every such interleaving must read copies the
/// enumeration tries.
#[test]
fn the_windows_cover_literal_interleavings() {
    let mut block = Block::new((SLOT + cell::words(Kind::Average)) as usize);
    block.add_average(1.0);
    let (words, stores) = (block.words.len(), block.states.len() - 1);
    let mut tried = std::collections::HashSet::new();
    for c1 in 0..=stores {
        for c2 in c1..=stores {
            for first in block.copies(0, c1) {
                for second in block.copies(c1, c2) {
                    for last in block.copies(c2, stores) {
                        tried.insert([first.clone(), second.clone(), last]);
                    }
                }
            }
        }
    }
    let orders: [[usize; 5]; 4] = [
        [0, 1, 2, 3, 4],
        [4, 3, 2, 1, 0],
        [0, 2, 3, 1, 4],
        [0, 1, 4, 2, 3],
    ];
    let schedules = nondecreasing(3 * words, stores);
    assert_eq!(schedules.len(), 3876, "C(19, 15)");
    let mut interleavings = 0;
    for order in (0..64).map(|n| [orders[n % 4], orders[n / 4 % 4], orders[n / 16]]) {
        for at in &schedules {
            let copy = |c: usize| -> Vec<u8> {
                let mut copy = vec![0u8; words * 8];
                for (i, &word) in order[c].iter().enumerate() {
                    let value = block.states[at[c * words + i]][word];
                    copy[word * 8..word * 8 + 8].copy_from_slice(&value.to_le_bytes());
                }
                copy
            };
            assert!(
                tried.contains(&[copy(0), copy(1), copy(2)]),
                "{order:?} at {at:?}"
            );
            interleavings += 1;
        }
    }
    assert_eq!(interleavings, 64 * 3876);
}
