//! What one receiver accumulates between flushes.
//!
//! Each receiving thread owns a [`Table`] and feeds it datagrams; nothing
//! in here is shared, so the hot path takes no lock and, for a key seen
//! before, allocates nothing. At flush the [`crate::Aggregator`] drains
//! every table into its own state.

use statkit_wire::statsd::{self, MetricType, ParseError, Sample, Value, Visitor};

use crate::names::NameMap;
use crate::timer::{SampleWeighting, TimerValues};

/// Settings a table needs on its hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableOptions {
    /// Apply etsy's key sanitizing (`keyNameSanitize`, default true).
    pub sanitize_keys: bool,
    pub weighting: SampleWeighting,
    /// Exact values kept per timer series per interval before sketching.
    pub timer_exact_limit: usize,
    /// Series per kind a table accepts before refusing new names.
    pub max_series: usize,
}

impl Default for TableOptions {
    fn default() -> Self {
        Self {
            sanitize_keys: true,
            weighting: SampleWeighting::Etsy,
            timer_exact_limit: 65_536,
            max_series: 1_000_000,
        }
    }
}

/// A gauge change seen by one table: an absolute value (if any) and the
/// signed deltas after it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct GaugeChange {
    pub absolute: Option<f64>,
    pub delta: f64,
}

impl GaugeChange {
    fn apply(&mut self, value: Value<'_>) {
        match value {
            Value::Number(v) => {
                *self = Self {
                    absolute: Some(v),
                    delta: 0.0,
                }
            }
            // After an absolute value, add deltas to it directly so the
            // floating-point order is etsy's: ((g + d1) + d2).
            Value::Delta(d) => match &mut self.absolute {
                Some(absolute) => *absolute += d,
                None => self.delta += d,
            },
            Value::Member(_) => {}
        }
    }

    /// The gauge after this change, given its value before (if any).
    pub fn resolve(&self, before: Option<f64>) -> f64 {
        match self.absolute {
            Some(absolute) => absolute + self.delta,
            None => before.unwrap_or(0.0) + self.delta,
        }
    }
}

/// Counts of what a table received, drained at each flush.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Datagrams (or TCP reads) handed to the table: etsy's `packets_received`.
    pub packets: u64,
    /// Non-empty lines: etsy's `metrics_received`.
    pub lines: u64,
    /// Rejected values: etsy's `bad_lines_seen`.
    pub bad_lines: u64,
    pub events: u64,
    pub service_checks: u64,
    /// Samples dropped because their series would pass `max_series`.
    pub refused_series: u64,
    /// Datagrams longer than the receive buffer (their last line is lost).
    pub oversized: u64,
}

impl IngestCounts {
    pub(crate) fn add(&mut self, other: &IngestCounts) {
        self.packets += other.packets;
        self.lines += other.lines;
        self.bad_lines += other.bad_lines;
        self.events += other.events;
        self.service_checks += other.service_checks;
        self.refused_series += other.refused_series;
        self.oversized += other.oversized;
    }
}

/// One receiver's accumulation since the last flush.
#[derive(Debug, Default)]
pub struct Table {
    options: TableOptions,
    pub(crate) counters: NameMap<f64>,
    pub(crate) gauges: NameMap<GaugeChange>,
    pub(crate) timers: NameMap<TimerValues>,
    pub(crate) sets: NameMap<NameMap<()>>,
    pub(crate) counts: IngestCounts,
    /// Reused buffer for keys that need sanitizing or carry tags.
    scratch: Vec<u8>,
    last_error: Option<ParseError>,
}

impl Table {
    pub fn new(options: TableOptions) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }

    /// Parses and aggregates one datagram (or one chunk of whole TCP lines).
    pub fn ingest(&mut self, datagram: &[u8]) {
        self.counts.packets += 1;
        statsd::parse_datagram(datagram, self);
    }

    /// Counts a datagram the socket truncated.
    pub fn note_oversized(&mut self) {
        self.counts.oversized += 1;
    }

    /// The most recent parse error, for rate-limited logging by the caller.
    pub fn take_last_error(&mut self) -> Option<ParseError> {
        self.last_error.take()
    }

    /// Aggregates one parsed sample.
    pub fn record(&mut self, sample: &Sample<'_>) {
        let o = self.options;
        let key =
            statsd::canonical_key(sample.name, sample.tags, o.sanitize_keys, &mut self.scratch);
        let accepted = match sample.metric_type {
            MetricType::Counter => self
                .counters
                .get_or_insert_with(key, o.max_series, || 0.0)
                .map(|c| {
                    if let Value::Number(v) = sample.value {
                        *c += v * (1.0 / sample.sample_rate);
                    }
                }),
            MetricType::Gauge => self
                .gauges
                .get_or_insert_with(key, o.max_series, GaugeChange::default)
                .map(|g| g.apply(sample.value)),
            MetricType::Set => self
                .sets
                .get_or_insert_with(key, o.max_series, NameMap::default)
                .map(|set| {
                    if let Value::Member(member) = sample.value {
                        set.get_or_insert_with(member, usize::MAX, || ());
                    }
                }),
            MetricType::Timer | MetricType::Histogram | MetricType::Distribution => self
                .timers
                .get_or_insert_with(key, o.max_series, TimerValues::default)
                .map(|t| {
                    if let Value::Number(v) | Value::Delta(v) = sample.value {
                        t.record(v, sample.sample_rate, o.weighting, o.timer_exact_limit);
                    }
                }),
        };
        if accepted.is_none() {
            self.counts.refused_series += 1;
        }
    }

    /// Whether nothing arrived since the last drain.
    pub fn is_idle(&self) -> bool {
        self.counts == IngestCounts::default()
    }

    pub fn options(&self) -> TableOptions {
        self.options
    }
}

impl<'a> Visitor<'a> for Table {
    fn sample(&mut self, sample: Sample<'a>) {
        self.record(&sample);
    }

    fn invalid(&mut self, _line: &'a [u8], error: ParseError) {
        self.counts.bad_lines += 1;
        self.last_error = Some(error);
    }

    fn line(&mut self) {
        self.counts.lines += 1;
    }

    fn event(&mut self) {
        self.counts.events += 1;
    }

    fn service_check(&mut self) {
        self.counts.service_checks += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{Table, TableOptions};

    #[test]
    fn aggregates_each_kind() {
        let mut t = Table::new(TableOptions::default());
        t.ingest(b"c:1|c\nc:2|c|@0.5\ng:5|g\ng:+2|g\nt:10|ms\nt:20|ms|@0.5\ns:a|s\ns:b|s\ns:a|s\n");
        assert_eq!(t.counters.get(b"c"), Some(&5.0));
        assert_eq!(t.gauges.get(b"g").unwrap().resolve(Some(100.0)), 7.0);
        let timer = t.timers.get(b"t").unwrap();
        assert_eq!((timer.values(), timer.count()), (&[10.0, 20.0][..], 3.0));
        assert_eq!(t.sets.get(b"s").unwrap().len(), 2);
        assert_eq!(
            (t.counts.packets, t.counts.lines, t.counts.bad_lines),
            (1, 9, 0)
        );
    }

    #[test]
    fn gauge_deltas_without_an_absolute_apply_to_the_previous_value() {
        let mut t = Table::new(TableOptions::default());
        t.ingest(b"g:+3|g\ng:-1|g");
        assert_eq!(t.gauges.get(b"g").unwrap().resolve(Some(10.0)), 12.0);
        assert_eq!(t.gauges.get(b"g").unwrap().resolve(None), 2.0);
    }

    #[test]
    fn counts_bad_lines_events_and_service_checks() {
        let mut t = Table::new(TableOptions::default());
        t.ingest(b"nope\nx:abc|c\n_e{1,1}:a|b\n_sc|svc|0\n\n");
        assert_eq!(
            (
                t.counts.lines,
                t.counts.bad_lines,
                t.counts.events,
                t.counts.service_checks
            ),
            (4, 2, 1, 1)
        );
    }

    #[test]
    fn tags_and_sanitizing_shape_the_key() {
        let mut t = Table::new(TableOptions::default());
        t.ingest(b"we ird/key!:1|c|#env:prod");
        assert_eq!(t.counters.get(b"we_ird-key;env=prod"), Some(&1.0));
    }

    #[test]
    fn refuses_series_past_the_limit() {
        let mut t = Table::new(TableOptions {
            max_series: 2,
            ..TableOptions::default()
        });
        t.ingest(b"a:1|c\nb:1|c\nc:1|c\na:1|c");
        assert_eq!(t.counters.len(), 2);
        assert_eq!(t.counts.refused_series, 1);
        assert_eq!(t.counters.get(b"a"), Some(&2.0));
    }
}
