//! The open interval as bytes, and back: what the server writes every
//! checkpoint interval so that after a `kill -9` the next flush holds
//! everything up to the last checkpoint, and nothing twice.
//!
//! A [`Checkpoint`] is the whole state a flush depends on: the
//! [`Aggregator`]'s series (counters, gauges with their time to live,
//! timers' exact values or sketches with their counts, sets' members, all
//! in insertion order, which is etsy's flush order), its ingest counts (the
//! interval's and the totals since start) and the time of its last flush
//! (which `timestamp_lag` measures from); and, separately, what each
//! receiver's [`Table`] holds and has not handed over yet. Tables are read,
//! not drained: draining in mid-interval would add a table's fractional
//! sums in another grouping than the flush's one drain does, and etsy's
//! arithmetic is exact to the last bit. So each table's pending state is
//! kept on its own and put back into its table, and the flush after a
//! restore is, bit for bit, the flush the server would have made without
//! the crash (given the same options and the same traffic after it).
//!
//! Capturing copies each map into a few flat vectors (names back to back,
//! values, timers' values and sets' members back to back) and does no
//! encoding, so the locks are held only for a copy of about the state's
//! size; encoding happens after, on the copy, and so does the rebuilding
//! of hash maps when a checkpoint is restored.
//!
//! # Layout
//!
//! Integers and floats little-endian; a float is its IEEE-754 bits, so
//! every value comes back bit for bit (`-0.0`, NaN payloads included).
//!
//! ```text
//! magic     8 bytes  "STKCHKPT"
//! version   u32      1
//! length    u64      bytes of payload
//! payload   ...
//! crc32     u32      CRC-32 (IEEE) of the payload
//!
//! payload   = aggregator, u32 tables, table × tables
//! aggregator= u8 has_last_flush (0|1), [u64 last_flush unix seconds],
//!             counts (interval), counts (since start),
//!             map(f64 counter),
//!             map(gauge),
//!             map(timer),
//!             map(members),
//!             u64 flushes (since the totals began),
//!             map(counter total), map(timer total)
//! table     = counts, u64 names_after_drain, u8 splittable (0|1),
//!             map(f64 counter sum),
//!             map(gauge change),
//!             map(timer),
//!             map(members)
//! counts    = u64 × 9: packets, lines, bad_lines, bad_values, events,
//!             service_checks, refused_series, refused_samples, oversized
//! map(V)    = u32 n, (name, V) × n          in insertion order
//! name      = u32 length, bytes
//! members   = u32 n, name × n               in insertion order
//! gauge     = f64 value, u8 has_ttl (0|1), [u32 flushes left]
//! counter total
//!           = f64 total, u64 seen (the flush that last reported it)
//! timer total
//!           = f64 count, f64 sum, u32 n, f64 bucket × n, u64 seen
//! gauge change
//!           = u8 flags (1: absolute, 2: overflow), [f64 absolute],
//!             [f64 overflow sum], u32 n, f64 delta × n
//! timer     = f64 count (values over their rates), u8 shape, then
//!             shape 0 (exact): u64 n, f64 value × n
//!             shape 1 (exact, weighted): u64 n (> 0), f64 value × n,
//!                                        f64 weight × n
//!             shape 2 (sketched): sketch
//! sketch    = f64 zero weight, weight, sum, sum_squares, min, max,
//!             buckets (positive), buckets (negative)
//! buckets   = u32 n, (u32 index, f64 weight > 0) × n, indexes ascending
//!             and at most the bucket of the largest finite number
//! ```
//!
//! Anything else is refused whole, with a [`CheckpointError`]: another
//! magic, another version, a length or checksum that does not match, a
//! count larger than the bytes left could hold, a flag or shape out of
//! range, a name repeated in one map, what the state never holds (a timer
//! value that is not finite, a sketch with no bucket, a weight that is not
//! positive or a minimum above its maximum, an interval's count above the
//! total since start,
//! totals and tables' counts adding up to 2^62 or more, a table with fewer
//! names than it held after its last drain), trailing bytes.
//! Decoding does work and allocates memory in proportion to the input, and
//! never panics. The encoding is canonical: a checkpoint that decodes
//! encodes back to the same bytes.

use crate::aggregator::{Aggregator, Gauge};
use crate::names::{Arena, NameMap};
use crate::sketch::Sketch;
use crate::table::{GaugeChange, IngestCounts, Table};
use crate::timer::TimerValues;
use crate::totals::{Cumulative, Kept, SeriesTotals};

mod decode;
mod encode;
#[cfg(test)]
mod tests;

const MAGIC: &[u8; 8] = b"STKCHKPT";
/// The format written; the only one read.
pub const VERSION: u32 = 1;
/// Bytes before the payload: magic, version, length.
const HEADER: usize = 8 + 4 + 8;

/// Why bytes were refused as a checkpoint.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("not a statkit checkpoint (no STKCHKPT magic)")]
    Foreign,
    #[error("checkpoint version {0}, but this statkit reads version {VERSION}")]
    Version(u32),
    #[error("checkpoint truncated: {0}")]
    Truncated(&'static str),
    #[error("checkpoint checksum mismatch: corrupt")]
    Checksum,
    #[error("checkpoint holds an invalid {0}")]
    Invalid(&'static str),
}

/// The state of the open interval: see the module documentation.
#[derive(Debug, Default)]
pub struct Checkpoint {
    aggregator: AggregatorState,
    tables: Vec<TableState>,
}

/// The aggregator's part.
#[derive(Debug, Default)]
struct AggregatorState {
    last_flush: Option<u64>,
    counts: IngestCounts,
    totals: IngestCounts,
    counters: Entries<f64>,
    gauges: Entries<Gauge>,
    timers: Timers,
    sets: Sets,
    /// The series' totals since first seen.
    flushes: u64,
    counter_totals: Entries<Kept<f64>>,
    timer_totals: Entries<Kept<Cumulative>>,
}

/// One table's pending state. Emptied gauges, timers and sets that the
/// table keeps for reuse are kept too: their places decide the order in
/// which the next drain adds new names to the aggregator.
#[derive(Debug, Default)]
struct TableState {
    counts: IngestCounts,
    names_after_drain: usize,
    splittable: bool,
    counters: Entries<f64>,
    gauges: Entries<GaugeChange>,
    timers: Timers,
    sets: Sets,
}

/// A map's names back to back, and their values, in insertion order: a
/// copy made with a few allocations however many names there are, where
/// cloning the map would copy its hash index too and allocate per entry.
#[derive(Debug)]
struct Entries<V> {
    bytes: Vec<u8>,
    /// Where each name ends in `bytes`.
    ends: Vec<usize>,
    values: Vec<V>,
}

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            ends: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<V> Entries<V> {
    /// `map`'s names, and `value` of each of its values.
    fn of<T, A: Arena>(map: &NameMap<T, A>, value: impl FnMut(&T) -> V) -> Self {
        let mut entries = Self::default();
        entries.append(map, value);
        entries
    }

    /// Adds `map`'s names, and `value` of each of its values: its names
    /// copied in one piece when it has no removed slot, as is usual.
    fn append<T, A: Arena>(&mut self, map: &NameMap<T, A>, mut value: impl FnMut(&T) -> V) {
        let Some((bytes, starts, values)) = map.raw() else {
            for (name, v) in map.iter() {
                self.push(name, value(v));
            }
            return;
        };
        let base = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        let ends = (starts.iter().skip(1).map(|&s| s as usize)).chain([bytes.len()]);
        self.ends
            .extend(ends.take(starts.len()).map(|end| base + end));
        self.values.extend(values.iter().map(value));
    }

    fn push(&mut self, name: &[u8], value: V) {
        self.bytes.extend_from_slice(name);
        self.ends.push(self.bytes.len());
        self.values.push(value);
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn names(&self) -> impl Iterator<Item = &[u8]> {
        names(&self.bytes, &self.ends)
    }

    fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.names().zip(self.values.iter())
    }

    /// The map again, each value made by `value`.
    fn into_map<T, A: Arena>(self, mut value: impl FnMut(V) -> T) -> NameMap<T, A> {
        let mut map = NameMap::default();
        let Self {
            bytes,
            ends,
            values,
        } = self;
        for (name, v) in names(&bytes, &ends).zip(values) {
            // Names are unique (decoding checks), so each is inserted.
            map.get_or_insert_with(name, usize::MAX, || value(v));
        }
        map
    }
}

/// The names ending at `ends` in `bytes`.
fn names<'a>(bytes: &'a [u8], ends: &'a [usize]) -> impl Iterator<Item = &'a [u8]> {
    let starts = std::iter::once(0).chain(ends.iter().copied());
    (starts.zip(ends.iter().copied())).map(|(start, end)| bytes.get(start..end).unwrap_or_default())
}

/// Timers' values, all series' back to back.
#[derive(Debug, Default)]
struct Timers {
    entries: Entries<Timer>,
    /// Every exact value, series after series.
    values: Vec<f64>,
    /// The weights of the values of weighted series, series after series.
    weights: Vec<f64>,
}

/// One timer series: its count, and where its values are.
#[derive(Debug)]
struct Timer {
    count: f64,
    /// How many of [`Timers::values`] are this series'.
    values: usize,
    weighted: bool,
    sketch: Option<Box<Sketch>>,
}

impl Timers {
    fn of<A: Arena>(map: &NameMap<TimerValues, A>) -> Self {
        // Sized up front: growing by doubling copied a busy interval's
        // values about twice over.
        let exact = map.iter().map(|(_, t)| t.values.len()).sum();
        let (mut values, mut weights) = (Vec::with_capacity(exact), Vec::new());
        let entries = Entries::of(map, |t| {
            let exact = if t.sketch.is_some() {
                &[][..]
            } else {
                &t.values[..]
            };
            let weighted = !exact.is_empty() && !t.weights.is_empty();
            values.extend_from_slice(exact);
            if weighted {
                // One weight per value; a missing one weighs 1, as when
                // the values move into a sketch.
                let each = (t.weights.iter().copied()).chain(std::iter::repeat(1.0));
                weights.extend(each.take(exact.len()));
            }
            Timer {
                count: t.count,
                values: exact.len(),
                weighted,
                sketch: t.sketch.clone(),
            }
        });
        Self {
            entries,
            values,
            weights,
        }
    }

    fn into_map<A: Arena>(self) -> NameMap<TimerValues, A> {
        let (mut values, mut weights) = (self.values.into_iter(), self.weights.into_iter());
        self.entries.into_map(|t| TimerValues {
            values: values.by_ref().take(t.values).collect(),
            weights: match t.weighted {
                true => weights.by_ref().take(t.values).collect(),
                false => Vec::new(),
            },
            count: t.count,
            sketch: t.sketch,
        })
    }
}

/// Sets' members, all sets' back to back.
#[derive(Debug, Default)]
struct Sets {
    /// Each set's number of members.
    entries: Entries<usize>,
    members: Entries<()>,
}

impl Sets {
    fn of<A: Arena>(map: &NameMap<NameMap<()>, A>) -> Self {
        let mut members = Entries::default();
        let (count, bytes) = (map.iter()).fold((0, 0), |(n, b), (_, set)| {
            (
                n + set.len(),
                b + set.raw().map_or(0, |(bytes, _, _)| bytes.len()),
            )
        });
        members.bytes.reserve(bytes);
        members.ends.reserve(count);
        members.values.reserve(count);
        let entries = Entries::of(map, |set| {
            members.append(set, |_| ());
            set.len()
        });
        Self { entries, members }
    }

    fn into_map<A: Arena>(self) -> NameMap<NameMap<()>, A> {
        let mut members = self.members.names();
        self.entries.into_map(|n| {
            let mut set = NameMap::default();
            for member in members.by_ref().take(n) {
                set.get_or_insert_with(member, usize::MAX, || ());
            }
            set
        })
    }
}

impl Checkpoint {
    /// The aggregator's state and each table's pending state, in the order
    /// given (restoring puts table `i` back into table `i`).
    ///
    /// To count nothing twice or lose nothing, the tables must not be
    /// drained into the aggregator while it is captured: hold the
    /// aggregator's lock throughout, and take each table's lock in turn
    /// ([`Checkpoint::capture_aggregator`] and [`Checkpoint::add_table`]
    /// do that one lock at a time).
    pub fn capture(aggregator: &Aggregator, tables: &[&Table]) -> Self {
        let mut checkpoint = Self::capture_aggregator(aggregator);
        for table in tables {
            checkpoint.add_table(table);
        }
        checkpoint
    }

    /// The aggregator's state, with no table yet.
    pub fn capture_aggregator(aggregator: &Aggregator) -> Self {
        Self {
            aggregator: AggregatorState {
                last_flush: aggregator.last_flush,
                counts: aggregator.counts,
                totals: aggregator.totals,
                counters: Entries::of(&aggregator.counters, |&c| c),
                gauges: Entries::of(&aggregator.gauges, |&g| g),
                timers: Timers::of(&aggregator.timers),
                sets: Sets::of(&aggregator.sets),
                flushes: aggregator.series_totals.flushes,
                counter_totals: Entries::of(&aggregator.series_totals.counters, Kept::clone),
                timer_totals: Entries::of(&aggregator.series_totals.timers, Kept::clone),
            },
            tables: Vec::new(),
        }
    }

    /// Adds the next table's pending state, leaving the table as it was.
    pub fn add_table(&mut self, table: &Table) {
        self.tables.push(TableState {
            counts: table.counts,
            names_after_drain: table.names_after_drain,
            splittable: table.splittable,
            counters: Entries::of(&table.counters, |&c| c),
            gauges: Entries::of(&table.gauges, GaugeChange::clone),
            timers: Timers::of(&table.timers),
            sets: Sets::of(&table.sets),
        });
    }

    /// Number of tables captured.
    pub fn tables(&self) -> usize {
        self.tables.len()
    }

    /// Series the aggregator held, over all kinds.
    pub fn series(&self) -> usize {
        let a = &self.aggregator;
        a.counters.len() + a.gauges.len() + a.timers.entries.len() + a.sets.entries.len()
    }

    /// Appends the checkpoint's bytes (see the module documentation) to
    /// `out`, so that a caller can reuse one buffer.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode::checkpoint(self, out);
    }

    /// The checkpoint `bytes` hold, or why they hold none.
    pub fn decode(bytes: &[u8]) -> Result<Self, CheckpointError> {
        decode::checkpoint(bytes)
    }

    /// Puts the state back: the aggregator's series, counts and last flush
    /// replace whatever `aggregator` held (its options stay its own), and
    /// captured table `i` replaces the pending state of `tables[i]` (whose
    /// options, too, stay their own). With the same options and receivers,
    /// the next flush is the one the captured server would have made.
    ///
    /// When fewer tables are given than were captured (the server now has
    /// fewer receivers), the captured tables left over are returned, each
    /// as a [`Table`] holding its pending state, for the caller to absorb
    /// into the aggregator before the next flush (through whatever watches
    /// drains, such as the request view), exactly as a flush would absorb
    /// a receiver's table. That keeps every sample, once; the trade is
    /// that their sums meet the other tables' in another grouping than
    /// they would have (which can change the last bit of a fractional
    /// total), that names first seen in them may come later in the flush's
    /// order, and that a gauge set through two receivers ends with the
    /// value of whichever table is absorbed last. More tables than were
    /// captured are fine: the extra ones are left as they are.
    #[must_use = "left-over tables hold samples the next flush must absorb"]
    pub fn restore(self, aggregator: &mut Aggregator, tables: &mut [&mut Table]) -> Vec<Table> {
        let a = self.aggregator;
        aggregator.last_flush = a.last_flush;
        aggregator.counts = a.counts;
        aggregator.totals = a.totals;
        aggregator.counters = a.counters.into_map(|c| c);
        aggregator.gauges = a.gauges.into_map(|g| g);
        aggregator.timers = a.timers.into_map();
        aggregator.sets = a.sets.into_map();
        aggregator.series_totals = SeriesTotals {
            counters: a.counter_totals.into_map(|t| t),
            timers: a.timer_totals.into_map(|t| t),
            flushes: a.flushes,
        };
        let mut states = self.tables.into_iter();
        for (table, state) in tables.iter_mut().zip(states.by_ref()) {
            state.put(table);
        }
        let options = aggregator.options().table;
        states
            .map(|state| {
                let mut table = Table::new(options);
                state.put(&mut table);
                table
            })
            .collect()
    }
}

/// Ingest counts in the order they are written.
fn fields(c: &IngestCounts) -> [u64; 9] {
    [
        c.packets,
        c.lines,
        c.bad_lines,
        c.bad_values,
        c.events,
        c.service_checks,
        c.refused_series,
        c.refused_samples,
        c.oversized,
    ]
}

impl TableState {
    fn put(self, table: &mut Table) {
        table.counts = self.counts;
        table.names_after_drain = self.names_after_drain;
        table.splittable = self.splittable;
        table.counters = self.counters.into_map(|c| c);
        table.gauges = self.gauges.into_map(|g| g);
        table.timers = self.timers.into_map();
        table.sets = self.sets.into_map();
    }
}
