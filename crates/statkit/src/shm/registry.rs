//! The registry: metric names to cells, one file per registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use statkit_format::layout::{header, Entry, Header, Kind, Layout, PAGE, STATE_READY, WORD};

use super::handles::{Average, Counter, Gauge, Histogram, MovingAverage, Text, Window};
use super::recent::Recent;
use super::reserve::Reservation;
use super::storage::Storage;
use super::{label, Options, PublishError, RegisterError};

/// Registries get ids that are never reused, so a thread's cached block
/// pointer can never be mistaken for one of a later registry.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Files one program may publish from one process.
const MAX_REGISTRIES_PER_PROGRAM: u32 = 64;

/// Metrics by name, published in one shared-memory stats file.
///
/// Cloning is cheap and shares the registry. Registering a label twice
/// returns the same metric; registering it as another kind is an error. The
/// file is removed when the registry and every handle from it are dropped
/// (the default registry removes its file at exit, see
/// [`global`](super::global)).
#[derive(Debug, Clone)]
pub struct Registry {
    pub(super) inner: Arc<Inner>,
}

/// What a registry counts about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistryStats {
    /// Registrations refused by the `metrics` recorder or the convenience
    /// functions, which cannot return the error.
    pub refused: u64,
    /// `describe_*` calls of the `metrics` recorder refused (over a limit,
    /// or the file's descriptions section full).
    pub refused_descriptions: u64,
    /// Threads that found no block of their own (the `max_threads` limit,
    /// or the file could not grow); their updates are kept in memory only.
    pub overflow_threads: u64,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub id: u64,
    pub storage: Storage,
    state: Mutex<State>,
    max_threads: u32,
    /// Size of each histogram's ring of last values (0: none).
    recent: u32,
    /// Set once a pipe publisher reads the rings; until then records skip
    /// them (see `recent.rs`).
    feeding: Arc<AtomicBool>,
    /// The block of threads without one of their own, made on first use.
    overflow: OnceLock<Reservation>,
    pub refused: AtomicU64,
    pub refused_descriptions: AtomicU64,
    overflow_threads: AtomicU64,
    /// Serializes writers of text values (readers use the sequence pair).
    pub text_lock: Mutex<()>,
}

#[derive(Debug, Default)]
pub(super) struct State {
    metrics: HashMap<String, Registered>,
    /// The help texts and units written to the file, and the bytes of its
    /// section they take.
    pub descriptions: super::describe::Written,
    /// Labels in registration order.
    order: Vec<String>,
    /// The segment new metrics go to, and its entries and cells in use.
    segment: u32,
    entries: u32,
    slots_used: u32,
    free_blocks: Vec<u32>,
    blocks: u32,
}

/// A registered metric: enough to make another handle to it.
#[derive(Debug, Clone)]
pub(super) struct Registered {
    pub kind: Kind,
    pub slot: usize,
    pub window: Option<Arc<Mutex<Window>>>,
    /// A histogram's last values (none when `Options::recent` is 0).
    pub recent: Option<Arc<Recent>>,
}

impl Registry {
    /// Creates this process' stats file as `options` say and publishes into
    /// it. A second registry of the same program in one process gets
    /// `<program>-<pid>-2.statkit`, and so on.
    pub fn publish(options: Options) -> Result<Registry, PublishError> {
        let layout = layout_of(&options);
        let header = header_of(&options, layout);
        let first = options.path(std::process::id());
        let stem = first
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut path = first.clone();
        for n in 1..=MAX_REGISTRIES_PER_PROGRAM {
            if n > 1 {
                path = first
                    .with_file_name(format!("{stem}-{n}.{}", statkit_format::naming::EXTENSION));
            }
            match Storage::create_file(&path, layout, &header, max_segments(&options)) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                result => {
                    let storage = result.map_err(|source| PublishError { path, source })?;
                    return Ok(Registry::with_storage(storage, &options));
                }
            }
        }
        Err(PublishError {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "too many registries of this program in this process",
            ),
        })
    }

    /// A registry in memory no other process sees: for tests, and for
    /// programs that turn publishing off.
    pub fn in_memory(options: Options) -> Result<Registry, PublishError> {
        let layout = layout_of(&options);
        let header = header_of(&options, layout);
        let storage =
            Storage::anonymous(layout, &header, max_segments(&options)).map_err(|source| {
                PublishError {
                    path: PathBuf::from("(anonymous memory)"),
                    source,
                }
            })?;
        Ok(Registry::with_storage(storage, &options))
    }

    fn with_storage(storage: Storage, options: &Options) -> Registry {
        storage.publish(0, header::STATE, STATE_READY);
        Registry {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Relaxed),
                storage,
                state: Mutex::new(State {
                    blocks: 1,
                    ..State::default()
                }),
                max_threads: options.max_threads,
                recent: options.recent,
                feeding: Arc::new(AtomicBool::new(false)),
                overflow: OnceLock::new(),
                refused: AtomicU64::new(0),
                refused_descriptions: AtomicU64::new(0),
                overflow_threads: AtomicU64::new(0),
                text_lock: Mutex::new(()),
            }),
        }
    }

    /// Starts feeding the histograms' rings of last values, which the pipe
    /// publisher reads; values recorded before are not in them.
    /// Says in the file's header whether a statvent pipe also publishes
    /// these values, so readers that sum files and pipes count them once.
    pub(crate) fn mark_piped(&self, piped: bool) {
        self.inner
            .storage
            .set_flag(statkit_format::layout::FLAG_PIPED, piped);
    }

    pub(crate) fn feed_rings(&self) {
        self.inner.feeding.store(true, Relaxed);
    }

    /// The stats file, unless the registry is in memory.
    pub fn path(&self) -> Option<&Path> {
        self.inner.storage.path()
    }

    /// What the registry counted about itself.
    pub fn stats(&self) -> RegistryStats {
        RegistryStats {
            refused: self.inner.refused.load(Relaxed),
            refused_descriptions: self.inner.refused_descriptions.load(Relaxed),
            overflow_threads: self.inner.overflow_threads.load(Relaxed),
        }
    }

    /// Removes the file now (it is also removed on drop); metrics keep
    /// working in memory.
    pub fn remove_file(&self) {
        self.inner.storage.remove_file();
    }

    /// The counter `name` with `tags`.
    pub fn counter(&self, name: &str, tags: &[(&str, &str)]) -> Result<Counter, RegisterError> {
        self.handle(name, tags, Kind::Counter, Counter::new)
    }

    /// The gauge `name` with `tags`.
    pub fn gauge(&self, name: &str, tags: &[(&str, &str)]) -> Result<Gauge, RegisterError> {
        self.handle(name, tags, Kind::Gauge, Gauge::new)
    }

    /// The histogram `name` with `tags`.
    pub fn histogram(&self, name: &str, tags: &[(&str, &str)]) -> Result<Histogram, RegisterError> {
        let found = self.register(&label::label(name, tags)?, Kind::Histogram, 0)?;
        Ok(Histogram::new(self.inner.clone(), found.slot, found.recent))
    }

    /// The text value `name` with `tags`.
    pub fn text(&self, name: &str, tags: &[(&str, &str)]) -> Result<Text, RegisterError> {
        self.handle(name, tags, Kind::Text, Text::new)
    }

    /// The running average `name` with `tags`.
    pub fn average(&self, name: &str, tags: &[(&str, &str)]) -> Result<Average, RegisterError> {
        self.handle(name, tags, Kind::Average, Average::new)
    }

    /// Registers `name` with `tags` as `kind` and makes its handle.
    fn handle<H>(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        kind: Kind,
        make: fn(Arc<Inner>, usize) -> H,
    ) -> Result<H, RegisterError> {
        let found = self.register(&label::label(name, tags)?, kind, 0)?;
        Ok(make(self.inner.clone(), found.slot))
    }

    /// The moving average over the last `window` values (at least 1) of
    /// `name` with `tags`. Registered again with another window, it keeps
    /// its first one.
    pub fn moving_average(
        &self,
        name: &str,
        tags: &[(&str, &str)],
        window: u32,
    ) -> Result<MovingAverage, RegisterError> {
        let window = window.max(1);
        let found = self.register(&label::label(name, tags)?, Kind::MovingAverage, window)?;
        let shared = found
            .window
            .unwrap_or_else(|| Arc::new(Mutex::new(Window::new(window))));
        Ok(MovingAverage::new(self.inner.clone(), found.slot, shared))
    }

    /// The metric under `label`, registered as `kind` when new.
    pub(super) fn register(
        &self,
        label: &str,
        kind: Kind,
        param: u32,
    ) -> Result<Registered, RegisterError> {
        let mut state = self.inner.lock_state();
        if let Some(found) = state.metrics.get(label) {
            return if found.kind == kind {
                Ok(found.clone())
            } else {
                Err(RegisterError::KindConflict {
                    label: label.to_owned(),
                    existing: found.kind.name(),
                    requested: kind.name(),
                })
            };
        }
        let storage = &self.inner.storage;
        let words = kind.words();
        let mut fits = room(&state, storage, words);
        // A metric bigger than a whole block would not fit the next
        // segment either: no segment is spent on it.
        let could_fit = words <= storage.layout().block_words();
        if fits.is_err() && could_fit && state.segment + 1 < storage.max_segments() {
            state.segment = storage.add_segment().map_err(|e| RegisterError::Grow {
                label: label.to_owned(),
                reason: e.to_string(),
            })?;
            state.entries = 0;
            state.slots_used = 0;
            fits = room(&state, storage, words);
        }
        let end = fits.map_err(|(what, option)| RegisterError::Full {
            label: label.to_owned(),
            what,
            option,
        })?;
        let entry = Entry {
            kind,
            slot: state.slots_used,
            words,
            param,
            label: label.to_owned(),
        };
        let bytes = entry.encode().ok_or_else(|| RegisterError::TooLong {
            label: label.to_owned(),
            len: label.len(),
            max: statkit_format::layout::NAME_MAX,
        })?;
        storage.write_entry(state.segment, state.entries, &bytes);
        // Cells first, then the entry that points at them.
        storage.publish(state.segment, header::SLOTS_USED, end);
        storage.publish(state.segment, header::ENTRIES, state.entries + 1);
        let segment_start = state.segment as usize * storage.layout().block_words() as usize;
        let registered = Registered {
            kind,
            slot: segment_start + state.slots_used as usize,
            window: (kind == Kind::MovingAverage).then(|| Arc::new(Mutex::new(Window::new(param)))),
            recent: (kind == Kind::Histogram && self.inner.recent > 0)
                .then(|| Arc::new(Recent::new(self.inner.recent, self.inner.feeding.clone()))),
        };
        state.entries += 1;
        state.slots_used = end;
        state.metrics.insert(label.to_owned(), registered.clone());
        state.order.push(label.to_owned());
        Ok(registered)
    }
}

impl Inner {
    pub(super) fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A thread block for a thread that has none: a released one, or a new
    /// one at the end of the file; `None` past `max_threads` or when the
    /// file cannot grow.
    pub fn acquire_block(&self) -> Option<(u32, *mut u64)> {
        let mut state = self.lock_state();
        let index = match state.free_blocks.pop() {
            Some(index) => index,
            None if state.blocks <= self.max_threads => {
                let index = self.storage.add_block().ok()?;
                state.blocks = index + 1;
                index
            }
            None => return None,
        };
        Some((index, self.storage.thread_block(index)))
    }

    /// Takes back the block of a thread that ended; its cells keep their
    /// totals for the next thread.
    pub fn release_block(&self, index: u32) {
        self.lock_state().free_blocks.push(index);
    }

    /// Every metric's label, kind and slot, in registration order, with the
    /// number of blocks in use.
    pub fn metrics(&self) -> (Vec<(String, Registered)>, u32) {
        let state = self.lock_state();
        let list = state
            .order
            .iter()
            .filter_map(|label| Some((label.clone(), state.metrics.get(label)?.clone())))
            .collect();
        (list, state.blocks)
    }

    /// Word `slot` summed over every thread block (and the overflow block).
    pub fn thread_sum(&self, slot: usize) -> u64 {
        let blocks = self.lock_state().blocks;
        let mut total = 0u64;
        for index in 1..blocks {
            // SAFETY: `slot` was checked against the block size at registration.
            let cell = unsafe { super::cells::word(self.storage.thread_block(index), slot) };
            total = total.wrapping_add(cell.load(Relaxed));
        }
        if let Some(overflow) = self.overflow.get() {
            // SAFETY: the overflow block spans every segment's cells.
            let cell = unsafe { super::cells::word(overflow.base(), slot) };
            total = total.wrapping_add(cell.load(Relaxed));
        }
        total
    }

    /// The block shared by threads without their own; `newcomer` counts
    /// the calling thread in the stats.
    pub fn overflow_block(&self, newcomer: bool) -> *mut u64 {
        if newcomer {
            self.overflow_threads.fetch_add(1, Relaxed);
        }
        let storage = &self.storage;
        let len = storage.layout().block_size as usize * storage.max_segments() as usize;
        // Out of address space is out of memory, as for any allocation.
        let out_of_memory = || {
            let words = std::alloc::Layout::array::<u64>(len / 8);
            std::alloc::handle_alloc_error(words.unwrap_or(std::alloc::Layout::new::<u64>()))
        };
        self.overflow
            .get_or_init(|| Reservation::zeroed(len).unwrap_or_else(|_| out_of_memory()))
            .base()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.storage.remove_file();
    }
}

/// Where a metric of `words` words would end in the current segment, or
/// what ran out there (and the option that gives more).
fn room(state: &State, storage: &Storage, words: u32) -> Result<u32, (&'static str, &'static str)> {
    let layout = storage.layout();
    if state.entries >= layout.capacity {
        return Err(("entries", "capacity"));
    }
    state
        .slots_used
        .checked_add(words)
        .filter(|&end| end <= layout.block_words())
        .ok_or(("cells", "block_size"))
}

/// Segments the chain may have: the option, within the format's limit.
fn max_segments(options: &Options) -> u32 {
    options
        .max_segments
        .clamp(1, statkit_format::layout::MAX_SEGMENTS)
}

fn layout_of(options: &Options) -> Layout {
    let descriptions = options
        .descriptions
        .min(statkit_format::describe::SECTION_MAX);
    Layout {
        capacity: options.capacity.max(1),
        block_size: (options.block_size.max(PAGE as u32) / PAGE as u32) * PAGE as u32,
        descriptions: descriptions / WORD as u32 * WORD as u32,
    }
}

fn header_of(options: &Options, layout: Layout) -> Header {
    let created_ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Header {
        capacity: layout.capacity,
        block_size: layout.block_size,
        blocks_offset: layout.blocks_offset(),
        flags: 0,
        pid: std::process::id(),
        start_time: super::options::process_start_time(),
        created_ns,
        program: options.program.clone(),
        entries: 0,
        blocks: 1,
        slots_used: 0,
        state: 0,
        segments: 0,
        segment: 0,
        descriptions: layout.descriptions(),
    }
}
