//! Graphite plaintext (`path value timestamp\n`) with etsy statsd's names.
//!
//! etsy statsd 0.9 names a flush in one of two layouts. The legacy layout
//! (its default) writes `stats.<key>` and `stats_counts.<key>` for counters
//! and `stats.timers.`, `stats.gauges.`, `stats.sets.` for the rest. The
//! non-legacy layout puts everything under a global prefix with one prefix
//! per kind (`stats.counters.<key>.rate`). Tags stay at the end of the path,
//! after any global suffix (`stats.timers.req.mean;env=prod`).
//!
//! [`Names`] builds the paths; [`Encoder`] writes a whole flush with them.

mod encoder;

use statkit_wire::jsnum;

pub use encoder::{Encoder, Telemetry};

/// The naming options of etsy statsd's Graphite backend, with its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamingOptions {
    /// `graphite.legacyNamespace` (default true).
    pub legacy_namespace: bool,
    /// `graphite.globalPrefix` (default `stats`; ignored by the legacy layout).
    pub global_prefix: String,
    /// `graphite.prefixCounter` (default `counters`; non-legacy only).
    pub prefix_counter: String,
    /// `graphite.prefixTimer` (default `timers`; non-legacy only).
    pub prefix_timer: String,
    /// `graphite.prefixGauge` (default `gauges`; non-legacy only).
    pub prefix_gauge: String,
    /// `graphite.prefixSet` (default `sets`; non-legacy only).
    pub prefix_set: String,
    /// `graphite.globalSuffix` (default none).
    pub global_suffix: Option<String>,
    /// `prefixStats`: where the server's own metrics go (default `statsd`).
    pub prefix_stats: String,
    /// `flush_counts`: also send a counter's raw count (default true).
    pub flush_counts: bool,
    /// Sanitize the name part of each path (not its tags) while writing it.
    /// etsy's backend does this when keys were not sanitized on arrival
    /// (`keyNameSanitize: false`), so paths stay valid either way.
    pub sanitize_names: bool,
}

impl Default for NamingOptions {
    fn default() -> Self {
        Self {
            legacy_namespace: true,
            global_prefix: "stats".into(),
            prefix_counter: "counters".into(),
            prefix_timer: "timers".into(),
            prefix_gauge: "gauges".into(),
            prefix_set: "sets".into(),
            global_suffix: None,
            prefix_stats: "statsd".into(),
            flush_counts: true,
            sanitize_names: false,
        }
    }
}

/// Path builder for one set of [`NamingOptions`]; every prefix is joined
/// once, up front, so naming a series is a few slice copies.
#[derive(Clone, Debug)]
pub struct Names {
    legacy: bool,
    flush_counts: bool,
    sanitize_names: bool,
    counter: Vec<u8>,
    counter_count: Vec<u8>,
    timer: Vec<u8>,
    gauge: Vec<u8>,
    set: Vec<u8>,
    /// `.suffix` or empty.
    suffix: Vec<u8>,
    /// Namespace of the server's own metrics: `stats.statsd.` in both layouts
    /// (etsy's `globalNamespace.concat(prefixStats)`).
    own: Vec<u8>,
    num_stats: Vec<u8>,
}

impl Names {
    pub fn new(options: &NamingOptions) -> Self {
        let join = |parts: &[&str]| -> Vec<u8> {
            parts
                .iter()
                .filter(|p| !p.is_empty())
                .flat_map(|p| [p.as_bytes(), b"."])
                .flatten()
                .copied()
                .collect()
        };
        let o = options;
        let (global, counter, counter_count, timer, gauge, set) = if o.legacy_namespace {
            (
                "stats",
                join(&["stats"]),
                join(&["stats_counts"]),
                join(&["stats", "timers"]),
                join(&["stats", "gauges"]),
                join(&["stats", "sets"]),
            )
        } else {
            let gp = o.global_prefix.as_str();
            let counter = join(&[gp, &o.prefix_counter]);
            (
                gp,
                counter.clone(),
                counter,
                join(&[gp, &o.prefix_timer]),
                join(&[gp, &o.prefix_gauge]),
                join(&[gp, &o.prefix_set]),
            )
        };
        let own = join(&[global, &o.prefix_stats]);
        let num_stats = if o.legacy_namespace {
            join(&[&o.prefix_stats])
        } else {
            own.clone()
        };
        Self {
            legacy: o.legacy_namespace,
            flush_counts: o.flush_counts,
            sanitize_names: o.sanitize_names,
            counter,
            counter_count,
            timer,
            gauge,
            set,
            suffix: o
                .global_suffix
                .as_ref()
                .map(|s| format!(".{s}").into_bytes())
                .unwrap_or_default(),
            own,
            num_stats,
        }
    }

    /// Whether counters also get their raw-count line.
    pub fn flush_counts(&self) -> bool {
        self.flush_counts
    }

    /// The per-second rate of counter `key`.
    pub fn counter_rate(&self, out: &mut Vec<u8>, key: &[u8]) {
        let stat: &[u8] = if self.legacy { b"" } else { b"rate" };
        self.series(out, &self.counter, key, &[stat]);
    }

    /// The raw count of counter `key` over the flush interval.
    pub fn counter_count(&self, out: &mut Vec<u8>, key: &[u8]) {
        let stat: &[u8] = if self.legacy { b"" } else { b"count" };
        self.series(out, &self.counter_count, key, &[stat]);
    }

    /// One statistic of timer `key`: `mean`, `upper_90`, or a histogram bin
    /// given as two parts (`histogram`, `bin_10`).
    pub fn timer(&self, out: &mut Vec<u8>, key: &[u8], stat: &[&[u8]]) {
        self.series(out, &self.timer, key, stat);
    }

    pub fn gauge(&self, out: &mut Vec<u8>, key: &[u8]) {
        self.series(out, &self.gauge, key, &[]);
    }

    pub fn set_count(&self, out: &mut Vec<u8>, key: &[u8]) {
        self.series(out, &self.set, key, &[b"count"]);
    }

    /// `statsd.numStats` (legacy) or `stats.statsd.numStats`.
    pub fn num_stats(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.num_stats);
        out.extend_from_slice(b"numStats");
        out.extend_from_slice(&self.suffix);
    }

    /// One of the server's own statistics: `stats.statsd.<path>`, e.g.
    /// `processing_time` or `graphiteStats.flush_time`.
    pub fn own(&self, out: &mut Vec<u8>, path: &str) {
        out.extend_from_slice(&self.own);
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(&self.suffix);
    }

    /// `namespace` + the key's name + `.stat` parts + suffix + the key's tags.
    fn series(&self, out: &mut Vec<u8>, namespace: &[u8], key: &[u8], stat: &[&[u8]]) {
        let (name, tags) = match key.iter().position(|&b| b == b';') {
            Some(i) => key.split_at(i),
            None => (key, &b""[..]),
        };
        out.extend_from_slice(namespace);
        let start = out.len();
        out.extend_from_slice(name);
        if self.sanitize_names {
            statkit_wire::statsd::sanitize_tail(out, start);
        }
        for part in stat.iter().filter(|p| !p.is_empty()) {
            out.push(b'.');
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.suffix);
        out.extend_from_slice(tags);
    }
}

/// Finishes a line whose path is already in `out`: ` value timestamp\n`.
pub fn push_value(out: &mut Vec<u8>, value: f64, timestamp: u64) {
    out.push(b' ');
    jsnum::push(out, value);
    out.push(b' ');
    push_u64(out, timestamp);
    out.push(b'\n');
}

/// Appends the decimal digits of `n` without going through `fmt`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::{push_value, Names, NamingOptions};

    fn line(f: impl FnOnce(&Names, &mut Vec<u8>), options: &NamingOptions) -> String {
        let names = Names::new(options);
        let mut out = Vec::new();
        f(&names, &mut out);
        push_value(&mut out, 2.5, 1700000000);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn legacy_layout_matches_etsy_defaults() {
        let o = NamingOptions::default();
        assert_eq!(
            line(|n, o| n.counter_rate(o, b"a.b"), &o),
            "stats.a.b 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.counter_count(o, b"a.b"), &o),
            "stats_counts.a.b 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.timer(o, b"t", &[b"upper_90"]), &o),
            "stats.timers.t.upper_90 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.gauge(o, b"g"), &o),
            "stats.gauges.g 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.set_count(o, b"s"), &o),
            "stats.sets.s.count 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.num_stats(o), &o),
            "statsd.numStats 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.own(o, "processing_time"), &o),
            "stats.statsd.processing_time 2.5 1700000000\n"
        );
    }

    #[test]
    fn non_legacy_layout_uses_kind_prefixes() {
        let o = NamingOptions {
            legacy_namespace: false,
            ..Default::default()
        };
        assert_eq!(
            line(|n, o| n.counter_rate(o, b"c"), &o),
            "stats.counters.c.rate 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.counter_count(o, b"c"), &o),
            "stats.counters.c.count 2.5 1700000000\n"
        );
        assert_eq!(
            line(|n, o| n.num_stats(o), &o),
            "stats.statsd.numStats 2.5 1700000000\n"
        );
        let bare = NamingOptions {
            legacy_namespace: false,
            global_prefix: String::new(),
            prefix_gauge: String::new(),
            ..Default::default()
        };
        assert_eq!(line(|n, o| n.gauge(o, b"g"), &bare), "g 2.5 1700000000\n");
        assert_eq!(
            line(|n, o| n.num_stats(o), &bare),
            "statsd.numStats 2.5 1700000000\n"
        );
    }

    #[test]
    fn unsanitized_keys_get_sanitized_names_but_raw_tags() {
        let o = NamingOptions {
            sanitize_names: true,
            ..Default::default()
        };
        assert_eq!(
            line(|n, o| n.gauge(o, b"a/b c;t=x y"), &o),
            "stats.gauges.a-b_c;t=x y 2.5 1700000000\n"
        );
    }

    #[test]
    fn tags_follow_the_suffix() {
        let o = NamingOptions {
            global_suffix: Some("host1".into()),
            ..Default::default()
        };
        assert_eq!(
            line(
                |n, o| n.timer(o, b"req;env=prod", &[b"histogram", b"bin_10"]),
                &o
            ),
            "stats.timers.req.histogram.bin_10.host1;env=prod 2.5 1700000000\n"
        );
    }
}
