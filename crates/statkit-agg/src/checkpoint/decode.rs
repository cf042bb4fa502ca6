//! Reading a checkpoint's bytes, checking every length against what is
//! left before trusting it; the layout is in the parent module's
//! documentation.

use std::collections::BTreeMap;

use foldhash::fast::RandomState;
use hashbrown::HashSet;

use super::encode::{ABSOLUTE, EXACT, OVERFLOW, SKETCHED, WEIGHTED};
use super::{fields, Timer, Timers, HEADER, MAGIC, VERSION};
use super::{AggregatorState, Checkpoint, CheckpointError, Entries, Sets, TableState};
use crate::aggregator::Gauge;
use crate::sketch::{Sketch, SUB_BITS};
use crate::table::{GaugeChange, IngestCounts};
use crate::totals::{Cumulative, Kept};

type Result<T> = std::result::Result<T, CheckpointError>;

/// The highest bucket a finite value lands in: a higher index would name
/// infinite or NaN magnitudes (and the next bucket's bound overflow).
/// The bits are `f64::MAX`'s (`to_bits` is not `const` in Rust 1.82).
const MAX_BUCKET: u32 = (0x7FEF_FFFF_FFFF_FFFF_u64 >> (52 - SUB_BITS)) as u32;

/// Bytes of the smallest entry of a map: an empty name and a value.
const NAME: usize = 4;
const COUNTS: usize = 9 * 8;
const GAUGE: usize = 8 + 1;
const GAUGE_CHANGE: usize = 1 + 4;
const TIMER: usize = 8 + 1 + 8;
const MEMBERS: usize = 4;
const TABLE: usize = COUNTS + 8 + 1 + 4 * 4;
const BUCKET: usize = 4 + 8;

pub(super) fn checkpoint(bytes: &[u8]) -> Result<Checkpoint> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(CheckpointError::Foreign);
    }
    let mut header = Reader(&bytes[MAGIC.len()..]);
    let version = header.u32("header")?;
    if version != VERSION {
        return Err(CheckpointError::Version(version));
    }
    let length = header.u64("header")?;
    let rest = &bytes[HEADER..];
    if u64::try_from(rest.len()).ok() != length.checked_add(4) {
        return Err(CheckpointError::Truncated("length does not match"));
    }
    let (payload, crc) = rest.split_at(rest.len() - 4);
    if crc32fast::hash(payload).to_le_bytes() != crc {
        return Err(CheckpointError::Checksum);
    }
    let r = &mut Reader(payload);
    let aggregator = aggregator(r)?;
    let n = r.len(TABLE, "tables")?;
    let tables = (0..n).map(|_| table(r)).collect::<Result<_>>()?;
    if !r.0.is_empty() {
        return Err(CheckpointError::Invalid("trailing bytes"));
    }
    let checkpoint = Checkpoint { aggregator, tables };
    counts_fit(&checkpoint)?;
    Ok(checkpoint)
}

/// The interval's counts are part of the totals since start, and the
/// totals and what the tables hold add up to less than 2^62, more than any
/// server lives to receive: so that absorbing the tables and a lifetime of
/// traffic after cannot overflow a count.
fn counts_fit(checkpoint: &Checkpoint) -> Result<()> {
    let a = &checkpoint.aggregator;
    let (counts, totals) = (fields(&a.counts), fields(&a.totals));
    let mut sums = totals.map(u128::from);
    for table in &checkpoint.tables {
        for (sum, n) in sums.iter_mut().zip(fields(&table.counts)) {
            *sum += u128::from(n);
        }
    }
    let within = |(n, total): (&u64, &u64)| n <= total;
    if counts.iter().zip(&totals).all(within) && sums.iter().all(|&sum| sum < 1 << 62) {
        Ok(())
    } else {
        Err(CheckpointError::Invalid("ingest count"))
    }
}

fn aggregator(r: &mut Reader<'_>) -> Result<AggregatorState> {
    let last_flush = match r.flag("last flush")? {
        true => Some(r.u64("last flush")?),
        false => None,
    };
    Ok(AggregatorState {
        last_flush,
        counts: r.counts()?,
        totals: r.counts()?,
        counters: r.entries(8, "counters", |r| r.f64("counter"))?,
        gauges: r.entries(GAUGE, "gauges", gauge)?,
        timers: timers(r, "timers")?,
        sets: sets(r, "sets")?,
        flushes: r.u64("flushes")?,
        counter_totals: r.entries(8 + 8, "counter totals", |r| {
            Ok(Kept {
                total: r.f64("counter total")?,
                seen: r.u64("counter total")?,
            })
        })?,
        timer_totals: r.entries(8 + 8 + 4 + 8, "timer totals", timer_total)?,
    })
    .and_then(seen_before_now)
}

fn timer_total(r: &mut Reader<'_>) -> Result<Kept<Cumulative>> {
    let count = r.f64("timer total")?;
    let sum = r.f64("timer total")?;
    let n = r.len(8, "timer total buckets")?;
    let mut buckets = Vec::with_capacity(n);
    r.f64s(n, "timer total buckets", &mut buckets)?;
    Ok(Kept {
        total: Cumulative {
            count,
            sum,
            buckets,
        },
        seen: r.u64("timer total")?,
    })
}

/// A total was last seen at a flush that happened: `seen` is at most the
/// flushes counted (the next flush's expiry subtracts the one from the
/// other), and the flushes counted are fewer than 2^62, more than any
/// server lives to make, so counting on cannot overflow.
fn seen_before_now(a: AggregatorState) -> Result<AggregatorState> {
    let flushes = a.flushes;
    if flushes >= 1 << 62 {
        return Err(CheckpointError::Invalid("flush count"));
    }
    let counters = a.counter_totals.values.iter().map(|k| k.seen);
    let timers = a.timer_totals.values.iter().map(|k| k.seen);
    match counters.chain(timers).all(|seen| seen <= flushes) {
        true => Ok(a),
        false => Err(CheckpointError::Invalid(
            "series total seen after the last flush",
        )),
    }
}

fn table(r: &mut Reader<'_>) -> Result<TableState> {
    let counts = r.counts()?;
    let names_after_drain = r.u64("table")?;
    let table = TableState {
        counts,
        names_after_drain: 0,
        splittable: r.flag("table")?,
        counters: r.entries(8, "table counters", |r| r.f64("counter"))?,
        gauges: r.entries(GAUGE_CHANGE, "table gauges", gauge_change)?,
        timers: timers(r, "table timers")?,
        sets: sets(r, "table sets")?,
    };
    // A table holds at least the names it held after its last drain.
    let names = table.counters.len()
        + table.gauges.len()
        + table.timers.entries.len()
        + table.sets.entries.len();
    match usize::try_from(names_after_drain) {
        Ok(n) if n <= names => Ok(TableState {
            names_after_drain: n,
            ..table
        }),
        _ => Err(CheckpointError::Invalid("count of names after a drain")),
    }
}

fn gauge(r: &mut Reader<'_>) -> Result<Gauge> {
    let value = r.f64("gauge")?;
    let ttl = match r.flag("gauge")? {
        true => Some(r.u32("gauge")?),
        false => None,
    };
    Ok(Gauge { value, ttl })
}

fn gauge_change(r: &mut Reader<'_>) -> Result<GaugeChange> {
    let flags = r.u8("gauge change")?;
    if flags & !(ABSOLUTE | OVERFLOW) != 0 {
        return Err(CheckpointError::Invalid("gauge change"));
    }
    let absolute = (flags & ABSOLUTE != 0)
        .then(|| r.f64("gauge change"))
        .transpose()?;
    let overflow = (flags & OVERFLOW != 0)
        .then(|| r.f64("gauge change"))
        .transpose()?;
    let n = r.len(8, "gauge deltas")?;
    let mut deltas = Vec::new();
    r.f64s(n, "gauge deltas", &mut deltas)?;
    Ok(GaugeChange {
        absolute,
        deltas,
        overflow,
    })
}

fn sets(r: &mut Reader<'_>, what: &'static str) -> Result<Sets> {
    let mut members = Entries::default();
    let entries = r.entries(MEMBERS, what, |r| {
        let n = r.len(NAME, "set members")?;
        let first = members.len();
        for _ in 0..n {
            members.push(r.name("set member")?, ());
        }
        unique(members.names().skip(first))?;
        Ok(n)
    })?;
    Ok(Sets { entries, members })
}

fn timers(r: &mut Reader<'_>, what: &'static str) -> Result<Timers> {
    let (mut values, mut weights) = (Vec::new(), Vec::new());
    let entries = r.entries(TIMER, what, |r| {
        let count = r.f64("timer")?;
        let shape = r.u8("timer")?;
        if shape == SKETCHED {
            return Ok(Timer {
                count,
                values: 0,
                weighted: false,
                sketch: Some(Box::new(sketch(r)?)),
            });
        }
        let per_value = match shape {
            EXACT => 8,
            WEIGHTED => 16,
            _ => return Err(CheckpointError::Invalid("timer shape")),
        };
        let n = usize::try_from(r.u64("timer values")?)
            .ok()
            .filter(|n| n.saturating_mul(per_value) <= r.0.len())
            .ok_or(CheckpointError::Truncated("timer values"))?;
        let first = values.len();
        r.f64s(n, "timer values", &mut values)?;
        // The parser takes finite values only; a NaN would break sorting.
        if !values[first..].iter().all(|v| v.is_finite()) {
            return Err(CheckpointError::Invalid("timer value"));
        }
        let weighted = shape == WEIGHTED;
        if weighted {
            if n == 0 {
                return Err(CheckpointError::Invalid("weighted timer"));
            }
            r.f64s(n, "timer weights", &mut weights)?;
        }
        Ok(Timer {
            count,
            values: n,
            weighted,
            sketch: None,
        })
    })?;
    Ok(Timers {
        entries,
        values,
        weights,
    })
}

fn sketch(r: &mut Reader<'_>) -> Result<Sketch> {
    let mut moments = [0.0; 6];
    for m in &mut moments {
        *m = r.f64("sketch")?;
    }
    let [zero, weight, sum, sum_squares, min, max] = moments;
    let positive = buckets(r)?;
    let negative = buckets(r)?;
    let sketch = Sketch {
        positive,
        negative,
        zero,
        weight,
        sum,
        sum_squares,
        min,
        max,
    };
    // A sketch is made by recording a value with a positive weight, which
    // fills a bucket; a summary reads at least one (a merge skips a sketch
    // that weighs nothing), and clamps to the range.
    if sketch.buckets() == 0 || weight.is_nan() || weight <= 0.0 || zero.is_nan() || zero < 0.0 {
        return Err(CheckpointError::Invalid("empty sketch"));
    }
    if min.is_nan() || max.is_nan() || min > max {
        return Err(CheckpointError::Invalid("sketch range"));
    }
    Ok(sketch)
}

fn buckets(r: &mut Reader<'_>) -> Result<BTreeMap<u32, f64>> {
    let n = r.len(BUCKET, "sketch buckets")?;
    let mut buckets = BTreeMap::new();
    let mut previous = None;
    for _ in 0..n {
        let index = r.u32("sketch bucket")?;
        if index > MAX_BUCKET || previous.is_some_and(|p| index <= p) {
            return Err(CheckpointError::Invalid("sketch bucket"));
        }
        previous = Some(index);
        let weight = r.f64("sketch bucket")?;
        if weight.is_nan() || weight <= 0.0 {
            return Err(CheckpointError::Invalid("sketch bucket"));
        }
        buckets.insert(index, weight);
    }
    Ok(buckets)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(CheckpointError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }

    fn flag(&mut self, what: &'static str) -> Result<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CheckpointError::Invalid(what)),
        }
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f64(&mut self, what: &'static str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array(what)?))
    }

    /// Appends `n` floats to `out`.
    fn f64s(&mut self, n: usize, what: &'static str, out: &mut Vec<f64>) -> Result<()> {
        let bytes = self.take(n.saturating_mul(8), what)?;
        let floats = bytes.chunks_exact(8);
        out.extend(floats.map(|b| f64::from_le_bytes(b.try_into().unwrap_or_default())));
        Ok(())
    }

    fn name(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let length = self.len(1, what)?;
        self.take(length, what)
    }

    /// A `u32` count, checked against what is left (each item at least
    /// `item_bytes` long), so a corrupt count cannot ask for gigabytes.
    fn len(&mut self, item_bytes: usize, what: &'static str) -> Result<usize> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(item_bytes.max(1)) > self.0.len() {
            return Err(CheckpointError::Truncated(what));
        }
        Ok(n)
    }

    fn counts(&mut self) -> Result<IngestCounts> {
        let mut n = [0; 9];
        for v in &mut n {
            *v = self.u64("ingest counts")?;
        }
        let [packets, lines, bad_lines, bad_values, events, service_checks, refused_series, refused_samples, oversized] =
            n;
        Ok(IngestCounts {
            packets,
            lines,
            bad_lines,
            bad_values,
            events,
            service_checks,
            refused_series,
            refused_samples,
            oversized,
        })
    }

    /// A map's names and the values `value` reads, each at least
    /// `value_bytes` long, in the order written.
    fn entries<V>(
        &mut self,
        value_bytes: usize,
        what: &'static str,
        mut value: impl FnMut(&mut Self) -> Result<V>,
    ) -> Result<Entries<V>> {
        let n = self.len(NAME + value_bytes, what)?;
        let mut entries = Entries::default();
        for _ in 0..n {
            let name = self.name(what)?;
            let v = value(self)?;
            entries.push(name, v);
        }
        unique(entries.names())?;
        Ok(entries)
    }
}

/// Refuses a name repeated in one map: restoring could keep only one.
fn unique<'n>(names: impl Iterator<Item = &'n [u8]>) -> Result<()> {
    let mut seen = HashSet::with_hasher(RandomState::default());
    for name in names {
        if !seen.insert(name) {
            return Err(CheckpointError::Invalid("repeated name"));
        }
    }
    Ok(())
}
