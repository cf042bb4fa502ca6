//! A flush as etsy statsd 0.9's Graphite backend writes it, line for line.
//!
//! Order and names follow etsy: counters (rate, then count), timers (each
//! threshold's `count_N mean_N upper_N|lower_N sum_N sum_squares_N`, then
//! `std upper lower count count_ps sum sum_squares mean median`, then
//! histogram bins), gauges, sets, then `numStats`, `calculationtime`,
//! `processing_time`, statkit's own extra metrics, and last the sink's own
//! `graphiteStats` (as etsy adds them when the connection opens). Numbers
//! are printed as JavaScript prints them.

use std::time::{Duration, Instant};

use statkit_agg::{Snapshot, TimerSummary};

use super::{push_value, Names};

/// What etsy's backend reports about its own previous send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Telemetry {
    /// Unix seconds of the last failed send, 0 if none.
    pub last_exception: u64,
    /// Unix seconds of the last successful send (the start time before one).
    pub last_flush: u64,
    /// Milliseconds the last send took.
    pub flush_time: u64,
    /// Bytes of the last payload.
    pub flush_length: u64,
    /// Flushes this sink's queue dropped since its last successful send
    /// (statkit's addition: reported by the sink, so the count survives the
    /// very drops it counts).
    pub dropped_flushes: u64,
}

/// Writes a flush a piece at a time, so a flush of a million series never
/// needs its whole text in memory: each [`Encoder::fill`] appends whole
/// lines until the buffer reaches a size, and remembers where it stopped.
#[derive(Debug)]
pub struct Encoder<'a> {
    snapshot: &'a Snapshot,
    names: &'a Names,
    telemetry: Telemetry,
    cursor: Cursor,
    /// Time spent encoding so far: etsy's `calculationtime`.
    spent: Duration,
}

/// Where the next `fill` resumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    Counter(usize),
    Timer(usize),
    Gauge(usize),
    Set(usize),
    Trailer,
    Done,
}

impl<'a> Encoder<'a> {
    pub fn new(snapshot: &'a Snapshot, names: &'a Names, telemetry: Telemetry) -> Self {
        Self {
            snapshot,
            names,
            telemetry,
            cursor: Cursor::Counter(0),
            spent: Duration::ZERO,
        }
    }

    /// Appends lines to `out` until it holds at least `limit` bytes or the
    /// flush is fully written. Returns false once nothing is left.
    pub fn fill(&mut self, out: &mut Vec<u8>, limit: usize) -> bool {
        let started = Instant::now();
        let (s, names, ts) = (self.snapshot, self.names, self.snapshot.timestamp);
        while out.len() < limit {
            self.cursor = match self.cursor {
                Cursor::Counter(i) => match s.counter(i) {
                    Some((key, counter)) => {
                        names.counter_rate(out, key);
                        push_value(out, counter.rate, ts);
                        if names.flush_counts() {
                            names.counter_count(out, key);
                            push_value(out, counter.count, ts);
                        }
                        Cursor::Counter(i + 1)
                    }
                    None => Cursor::Timer(0),
                },
                Cursor::Timer(i) => match s.timer(i) {
                    Some((key, timer)) => {
                        timer_lines(s, names, key, timer, out);
                        Cursor::Timer(i + 1)
                    }
                    None => Cursor::Gauge(0),
                },
                Cursor::Gauge(i) => match s.gauge(i) {
                    Some((key, value)) => {
                        names.gauge(out, key);
                        push_value(out, value, ts);
                        Cursor::Gauge(i + 1)
                    }
                    None => Cursor::Set(0),
                },
                Cursor::Set(i) => match s.set(i) {
                    Some((key, members)) => {
                        names.set_count(out, key);
                        push_value(out, members as f64, ts);
                        Cursor::Set(i + 1)
                    }
                    None => Cursor::Trailer,
                },
                Cursor::Trailer => {
                    self.trailer(out, self.spent + started.elapsed());
                    Cursor::Done
                }
                Cursor::Done => break,
            };
        }
        self.spent += started.elapsed();
        self.cursor != Cursor::Done || !out.is_empty()
    }

    /// The lines after the series: counts, timings, own metrics, and the
    /// sink's telemetry, `flush_length` last as in etsy.
    fn trailer(&self, out: &mut Vec<u8>, spent: Duration) {
        let (s, names, ts, t) = (
            self.snapshot,
            self.names,
            self.snapshot.timestamp,
            &self.telemetry,
        );
        names.num_stats(out);
        push_value(out, s.num_stats as f64, ts);
        names.own(out, "graphiteStats.calculationtime");
        push_value(out, spent.as_millis() as f64, ts);
        names.own(out, "processing_time");
        push_value(out, s.processing_time_ms as f64, ts);
        for (name, value) in &s.own {
            names.own(out, name);
            push_value(out, *value, ts);
        }
        for (name, value) in [
            ("graphiteStats.dropped_flushes", t.dropped_flushes),
            ("graphiteStats.last_exception", t.last_exception),
            ("graphiteStats.last_flush", t.last_flush),
            ("graphiteStats.flush_time", t.flush_time),
            ("graphiteStats.flush_length", t.flush_length),
        ] {
            names.own(out, name);
            push_value(out, value as f64, ts);
        }
    }
}

fn timer_lines(
    snapshot: &Snapshot,
    names: &Names,
    key: &[u8],
    timer: &TimerSummary,
    out: &mut Vec<u8>,
) {
    let ts = snapshot.timestamp;
    let mut line = |stat: &[&[u8]], value: f64| {
        names.timer(out, key, stat);
        push_value(out, value, ts);
    };
    let Some(stats) = &timer.stats else {
        line(&[b"count"], timer.count);
        line(&[b"count_ps"], timer.count_ps);
        return;
    };
    let mut stat = Vec::with_capacity(32);
    for threshold in &stats.thresholds {
        let percentile = &snapshot.percentiles[threshold.percentile];
        let bound = if percentile.pct() > 0.0 {
            "upper_"
        } else {
            "lower_"
        };
        for (prefix, value) in [
            ("count_", threshold.count),
            ("mean_", threshold.mean),
            (bound, threshold.bound),
            ("sum_", threshold.sum),
            ("sum_squares_", threshold.sum_squares),
        ] {
            stat.clear();
            stat.extend_from_slice(prefix.as_bytes());
            stat.extend_from_slice(percentile.label().as_bytes());
            line(&[&stat], value);
        }
    }
    for (name, value) in [
        ("std", stats.std),
        ("upper", stats.upper),
        ("lower", stats.lower),
        ("count", timer.count),
        ("count_ps", timer.count_ps),
        ("sum", stats.sum),
        ("sum_squares", stats.sum_squares),
        ("mean", stats.mean),
        ("median", stats.median),
    ] {
        line(&[name.as_bytes()], value);
    }
    for (bin, count) in &stats.histogram {
        line(&[b"histogram", bin.as_bytes()], *count);
    }
}

#[cfg(test)]
mod tests {
    use super::{Encoder, Telemetry};
    use crate::graphite::{Names, NamingOptions};
    use statkit_agg::{
        Aggregator, Bin, HistogramSetting, Options, Percentile, Table, TableOptions,
    };

    fn flush(lines: &str, options: Options) -> String {
        let mut agg = Aggregator::new(options);
        let mut table = Table::new(TableOptions::default());
        table.ingest(lines.as_bytes());
        agg.absorb(&mut table);
        let snapshot = agg.flush(1_700_000_000);
        let mut out = Vec::new();
        let telemetry = Telemetry {
            last_flush: 1_699_999_990,
            ..Telemetry::default()
        };
        let names = Names::new(&NamingOptions::default());
        let mut encoder = Encoder::new(&snapshot, &names, telemetry);
        // A small limit exercises resuming between pieces.
        let mut piece = Vec::new();
        while encoder.fill(&mut piece, 100) {
            out.append(&mut piece);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn writes_etsy_legacy_lines_in_etsy_order() {
        let out = flush(
            "c:3|c\ng:1.5|g\ns:a|s\nt:10|ms\nt:20|ms",
            Options {
                interval_ms: 2000.0,
                ..Options::default()
            },
        );
        let expected = "\
stats.statsd.bad_lines_seen 0 1700000000
stats_counts.statsd.bad_lines_seen 0 1700000000
stats.statsd.packets_received 0.5 1700000000
stats_counts.statsd.packets_received 1 1700000000
stats.statsd.metrics_received 2.5 1700000000
stats_counts.statsd.metrics_received 5 1700000000
stats.c 1.5 1700000000
stats_counts.c 3 1700000000
stats.timers.t.count_90 2 1700000000
stats.timers.t.mean_90 15 1700000000
stats.timers.t.upper_90 20 1700000000
stats.timers.t.sum_90 30 1700000000
stats.timers.t.sum_squares_90 500 1700000000
stats.timers.t.std 5 1700000000
stats.timers.t.upper 20 1700000000
stats.timers.t.lower 10 1700000000
stats.timers.t.count 2 1700000000
stats.timers.t.count_ps 1 1700000000
stats.timers.t.sum 30 1700000000
stats.timers.t.sum_squares 500 1700000000
stats.timers.t.mean 15 1700000000
stats.timers.t.median 15 1700000000
stats.gauges.g 1.5 1700000000
stats.sets.s.count 1 1700000000
statsd.numStats 7 1700000000
";
        assert!(out.starts_with(expected), "{out}");
        let tail: Vec<&str> = out[expected.len()..]
            .lines()
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(
            tail[..2],
            [
                "stats.statsd.graphiteStats.calculationtime",
                "stats.statsd.processing_time"
            ]
        );
        assert!(out.ends_with(
            "stats.statsd.graphiteStats.dropped_flushes 0 1700000000\n\
             stats.statsd.graphiteStats.last_exception 0 1700000000\n\
             stats.statsd.graphiteStats.last_flush 1699999990 1700000000\n\
             stats.statsd.graphiteStats.flush_time 0 1700000000\n\
             stats.statsd.graphiteStats.flush_length 0 1700000000\n"
        ));
    }

    #[test]
    fn negative_thresholds_and_bins_use_etsy_names() {
        let options = Options {
            percentiles: [Percentile::new(-50.0).unwrap()].into(),
            histograms: vec![HistogramSetting {
                metric: "t".into(),
                bins: vec![Bin::Below(15.0), Bin::Infinity],
            }],
            ..Options::default()
        };
        let out = flush("t:10|ms\nt:20|ms", options);
        assert!(out.contains("stats.timers.t.lower_top50 20 "), "{out}");
        assert!(out.contains("stats.timers.t.histogram.bin_15 1 "), "{out}");
        assert!(out.contains("stats.timers.t.histogram.bin_inf 1 "), "{out}");
    }
}
