//! The checker: what a server flushed, summed over flushes, against the
//! [`Truth`].
//!
//! It reads Graphite plaintext (`path value timestamp`) in etsy statsd's
//! legacy layout, the one statkit and etsy both use by default:
//!
//! | kind | path | summed how |
//! |---|---|---|
//! | counter, sampled counter | `stats_counts.<name>` | added over flushes |
//! | timer | `stats.timers.<name>.count` | added over flushes |
//! | gauge | `stats.gauges.<name>` | the latest flush wins |
//! | set | `stats.sets.<name>.count` | see below |
//!
//! A set's count is its cardinality within one flush, so when a set's lines
//! straddle flushes the true cardinality is only bounded: at least the
//! largest per-flush count, at most their sum. Such sets are judged by those
//! bounds and counted as split. The checker is written apart from statkit's
//! own Graphite code on purpose, so a naming bug there is not mirrored here.

use crate::{Kind, Truth};

/// Relative slack for comparing flushed numbers: servers print floats, and
/// sampled counters are sums of `1/rate` steps.
const TOLERANCE: f64 = 1e-9;

/// The latest value of one gauge, ordered by (timestamp, arrival).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Last {
    timestamp: f64,
    arrival: u64,
    value: f64,
}

/// Per-flush counts of one set.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct SetSeen {
    sum: f64,
    max: f64,
    nonzero_flushes: u32,
}

/// Totals of the flushed series under one name prefix.
#[derive(Clone, Debug)]
pub struct Flushed {
    prefix: Vec<u8>,
    names: u32,
    /// Summed counters, sampled counters and timer counts, by kind index.
    sums: [Vec<Option<f64>>; 3],
    gauges: Vec<Option<Last>>,
    sets: Vec<Option<SetSeen>>,
    lines: u64,
    matched: u64,
    malformed: u64,
    out_of_range: u64,
}

impl Flushed {
    /// Collects series named `<prefix>.<kind tag>.<i>` for `i` in `0..names`.
    pub fn new(prefix: &str, names: u32) -> Self {
        let n = names as usize;
        Self {
            prefix: prefix.as_bytes().to_vec(),
            names,
            sums: [vec![None; n], vec![None; n], vec![None; n]],
            gauges: vec![None; n],
            sets: vec![None; n],
            lines: 0,
            matched: 0,
            malformed: 0,
            out_of_range: 0,
        }
    }

    /// Takes one Graphite line (with or without its newline). Lines for
    /// other series are counted and ignored; malformed ones are counted.
    pub fn ingest(&mut self, line: &[u8]) {
        self.lines += 1;
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let (Some(path), Some(value), timestamp) = (fields.next(), fields.next(), fields.next())
        else {
            self.malformed += 1;
            return;
        };
        let Some((kind, index)) = self.series(path) else {
            return;
        };
        let (Some(value), Some(timestamp)) =
            (parse_f64(value), timestamp.map_or(Some(0.0), parse_f64))
        else {
            self.malformed += 1;
            return;
        };
        let Some(i) = index.filter(|&i| i < self.names).map(|i| i as usize) else {
            self.out_of_range += 1;
            return;
        };
        self.matched += 1;
        match kind {
            Kind::Counter | Kind::Sampled | Kind::Timer => {
                let slot = &mut self.sums[kind.index()][i];
                *slot = Some(slot.unwrap_or(0.0) + value);
            }
            Kind::Gauge => {
                let new = Last {
                    timestamp,
                    arrival: self.lines,
                    value,
                };
                let slot = &mut self.gauges[i];
                let newer = match slot {
                    Some(old) => (old.timestamp, old.arrival) <= (timestamp, new.arrival),
                    None => true,
                };
                if newer {
                    *slot = Some(new);
                }
            }
            Kind::Set => {
                let seen = self.sets[i].get_or_insert_with(SetSeen::default);
                seen.sum += value;
                seen.max = seen.max.max(value);
                if value != 0.0 {
                    seen.nonzero_flushes += 1;
                }
            }
        }
    }

    /// Takes every line of a Graphite payload.
    pub fn ingest_all(&mut self, payload: &[u8]) {
        for line in payload.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            self.ingest(line);
        }
    }

    /// Graphite lines taken, of any series.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Lines that belonged to this prefix's series.
    pub fn matched(&self) -> u64 {
        self.matched
    }

    /// Lines that were not `path value [timestamp]`.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    /// Which of our series `path` names: its kind and name index (`None`
    /// index when the name has our prefix and kind but no valid index).
    fn series(&self, path: &[u8]) -> Option<(Kind, Option<u32>)> {
        let (kinds, name): (&[Kind], &[u8]) = if let Some(n) = path.strip_prefix(b"stats_counts.") {
            (&[Kind::Counter, Kind::Sampled], n)
        } else if let Some(n) = path.strip_prefix(b"stats.timers.") {
            (&[Kind::Timer], n.strip_suffix(b".count")?)
        } else if let Some(n) = path.strip_prefix(b"stats.gauges.") {
            (&[Kind::Gauge], n)
        } else if let Some(n) = path.strip_prefix(b"stats.sets.") {
            (&[Kind::Set], n.strip_suffix(b".count")?)
        } else {
            return None;
        };
        let rest = name.strip_prefix(&self.prefix[..])?.strip_prefix(b".")?;
        let dot = rest.iter().position(|&b| b == b'.')?;
        let (tag, index) = (&rest[..dot], &rest[dot + 1..]);
        let kind = kinds.iter().copied().find(|k| k.tag().as_bytes() == tag)?;
        let index = std::str::from_utf8(index)
            .ok()
            .and_then(|s| s.parse::<u32>().ok());
        Some((kind, index))
    }
}

fn parse_f64(field: &[u8]) -> Option<f64> {
    std::str::from_utf8(field)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOLERANCE * b.abs().max(1.0)
}

/// How one kind fared.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct KindCheck {
    /// Names of this kind that were sent.
    pub names_sent: u64,
    /// Of those, names that appeared in a flush.
    pub names_seen: u64,
    /// Expected total over all names (for gauges: of last values; for sets:
    /// of cardinalities).
    pub expected: f64,
    /// Flushed total over the names that were sent.
    pub received: f64,
    /// Sum over names of what fell short of the expected value (additive
    /// kinds only; an excess on one name never hides a loss on another).
    pub missing: f64,
    /// Names whose flushed value is wrong or absent.
    pub mismatches: u64,
    /// Flushed series of this kind for names that were never sent.
    pub unexpected: u64,
}

/// The verdict on one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckReport {
    /// Per kind, indexed like [`Kind::ALL`].
    pub kinds: [KindCheck; 5],
    /// Sets whose lines straddled flushes, judged by bounds only.
    pub sets_split: u64,
    /// Flushed lines with our prefix and kind but a name index we never use.
    pub out_of_range: u64,
    /// Graphite lines that were not `path value [timestamp]`.
    pub malformed: u64,
    /// Graphite lines received in all.
    pub graphite_lines: u64,
    /// Flushed units per line of each kind ([`Truth::unit`]), to express
    /// losses in lines.
    units: [f64; 5],
}

impl CheckReport {
    /// The result for one kind.
    pub fn kind(&self, kind: Kind) -> &KindCheck {
        &self.kinds[kind.index()]
    }

    /// Percentage of one additive kind's total that never arrived.
    pub fn loss_pct(&self, kind: Kind) -> f64 {
        let k = self.kind(kind);
        if k.expected > 0.0 {
            100.0 * k.missing / k.expected
        } else {
            0.0
        }
    }

    /// Percentage of lines lost, over the kinds whose flushed values add up
    /// (counters, sampled counters, timers), each weighted by its lines.
    pub fn total_loss_pct(&self) -> f64 {
        let (mut missing, mut expected) = (0.0, 0.0);
        for kind in ADDITIVE {
            let k = self.kind(kind);
            let unit = self.units[kind.index()];
            missing += k.missing / unit;
            expected += k.expected / unit;
        }
        if expected > 0.0 {
            100.0 * missing / expected
        } else {
            0.0
        }
    }

    /// Names with a wrong or absent value, over all kinds, plus series that
    /// should not exist.
    pub fn mismatches(&self) -> u64 {
        self.kinds
            .iter()
            .map(|k| k.mismatches + k.unexpected)
            .sum::<u64>()
            + self.out_of_range
    }

    /// Whether every additive total has arrived in full (the sign that the
    /// flush carrying the run's last line has been received).
    pub fn is_complete(&self) -> bool {
        ADDITIVE.iter().all(|&k| self.kind(k).missing == 0.0)
    }
}

const ADDITIVE: [Kind; 3] = [Kind::Counter, Kind::Sampled, Kind::Timer];

/// Compares what was flushed with what was sent.
pub fn check(truth: &Truth, flushed: &Flushed) -> CheckReport {
    let mut report = CheckReport {
        out_of_range: flushed.out_of_range,
        malformed: flushed.malformed,
        graphite_lines: flushed.lines,
        units: Kind::ALL.map(|k| truth.unit(k)),
        ..CheckReport::default()
    };
    let names = truth.names().min(flushed.names);
    for i in 0..names {
        let n = i as usize;
        for kind in Kind::ALL {
            let got = match kind {
                Kind::Counter | Kind::Sampled | Kind::Timer => flushed.sums[kind.index()][n],
                Kind::Gauge => flushed.gauges[n].map(|g| g.value),
                Kind::Set => flushed.sets[n].map(|s| s.sum),
            };
            let k = &mut report.kinds[kind.index()];
            let Some(want) = truth.expected(kind, i) else {
                if got.is_some_and(|v| v != 0.0) {
                    k.unexpected += 1;
                }
                continue;
            };
            k.names_sent += 1;
            k.expected += want;
            k.names_seen += u64::from(got.is_some());
            let got_value = got.unwrap_or(0.0);
            k.received += got_value;
            let ok = match kind {
                Kind::Set => match flushed.sets[n] {
                    Some(seen) if seen.nonzero_flushes > 1 => {
                        report.sets_split += 1;
                        seen.max <= want + TOLERANCE && want <= seen.sum + TOLERANCE
                    }
                    Some(seen) => close(seen.sum, want),
                    None => false,
                },
                _ => got.is_some() && close(got_value, want),
            };
            if !ok {
                k.mismatches += 1;
            }
            if ADDITIVE.contains(&kind) && !close(got_value, want) && got_value < want {
                k.missing += want - got_value;
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn ev(kind: Kind, name: u32, value: i64) -> Event {
        Event {
            kind,
            name,
            value,
            delta: false,
        }
    }

    /// Truth for: counter 0 += 3 (3 lines), counter 1 += 1, sampled 0 x2
    /// (@0.1), timer 0 x3, gauge 0 = 5 then 7, set 0 = {1, 2, 3}.
    fn truth() -> Truth {
        let mut truth = Truth::new(2, 0.1);
        for e in [
            ev(Kind::Counter, 0, 1),
            ev(Kind::Counter, 0, 1),
            ev(Kind::Counter, 0, 1),
            ev(Kind::Counter, 1, 1),
            ev(Kind::Sampled, 0, 1),
            ev(Kind::Sampled, 0, 1),
            ev(Kind::Timer, 0, 10),
            ev(Kind::Timer, 0, 20),
            ev(Kind::Timer, 0, 30),
            ev(Kind::Gauge, 0, 5),
            ev(Kind::Gauge, 0, 7),
            ev(Kind::Set, 0, 1),
            ev(Kind::Set, 0, 2),
            ev(Kind::Set, 0, 3),
        ] {
            truth.record(&e);
        }
        truth
    }

    /// Two flushes as etsy statsd 0.9 writes them (legacy names), with its
    /// own metrics and the extra series of each kind mixed in.
    const TWO_FLUSHES: &str = "\
stats.t.c.0 0.5 1000
stats_counts.t.c.0 2 1000
stats_counts.t.c.1 1 1000
stats_counts.t.sc.0 10 1000
stats.timers.t.ms.0.count 2 1000
stats.timers.t.ms.0.count_ps 1 1000
stats.timers.t.ms.0.count_90 2 1000
stats.gauges.t.g.0 5 1000
stats.sets.t.s.0.count 3 1000
statsd.numStats 6 1000
stats_counts.t.c.0 1 1002
stats_counts.t.c.1 0 1002
stats_counts.t.sc.0 10 1002
stats.timers.t.ms.0.count 1 1002
stats.gauges.t.g.0 7 1002
stats.sets.t.s.0.count 0 1002
stats_counts.other.c.0 99 1002
";

    #[test]
    fn exact_flushes_pass() {
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest_all(TWO_FLUSHES.as_bytes());
        let report = check(&truth(), &flushed);
        assert_eq!(report.mismatches(), 0, "{report:#?}");
        assert_eq!(report.total_loss_pct(), 0.0);
        assert!(report.is_complete());
        assert_eq!(
            *report.kind(Kind::Counter),
            KindCheck {
                names_sent: 2,
                names_seen: 2,
                expected: 4.0,
                received: 4.0,
                missing: 0.0,
                mismatches: 0,
                unexpected: 0
            }
        );
        assert_eq!(report.kind(Kind::Sampled).received, 20.0);
        assert_eq!(report.kind(Kind::Timer).received, 3.0);
        assert_eq!(report.kind(Kind::Gauge).received, 7.0);
        assert_eq!(report.kind(Kind::Set).received, 3.0);
        assert_eq!(report.sets_split, 0);
        assert_eq!(flushed.lines(), 17);
        assert_eq!(flushed.matched(), 12);
        assert_eq!(report.graphite_lines, 17);
    }

    #[test]
    fn lost_lines_show_as_loss_and_mismatches() {
        // The second flush never arrived: one counter increment, one sampled
        // line and one timer sample are missing, and the gauge is stale.
        let first = TWO_FLUSHES
            .split("stats_counts.t.c.0 1 1002")
            .next()
            .unwrap();
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest_all(first.as_bytes());
        let report = check(&truth(), &flushed);
        assert_eq!(report.kind(Kind::Counter).missing, 1.0);
        assert_eq!(report.kind(Kind::Sampled).missing, 10.0);
        assert_eq!(report.kind(Kind::Timer).missing, 1.0);
        assert_eq!(report.loss_pct(Kind::Counter), 25.0);
        assert_eq!(report.loss_pct(Kind::Sampled), 50.0);
        // 3 lines lost out of 4 + 2 + 3 additive lines.
        assert!((report.total_loss_pct() - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(report.kind(Kind::Gauge).mismatches, 1);
        assert_eq!(report.mismatches(), 4);
        assert!(!report.is_complete());
    }

    #[test]
    fn excess_is_a_mismatch_but_not_negative_loss() {
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest_all(TWO_FLUSHES.as_bytes());
        flushed.ingest(b"stats_counts.t.c.0 5 1004");
        let report = check(&truth(), &flushed);
        assert_eq!(report.kind(Kind::Counter).mismatches, 1);
        assert_eq!(report.kind(Kind::Counter).missing, 0.0);
        assert_eq!(report.total_loss_pct(), 0.0);
    }

    #[test]
    fn split_sets_are_judged_by_bounds() {
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest_all(TWO_FLUSHES.as_bytes());
        // Members 2 and 3 again in a later flush: per-flush counts 3 and 2
        // bound the true 3 from both sides.
        flushed.ingest(b"stats.sets.t.s.0.count 2 1004");
        let report = check(&truth(), &flushed);
        assert_eq!(report.sets_split, 1);
        assert_eq!(report.kind(Kind::Set).mismatches, 0);
        // A flush claiming 4 members of a 3-member set is wrong.
        flushed.ingest(b"stats.sets.t.s.0.count 4 1006");
        assert_eq!(check(&truth(), &flushed).kind(Kind::Set).mismatches, 1);
    }

    #[test]
    fn missing_names_and_strangers_are_counted() {
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest(b"stats_counts.t.c.0 3 1000");
        flushed.ingest(b"stats_counts.t.c.7 1 1000");
        flushed.ingest(b"stats_counts.t.c.x 1 1000");
        flushed.ingest(b"stats.gauges.t.g.1 4 1000");
        flushed.ingest(b"stats_counts.t.c.1 not-a-number 1000");
        flushed.ingest(b"garbage");
        let report = check(&truth(), &flushed);
        assert_eq!(report.out_of_range, 2);
        assert_eq!(report.malformed, 2);
        assert_eq!(report.kind(Kind::Gauge).unexpected, 1);
        assert_eq!(report.kind(Kind::Counter).names_seen, 1);
        assert_eq!(report.kind(Kind::Counter).mismatches, 1);
        assert_eq!(report.kind(Kind::Timer).mismatches, 1);
    }

    #[test]
    fn latest_gauge_wins_by_timestamp_then_arrival() {
        let mut flushed = Flushed::new("t", 2);
        flushed.ingest(b"stats.gauges.t.g.0 7 1002");
        flushed.ingest(b"stats.gauges.t.g.0 5 1000");
        assert_eq!(flushed.gauges[0].map(|g| g.value), Some(7.0));
        flushed.ingest(b"stats.gauges.t.g.0 9 1002\r\n");
        assert_eq!(flushed.gauges[0].map(|g| g.value), Some(9.0));
    }

    #[test]
    fn timer_series_other_than_count_are_ignored() {
        let mut flushed = Flushed::new("t", 2);
        for line in [
            "stats.timers.t.ms.0.upper_90 3",
            "stats.timers.t.ms.0.count_ps 3",
        ] {
            flushed.ingest(line.as_bytes());
        }
        assert_eq!(flushed.matched(), 0);
        assert_eq!(flushed.sums[Kind::Timer.index()][0], None);
    }
}
