//! Metric handles: cheap to clone, `Send + Sync`, and infallible.
//!
//! Per-thread kinds (counter, histogram, average) write into the calling
//! thread's block; process-wide kinds (gauge, text, moving average) into
//! block 0. Every handle holds its registry, so the mapping outlives it.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use statkit_format::cell::{self, TEXT_MAX};
use statkit_format::histogram::bucket_of;
use statkit_format::layout::truncate_utf8;

use super::cells::{bump, guarded, in_register, word};
use super::recent::Recent;
use super::registry::Inner;
use super::thread;

/// A handle's registry and the cell range it owns in every block.
#[derive(Clone)]
struct Slot {
    inner: Arc<Inner>,
    /// `inner.id`, kept beside the slot: the update path compares it with
    /// the thread's cached lease without a load through the `Arc`.
    id: u64,
    slot: usize,
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slot")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl Slot {
    fn new(inner: Arc<Inner>, slot: usize) -> Self {
        let id = inner.id;
        Self { inner, id, slot }
    }

    /// The first word of this metric's cells in the calling thread's block.
    #[inline(always)]
    fn mine(&self) -> *mut u64 {
        // SAFETY: the slot was checked against the block size at
        // registration, so the offset stays inside the block.
        in_register(unsafe { thread::block(&self.inner, self.id).add(self.slot) })
    }

    /// The first word of this metric's cells in block 0.
    #[inline(always)]
    fn shared(&self) -> *mut u64 {
        // SAFETY: as for `mine`; block 0 is part of the head mapping.
        in_register(unsafe { self.inner.storage.shared_block().add(self.slot) })
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            slot: Slot,
        }

        impl $name {
            pub(super) fn new(inner: Arc<Inner>, slot: usize) -> Self {
                $name { slot: Slot::new(inner, slot) }
            }
        }
    };
}

handle!(
    /// A monotonic u64 count. An increment is a load and a store into a
    /// cell only the calling thread writes: no lock, no syscall, no atomic
    /// read-modify-write.
    Counter
);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// The total over all threads, as a reader sums it.
    pub fn total(&self) -> u64 {
        self.slot.inner.thread_sum(self.slot.slot)
    }

    /// Adds `n` (wrapping at 2^64, as readers sum).
    #[inline]
    pub fn add(&self, n: u64) {
        // SAFETY: `mine` points at this counter's cell in a live block.
        bump(unsafe { word(self.slot.mine(), 0) }, n);
    }
}

handle!(
    /// A process-wide f64 value. `set` is one store; `add` is a
    /// compare-and-swap loop, since every thread writes the same cell.
    Gauge
);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, value: f64) {
        // SAFETY: the gauge's cell in block 0.
        unsafe { word(self.slot.shared(), 0) }.store(value.to_bits(), Relaxed);
    }

    /// The value.
    pub fn get(&self) -> f64 {
        // SAFETY: as in `set`.
        f64::from_bits(unsafe { word(self.slot.shared(), 0) }.load(Relaxed))
    }

    /// Adds `delta` (negative to subtract).
    pub fn add(&self, delta: f64) {
        // SAFETY: as in `set`.
        let cell = unsafe { word(self.slot.shared(), 0) };
        let _ = cell.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + delta).to_bits())
        });
    }
}

/// A distribution of f64 values in the log-linear buckets of
/// `statkit_format::histogram` (percentiles within 6.25%), with exact
/// count, sum, minimum and maximum. Recording writes the calling thread's
/// cells inside their sequence pair, and the value into a ring of the last
/// [`Options::recent`](super::Options::recent) values that the pipe
/// publisher reads.
#[derive(Debug, Clone)]
pub struct Histogram {
    slot: Slot,
    recent: Option<Arc<Recent>>,
}

impl Histogram {
    pub(super) fn new(inner: Arc<Inner>, slot: usize, recent: Option<Arc<Recent>>) -> Self {
        Histogram {
            slot: Slot::new(inner, slot),
            recent,
        }
    }

    /// Counts `value`; NaN is ignored.
    #[inline]
    pub fn record(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        use cell::histogram as h;
        let base = self.slot.mine();
        // SAFETY: every index is below the histogram's cell count.
        let at = |index: u32| unsafe { word(base, index as usize) };
        guarded(at(h::BEGIN), at(h::END), || {
            let count = at(h::COUNT).load(Relaxed);
            let (min, max) = if count == 0 {
                (value, value)
            } else {
                let min = f64::from_bits(at(h::MIN).load(Relaxed));
                let max = f64::from_bits(at(h::MAX).load(Relaxed));
                (min.min(value), max.max(value))
            };
            at(h::COUNT).store(count + 1, Relaxed);
            let sum = f64::from_bits(at(h::SUM).load(Relaxed)) + value;
            at(h::SUM).store(sum.to_bits(), Relaxed);
            at(h::MIN).store(min.to_bits(), Relaxed);
            at(h::MAX).store(max.to_bits(), Relaxed);
            bump(at(h::BUCKETS + bucket_of(value) as u32), 1);
        });
        if let Some(recent) = &self.recent {
            recent.push(value);
        }
    }

    /// A guard that records the seconds until it is dropped (or
    /// [`Timer::stop`]ped).
    pub fn start_timer(&self) -> Timer<'_> {
        Timer {
            histogram: self,
            started: Instant::now(),
            done: false,
        }
    }

    /// Runs `f` and records how many seconds it took.
    pub fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let _timer = self.start_timer();
        f()
    }
}

/// Records the seconds since it was made into a histogram, once.
#[derive(Debug)]
pub struct Timer<'a> {
    histogram: &'a Histogram,
    started: Instant,
    done: bool,
}

impl Timer<'_> {
    /// Records now and returns the seconds recorded.
    pub fn stop(mut self) -> f64 {
        self.record()
    }

    fn record(&mut self) -> f64 {
        let seconds = self.started.elapsed().as_secs_f64();
        if !std::mem::replace(&mut self.done, true) {
            self.histogram.record(seconds);
        }
        seconds
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.record();
    }
}

handle!(
    /// A short process-wide string (at most 64 bytes): a version, a state.
    /// Writers take a lock; readers use the sequence pair.
    Text
);

impl Text {
    /// Sets the text, cut on a character boundary to 64 bytes.
    pub fn set(&self, value: &str) {
        use cell::text as t;
        let value = truncate_utf8(value, TEXT_MAX);
        let mut words = [0u64; TEXT_MAX / 8];
        for (index, chunk) in value.as_bytes().chunks(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            words[index] = u64::from_le_bytes(bytes);
        }
        let base = self.slot.shared();
        // SAFETY: every index is below the text's cell count.
        let at = |index: u32| unsafe { word(base, index as usize) };
        let _writer = self
            .slot
            .inner
            .text_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        guarded(at(t::BEGIN), at(t::END), || {
            at(t::LEN).store(value.len() as u64, Relaxed);
            for (index, &w) in words.iter().enumerate() {
                at(t::BYTES + index as u32).store(w, Relaxed);
            }
        });
    }
}

handle!(
    /// The mean of every value added (mmstats' AverageField): a count and a
    /// sum per thread, which readers add up.
    Average
);

impl Average {
    /// Adds `value` to the mean; NaN is ignored.
    #[inline]
    pub fn add(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        use cell::average as a;
        let base = self.slot.mine();
        // SAFETY: every index is below the average's cell count.
        let at = |index: u32| unsafe { word(base, index as usize) };
        guarded(at(a::BEGIN), at(a::END), || {
            bump(at(a::COUNT), 1);
            let sum = f64::from_bits(at(a::SUM).load(Relaxed)) + value;
            at(a::SUM).store(sum.to_bits(), Relaxed);
        });
    }
}

/// The last values of a moving average, kept in process memory.
#[derive(Debug)]
pub(super) struct Window {
    values: VecDeque<f64>,
    size: usize,
}

impl Window {
    pub fn new(size: u32) -> Window {
        let size = size.max(1) as usize;
        Window {
            values: VecDeque::with_capacity(size),
            size,
        }
    }

    fn push(&mut self, value: f64) -> f64 {
        if self.values.len() == self.size {
            self.values.pop_front();
        }
        self.values.push_back(value);
        // Summed afresh each time so rounding never accumulates.
        self.values.iter().sum::<f64>() / self.values.len() as f64
    }
}

/// The mean of the last N values (mmstats' MovingAverageField and
/// TimerField): the window lives in process memory behind a lock, the mean
/// in block 0.
#[derive(Debug, Clone)]
pub struct MovingAverage {
    slot: Slot,
    window: Arc<Mutex<Window>>,
}

impl MovingAverage {
    pub(super) fn new(inner: Arc<Inner>, slot: usize, window: Arc<Mutex<Window>>) -> Self {
        MovingAverage {
            slot: Slot::new(inner, slot),
            window,
        }
    }

    /// Adds `value` to the window; NaN is ignored.
    pub fn add(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let mean = window.push(value);
        // SAFETY: the moving average's cell in block 0.
        unsafe { word(self.slot.shared(), 0) }.store(mean.to_bits(), Relaxed);
    }
}
