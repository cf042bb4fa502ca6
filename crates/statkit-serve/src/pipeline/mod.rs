//! The pipeline core: the receivers' tables and the aggregator behind
//! them, with the one lock order (aggregator, observer, table) kept here
//! and nowhere else.
//!
//! Receivers hold an [`Intake`], which locks only their own table. Every
//! other part of the server asks the [`Pipeline`] for what it needs: a
//! flush's [`Snapshot`], the current interval to read, a deletion, totals
//! without draining. Each drain shows the table to the [`Observer`] (the
//! request view) first, so a sample is observed exactly once.

pub(crate) mod settings;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use statkit_agg::{Aggregator, Checkpoint, IngestCounts, Kind, Snapshot, Table};

use crate::support::{lock, unix_now};

/// Sees every table just before the aggregator absorbs it (called with the
/// aggregator's and the table's locks held: it must not take them).
pub(crate) trait Observer: Send + Sync {
    fn observe(&self, table: &Table, now: u64);
}

/// What a deletion found for one pattern.
#[derive(Debug)]
pub(crate) struct Deleted {
    pub pattern: String,
    pub names: Vec<Vec<u8>>,
}

/// What [`Pipeline::flush`] made.
pub(crate) struct Flushed {
    /// Flushes since the series' totals began (a checkpoint carries the
    /// count across restarts): this one's number.
    pub number: u64,
    pub snapshot: Snapshot,
    /// The state right after the flush, when asked for.
    pub checkpoint: Option<Checkpoint>,
}

/// The tables and the aggregator. See the module docs.
pub(crate) struct Pipeline {
    /// One per receiver: each UDP thread, the Unix socket thread, all TCP
    /// connections together, the scanner.
    tables: Vec<Mutex<Table>>,
    aggregator: Mutex<Aggregator>,
    observer: Option<Arc<dyn Observer>>,
    /// Unix seconds when a packet last arrived, as of the last drain.
    last_message: AtomicU64,
    /// Deletions and restored gauges so far: changes that come with no
    /// line, for [`Pipeline::version`].
    edits: AtomicU64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

/// A receiver's way in: its own table.
#[derive(Clone, Debug)]
pub(crate) struct Intake {
    pipeline: Arc<Pipeline>,
    index: usize,
}

impl Pipeline {
    /// A pipeline with `intakes` tables, started at `started` (Unix
    /// seconds); the intakes come in the same order.
    pub(crate) fn new(
        options: statkit_agg::Options,
        intakes: usize,
        observer: Option<Arc<dyn Observer>>,
        started: u64,
    ) -> (Arc<Pipeline>, Vec<Intake>) {
        let tables = (0..intakes)
            .map(|_| Mutex::new(Table::new(options.table)))
            .collect();
        let pipeline = Arc::new(Pipeline {
            tables,
            aggregator: Mutex::new(Aggregator::new(options)),
            observer,
            last_message: AtomicU64::new(started),
            edits: AtomicU64::new(0),
        });
        let intakes = (0..intakes)
            .map(|index| Intake {
                pipeline: pipeline.clone(),
                index,
            })
            .collect();
        (pipeline, intakes)
    }

    /// Ends the interval: drains every table and flushes the aggregate.
    /// `cut_short` is how long an interval lasted that ended before its
    /// time (the last one, at shutdown), so rates use the time that passed.
    /// With `capture`, also a checkpoint of the state right after the
    /// flush, taken without letting any receiver's early drain in between:
    /// what the flush reports is never in the checkpoint, and the reverse.
    pub(crate) fn flush(
        &self,
        now: u64,
        cut_short: Option<std::time::Duration>,
        capture: bool,
    ) -> Flushed {
        let mut aggregator = lock(&self.aggregator);
        self.absorb_all(&mut aggregator);
        let snapshot = match cut_short {
            Some(lasted) => aggregator.flush_after(now, lasted.as_secs_f64() * 1000.0),
            None => aggregator.flush(now),
        };
        Flushed {
            number: aggregator.flushes(),
            snapshot,
            checkpoint: capture.then(|| self.capture_locked(&aggregator)),
        }
    }

    /// A checkpoint of the open interval: the aggregate and what each
    /// receiver holds, read (not drained, which would change how
    /// fractional sums associate) under the aggregator's lock, so no
    /// early drain moves samples from a table already read into the
    /// aggregate or the reverse.
    pub(crate) fn capture(&self) -> Checkpoint {
        self.capture_locked(&lock(&self.aggregator))
    }

    fn capture_locked(&self, aggregator: &Aggregator) -> Checkpoint {
        let mut checkpoint = Checkpoint::capture_aggregator(aggregator);
        for table in &self.tables {
            checkpoint.add_table(&lock(table));
        }
        checkpoint
    }

    /// Puts a checkpoint's state back, before any receiver runs. Tables it
    /// holds beyond this server's receivers (there were more before the
    /// restart) go straight into the aggregate.
    pub(crate) fn restore(&self, checkpoint: Checkpoint) {
        let mut aggregator = lock(&self.aggregator);
        let mut guards: Vec<_> = self.tables.iter().map(lock).collect();
        let mut tables: Vec<&mut Table> = guards.iter_mut().map(|g| &mut **g).collect();
        for mut extra in checkpoint.restore(&mut aggregator, &mut tables) {
            aggregator.absorb(&mut extra);
        }
    }

    /// Drains every table, so what was received so far is in the aggregate
    /// and has been shown to the observer.
    pub(crate) fn drain(&self) {
        self.absorb_all(&mut lock(&self.aggregator));
    }

    /// Runs `read` on the aggregate of everything received so far.
    pub(crate) fn read<T>(&self, read: impl FnOnce(&Aggregator) -> T) -> T {
        let mut aggregator = lock(&self.aggregator);
        self.absorb_all(&mut aggregator);
        read(&aggregator)
    }

    /// Deletes the series of `kind` each pattern names (`a.b.*` names a
    /// folder), after draining, so the current interval goes too.
    pub(crate) fn delete(&self, kind: Kind, patterns: &[&str]) -> Vec<Deleted> {
        self.edits.fetch_add(1, Ordering::Relaxed);
        let mut aggregator = lock(&self.aggregator);
        self.absorb_all(&mut aggregator);
        patterns
            .iter()
            .map(|pattern| {
                let names = aggregator.matching(kind, pattern.as_bytes());
                for name in &names {
                    aggregator.delete(kind, name);
                }
                Deleted {
                    pattern: (*pattern).to_owned(),
                    names,
                }
            })
            .collect()
    }

    /// Puts a gauge's value back (from a saved state) so the next flush
    /// reports it; false if the gauge already has one.
    pub(crate) fn restore_gauge(&self, name: &[u8], value: f64) -> bool {
        self.edits.fetch_add(1, Ordering::Relaxed);
        lock(&self.aggregator).restore_gauge(name, value)
    }

    /// Changes whenever the state may have: packets and lines received
    /// (counted as they arrive, before any drain), flushes, deletions. The
    /// checkpointer skips a checkpoint when it has not moved.
    pub(crate) fn version(&self) -> [u64; 4] {
        let (totals, _) = self.totals();
        let flushes = lock(&self.aggregator).flushes();
        [
            totals.packets,
            totals.lines,
            flushes,
            self.edits.load(Ordering::Relaxed),
        ]
    }

    /// Everything received since start, including what the receivers hold
    /// right now, and the series held. Reads without draining: a drain in
    /// the middle of an interval would change how fractional sums
    /// associate, so watching the server must not do one.
    pub(crate) fn totals(&self) -> (IngestCounts, usize) {
        let aggregator = lock(&self.aggregator);
        let mut totals = aggregator.ingested();
        for table in &self.tables {
            let pending = lock(table).counts();
            if pending.packets > 0 {
                self.last_message.store(unix_now(), Ordering::Relaxed);
            }
            totals.add(&pending);
        }
        (totals, aggregator.series())
    }

    /// Unix seconds when a packet last arrived, as far as drains and
    /// totals have seen.
    pub(crate) fn last_message(&self) -> u64 {
        self.last_message.load(Ordering::Relaxed)
    }

    fn absorb_all(&self, aggregator: &mut Aggregator) {
        let now = unix_now();
        for table in &self.tables {
            self.absorb(aggregator, &mut lock(table), now);
        }
    }

    fn absorb(&self, aggregator: &mut Aggregator, table: &mut Table, now: u64) {
        if table.is_idle() {
            return;
        }
        if let Some(error) = table.take_last_error() {
            tracing::debug!("rejected statsd input: {error}");
        }
        if table.counts().packets > 0 {
            self.last_message.store(now, Ordering::Relaxed);
        }
        if let Some(observer) = &self.observer {
            observer.observe(table, now);
        }
        aggregator.absorb(table);
    }
}

impl Intake {
    /// Lets `fill` add to this receiver's table (locked once), then hands
    /// the table to the aggregator if it asks to be drained before the
    /// flush ([`Table::wants_drain`]), so a receiver never holds a second
    /// copy of a large name set the aggregator keeps anyway.
    pub(crate) fn fill<R>(&self, fill: impl FnOnce(&mut Table) -> R) -> R {
        let table = &self.pipeline.tables[self.index];
        let (result, full) = {
            let mut table = lock(table);
            let result = fill(&mut table);
            (result, table.wants_drain())
        };
        if full {
            let mut aggregator = lock(&self.pipeline.aggregator);
            let mut table = lock(table);
            // The flusher may have drained it meanwhile.
            if table.wants_drain() {
                self.pipeline
                    .absorb(&mut aggregator, &mut table, unix_now());
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
