//! The `metrics` crate's facade, sent to a statsd server through a
//! [`Client`]: with [`StatsdRecorder::install`], every
//! `metrics::counter!("x").increment(1)` in the program and its libraries
//! becomes a statsd line, formatted on the calling thread and packed into
//! the client's datagrams like the client's own calls (so nothing blocks and
//! no queue is added). As with the client's own calls, lines wait for a full
//! datagram unless the client was built with a
//! [flush interval](super::ClientBuilder::background_flush). An installed
//! recorder is never dropped, so its client is not flushed at exit: keep a
//! clone of the client (or of the recorder) and call [`Client::flush`]
//! before the program ends.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use statkit::client::{HistogramType, StatsdRecorder};
//!
//! let client = statkit::Client::builder("127.0.0.1:8125")
//!     .prefix("app")
//!     // Quiet metrics are sent within a second, not at the next full datagram.
//!     .background_flush(Duration::from_secs(1))
//!     .build()?;
//! StatsdRecorder::new(client.clone())
//!     .histograms(HistogramType::Distribution)
//!     .install()
//!     .expect("no other recorder installed");
//! metrics::counter!("requests", "route" => "/home").increment(1); // app.requests:1|c|#route:/home
//! client.flush(); // before exit
//! # Ok::<(), statkit::BuildError>(())
//! ```
//!
//! # What each call sends
//!
//! | call | line |
//! |---|---|
//! | `counter!(..).increment(n)` | `name:n\|c` |
//! | `counter!(..).absolute(n)` | `name:d\|c`, `d` the rise since the key's last `absolute` (see below) |
//! | `gauge!(..).set(v)` | `name:v\|g` (a negative `v` as `name:0\|g` then `name:v\|g`) |
//! | `gauge!(..).increment(v)` / `decrement(v)` | `name:+v\|g` / `name:-v\|g`, which statsd adds to the gauge |
//! | `histogram!(..).record(v)` | `name:v\|ms`, or `name:v\|d` with [`HistogramType::Distribution`] |
//!
//! Labels become DogStatsD tags (`|#key:value,...`) after the client's
//! default tags, cleaned as the client cleans tags (see
//! [Names and tags](super#names-and-tags)).
//!
//! statsd counters carry increments, not totals, so `absolute` is turned
//! into one: the first call for a key sends the whole value (the count since
//! the source started), later calls send the difference from the previous
//! value, and a value below the previous one is taken as a restarted source
//! and sent whole.
//!
//! # Units and descriptions
//!
//! `describe_counter!`, `describe_gauge!` and `describe_histogram!` are kept:
//! [`StatsdRecorder::description`] returns the text and unit (statsd itself
//! has no place for either). A histogram described in
//! [`Unit::Seconds`], [`Unit::Microseconds`] or [`Unit::Nanoseconds`] is
//! converted to milliseconds when it is sent as `|ms`, statsd's unit for
//! timers, so `histogram!("db").record(0.0125)` under `Unit::Seconds` sends
//! `db:12.5|ms`; this also applies to handles registered before the
//! description. Distributions (`|d`) have no unit and are sent as recorded.
//!
//! # Cost
//!
//! A macro call looks its key up in a map of handles (a read lock and the
//! key's precomputed hash), so after a key's first use a call allocates
//! nothing, like the client's own calls. The map keeps every key ever used,
//! as the `metrics` crate's own registries do: labels with unbounded values
//! (user ids, raw URLs) grow it without limit.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Key, KeyName, Metadata, SharedString, Unit};

use super::format::{self, Millis, Tags, Value};
use super::Client;

/// The statsd type `histogram!` values are sent as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistogramType {
    /// `|ms`, the timer every statsd server knows: the server computes
    /// percentiles per flush. Time units are converted to milliseconds.
    #[default]
    Timer,
    /// `|d`, a DogStatsD distribution: percentiles computed by the agent
    /// across hosts. Values are sent as recorded.
    Distribution,
}

/// A `metrics` recorder that sends through a statsd [`Client`].
///
/// Clones share their handles and descriptions, so a program can install
/// one and keep another to read [descriptions](Self::description), the
/// client's [stats](Client::stats), or to flush it.
#[derive(Clone)]
pub struct StatsdRecorder {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    histograms: HistogramType,
    /// Description text and unit by metric name.
    descriptions: Mutex<HashMap<String, (String, Option<Unit>)>>,
    counters: RwLock<KeyMap<CounterHandle>>,
    gauges: RwLock<KeyMap<GaugeHandle>>,
    histogram_handles: RwLock<KeyMap<HistogramHandle>>,
}

/// Handles by key, hashed with the hash each [`Key`] computed when it was
/// made.
type KeyMap<H> = HashMap<Key, Arc<H>, BuildHasherDefault<KeyHasher>>;

/// Passes through the one `u64` a [`Key`] hashes itself into, so a lookup
/// does not hash the name and labels again.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    /// Not used by [`Key`], which writes one `u64`; still a real hash (the
    /// FNV-1a step) in case a later `metrics` release hashes differently.
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl StatsdRecorder {
    /// A recorder sending through `client`, histograms as timers (`|ms`).
    pub fn new(client: Client) -> Self {
        Self::with(client, HistogramType::default())
    }

    fn with(client: Client, histograms: HistogramType) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                histograms,
                descriptions: Mutex::default(),
                counters: RwLock::default(),
                gauges: RwLock::default(),
                histogram_handles: RwLock::default(),
            }),
        }
    }

    /// Sends histograms as `kind`. A setting for the recorder as it is
    /// built: it makes a new recorder, sharing nothing with clones of this
    /// one but the client.
    pub fn histograms(self, kind: HistogramType) -> Self {
        Self::with(self.inner.client.clone(), kind)
    }

    /// Makes this the program's recorder (`metrics::set_global_recorder`);
    /// fails, handing the recorder back, if one is already installed. The
    /// recorder then lives until the program ends and is never dropped:
    /// flush its client (through a clone) before exiting.
    pub fn install(self) -> Result<(), metrics::SetRecorderError<Self>> {
        metrics::set_global_recorder(self)
    }

    /// The client the lines go through: for [`Client::flush`] before exit,
    /// or [`Client::stats`].
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The text and unit a `describe_*!` call gave metric `name`, if any.
    pub fn description(&self, name: &str) -> Option<(String, Option<Unit>)> {
        lock(&self.inner.descriptions).get(name).cloned()
    }

    fn describe(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        lock(&self.inner.descriptions).insert(name.as_str().to_owned(), (text.into_owned(), unit));
    }

    /// The handle for `key` in `map`, made by `make` on the key's first use.
    fn handle<H>(
        &self,
        map: &RwLock<KeyMap<H>>,
        key: &Key,
        make: impl FnOnce(Line) -> H,
    ) -> Arc<H> {
        if let Some(handle) = map.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return Arc::clone(handle);
        }
        let mut map = map.write().unwrap_or_else(PoisonError::into_inner);
        let handle = map
            .entry(key.clone())
            .or_insert_with(|| Arc::new(make(Line::new(&self.inner.client, key))));
        Arc::clone(handle)
    }

    /// The time unit of histogram `name`, from its description.
    fn time_unit(&self, name: &str) -> TimeUnit {
        lock(&self.inner.descriptions)
            .get(name)
            .map_or(TimeUnit::Milliseconds, |(_, unit)| TimeUnit::of(*unit))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for StatsdRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatsdRecorder")
            .field("client", &self.inner.client)
            .field("histograms", &self.inner.histograms)
            .finish_non_exhaustive()
    }
}

impl metrics::Recorder for StatsdRecorder {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }

    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(name, unit, text);
    }

    /// Also sets the unit of the histogram's existing handles, so values
    /// recorded from now on are converted even if the description came
    /// after the first use.
    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        // The description first: a handle made from now on reads it, and
        // one made before is in the map by the time it is walked below.
        let time_unit = TimeUnit::of(unit);
        self.describe(name.clone(), unit, text);
        let handles = self
            .inner
            .histogram_handles
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, handle) in handles.iter() {
            if key.name() == name.as_str() {
                handle.unit.store(time_unit as u8, Relaxed);
            }
        }
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(
            self.handle(&self.inner.counters, key, |line| CounterHandle {
                line,
                last_absolute: AtomicU64::new(0),
            }),
        )
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::from_arc(self.handle(&self.inner.gauges, key, |line| GaugeHandle { line }))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let handle = self.handle(&self.inner.histogram_handles, key, |line| {
            let unit = self.time_unit(key.name());
            HistogramHandle {
                line,
                kind: self.inner.histograms,
                unit: AtomicU8::new(unit as u8),
            }
        });
        metrics::Histogram::from_arc(handle)
    }
}

/// What every handle sends with: the client, the name, and the key's labels
/// as tags, cleaned once when the handle is made.
struct Line {
    client: Client,
    name: String,
    tags: Vec<u8>,
}

impl Line {
    fn new(client: &Client, key: &Key) -> Self {
        let mut tags = Vec::new();
        for label in key.labels() {
            if label.key().is_empty() && label.value().is_empty() {
                continue;
            }
            if !tags.is_empty() {
                tags.push(b',');
            }
            format::push_tag(&mut tags, label.key(), label.value());
        }
        Self {
            client: client.clone(),
            name: key.name().to_owned(),
            tags,
        }
    }

    fn send(&self, value: Value<'_>) {
        self.client
            .emit(&self.name, value, 1.0, Tags::Cleaned(&self.tags));
    }
}

struct CounterHandle {
    line: Line,
    /// The value of the last `absolute` call, from which the next one's
    /// increment is computed.
    last_absolute: AtomicU64,
}

impl metrics::CounterFn for CounterHandle {
    /// An increment above `i64::MAX` (the largest statsd count statkit's
    /// parser reads) is sent as `i64::MAX`.
    fn increment(&self, value: u64) {
        self.line
            .send(Value::Counter(i64::try_from(value).unwrap_or(i64::MAX)));
    }

    fn absolute(&self, value: u64) {
        let previous = self.last_absolute.swap(value, Relaxed);
        let rise = value.checked_sub(previous).unwrap_or(value);
        self.increment(rise);
    }
}

struct GaugeHandle {
    line: Line,
}

impl metrics::GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.line.send(Value::GaugeDelta(value));
    }

    fn decrement(&self, value: f64) {
        self.line.send(Value::GaugeDelta(-value));
    }

    fn set(&self, value: f64) {
        self.line.send(Value::Gauge(value));
    }
}

struct HistogramHandle {
    line: Line,
    kind: HistogramType,
    /// A [`TimeUnit`], changed by a later `describe_histogram!`.
    unit: AtomicU8,
}

impl metrics::HistogramFn for HistogramHandle {
    fn record(&self, value: f64) {
        let value = match self.kind {
            HistogramType::Timer => {
                Value::Timer(TimeUnit::from_u8(self.unit.load(Relaxed)).millis(value))
            }
            HistogramType::Distribution => Value::Distribution(value),
        };
        self.line.send(value);
    }
}

/// The unit a timer's values are recorded in; anything that is not a time
/// unit (or no unit) is taken to be milliseconds already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum TimeUnit {
    Milliseconds,
    Seconds,
    Microseconds,
    Nanoseconds,
}

impl TimeUnit {
    fn of(unit: Option<Unit>) -> Self {
        match unit {
            Some(Unit::Seconds) => Self::Seconds,
            Some(Unit::Microseconds) => Self::Microseconds,
            Some(Unit::Nanoseconds) => Self::Nanoseconds,
            _ => Self::Milliseconds,
        }
    }

    fn from_u8(code: u8) -> Self {
        [
            Self::Milliseconds,
            Self::Seconds,
            Self::Microseconds,
            Self::Nanoseconds,
        ]
        .into_iter()
        .find(|unit| *unit as u8 == code)
        .unwrap_or(Self::Milliseconds)
    }

    /// `value` in milliseconds. Through a [`Duration`] when it is one, so
    /// `0.0125` seconds is written `12.5` and not `12.500000000000002`; a
    /// negative or non-finite value stays a number, for the client to
    /// refuse and count.
    fn millis(self, value: f64) -> Millis {
        let seconds = match self {
            Self::Milliseconds => return Millis::from(value),
            Self::Seconds => value,
            Self::Microseconds => value / 1e6,
            Self::Nanoseconds => value / 1e9,
        };
        Duration::try_from_secs_f64(seconds).map_or(Millis::from(seconds * 1e3), Millis::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::sink::Spy;

    fn recorder(kind: HistogramType) -> (StatsdRecorder, Spy) {
        let spy = Spy::new();
        let client = Client::builder_with_sink(spy.clone())
            .max_datagram(10_000)
            .build()
            .unwrap();
        (StatsdRecorder::new(client).histograms(kind), spy)
    }

    fn sent(recorder: &StatsdRecorder, spy: &Spy) -> Vec<String> {
        recorder.client().flush();
        spy.take()
            .iter()
            .flat_map(|payload| {
                String::from_utf8_lossy(payload)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn absolute_counters_send_the_rise() {
        let (recorder, spy) = recorder(HistogramType::Timer);
        metrics::with_local_recorder(&recorder, || {
            let total = metrics::counter!("total");
            total.absolute(10);
            total.absolute(15);
            total.absolute(15);
            total.absolute(4);
            metrics::counter!("total").absolute(6);
        });
        assert_eq!(
            sent(&recorder, &spy),
            [
                "total:10|c",
                "total:5|c",
                "total:0|c",
                "total:4|c",
                "total:2|c"
            ]
        );
    }

    #[test]
    fn time_units_become_milliseconds_for_timers_only() {
        for (kind, expected) in [
            (
                HistogramType::Timer,
                [
                    "s:12.5|ms",
                    "us:1.5|ms",
                    "ns:0.002|ms",
                    "ms:7.25|ms",
                    "late:1500|ms",
                ],
            ),
            (
                HistogramType::Distribution,
                [
                    "s:0.0125|d",
                    "us:1500|d",
                    "ns:2000|d",
                    "ms:7.25|d",
                    "late:1.5|d",
                ],
            ),
        ] {
            let (recorder, spy) = recorder(kind);
            metrics::with_local_recorder(&recorder, || {
                let late = metrics::histogram!("late");
                metrics::describe_histogram!("s", Unit::Seconds, "in seconds");
                metrics::describe_histogram!("us", Unit::Microseconds, "in µs");
                metrics::describe_histogram!("ns", Unit::Nanoseconds, "in ns");
                metrics::describe_histogram!("ms", Unit::Milliseconds, "in ms");
                metrics::describe_histogram!("late", Unit::Seconds, "described after use");
                metrics::histogram!("s").record(0.0125);
                metrics::histogram!("us").record(1500.0);
                metrics::histogram!("ns").record(2000.0);
                metrics::histogram!("ms").record(7.25);
                late.record(1.5);
            });
            assert_eq!(sent(&recorder, &spy), expected, "{kind:?}");
        }
    }

    #[test]
    fn descriptions_are_kept_by_name() {
        let (recorder, _spy) = recorder(HistogramType::Timer);
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!("hits", Unit::Count, "requests served");
            metrics::describe_gauge!("depth", "queue depth");
        });
        assert_eq!(
            recorder.description("hits"),
            Some(("requests served".to_owned(), Some(Unit::Count)))
        );
        assert_eq!(
            recorder.description("depth"),
            Some(("queue depth".to_owned(), None))
        );
        assert_eq!(recorder.description("other"), None);
    }

    #[test]
    fn refused_values_are_counted_not_sent() {
        let (recorder, spy) = recorder(HistogramType::Timer);
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!("t").record(-1.0);
            metrics::gauge!("g").set(f64::NAN);
            metrics::describe_histogram!("s", Unit::Seconds, "in seconds");
            metrics::histogram!("s").record(f64::INFINITY);
        });
        assert!(sent(&recorder, &spy).is_empty());
        assert_eq!(recorder.client().stats().invalid, 3);
    }

    #[test]
    fn one_handle_per_key() {
        let (recorder, _spy) = recorder(HistogramType::Timer);
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("a", "k" => "1").increment(1);
            metrics::counter!("a", "k" => "1").increment(1);
            metrics::counter!("a", "k" => "2").increment(1);
        });
        assert_eq!(recorder.inner.counters.read().unwrap().len(), 2);
    }
}
