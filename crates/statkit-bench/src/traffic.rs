//! The lines a run sends: names, values and their statsd text.
//!
//! Names are `<prefix>.<kind tag>.<i>` with `i` in `0..names`, taken in
//! turn per kind, so once a run has sent `names` lines of a kind every name
//! of that kind exists on the server: "100k distinct series" means exactly
//! that. Values come from a seeded generator of our own, so the same settings always
//! produce the same bytes. Each line is reported as an [`Event`] as well,
//! from which [`Truth`](crate::Truth) computes what the server must flush;
//! the text and the event are made together so they cannot disagree.

use crate::rng::Rng;
use crate::{Error, Kind, Mix, Picker};

/// Everything that decides the content of a run.
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// Proportions of the five kinds.
    pub mix: Mix,
    /// Distinct names per kind.
    pub names: u32,
    /// First component of every name; a fresh prefix per run keeps runs
    /// against one server apart.
    pub prefix: String,
    /// Seed of the value generator.
    pub seed: u64,
    /// The `@rate` of sampled counters, in `(0, 1]`.
    pub sample_rate: f64,
    /// Counter increments are drawn from `1..=counter_max`.
    pub counter_max: u32,
    /// Timer values are drawn from `0.0..timer_max` in steps of 0.1 ms.
    pub timer_max: u32,
    /// Percentage of gauge lines sent as `+d`/`-d` deltas.
    pub gauge_delta_pct: u32,
    /// Set members are drawn from `0..set_range`.
    pub set_range: u32,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            mix: Mix::standard(),
            names: 1000,
            prefix: "bench".into(),
            seed: 1,
            sample_rate: 0.1,
            counter_max: 1,
            timer_max: 1000,
            gauge_delta_pct: 0,
            set_range: 100,
        }
    }
}

impl TrafficConfig {
    /// Checks every setting; [`Traffic::new`] calls this.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |what: String| Err(Error::Config(what));
        if self.names == 0 {
            return bad("names per kind must be at least 1".into());
        }
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return bad(format!("sample rate {} is not in (0, 1]", self.sample_rate));
        }
        if self.counter_max == 0 || self.timer_max == 0 || self.set_range == 0 {
            return bad("counter max, timer max and set range must be at least 1".into());
        }
        if self.gauge_delta_pct > 100 {
            return bad(format!(
                "gauge delta percentage {} is over 100",
                self.gauge_delta_pct
            ));
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        if self.prefix.is_empty() || !self.prefix.chars().all(valid) {
            return bad(format!(
                "prefix {:?} must be non-empty and use only letters, digits, '_', '-', '.' \
                 (servers rewrite other characters, and the checker would not find the names)",
                self.prefix
            ));
        }
        Ok(())
    }
}

/// One line that was generated, as the truth needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The kind of line.
    pub kind: Kind,
    /// Index of the name within its kind (`0..names`).
    pub name: u32,
    /// Counter increment, sampled count (always 1), timer value in tenths of
    /// a millisecond, gauge value (or delta), or set member.
    pub value: i64,
    /// For gauges: `value` is a signed delta (`+d`/`-d`), not a new value.
    pub delta: bool,
}

/// An endless, deterministic stream of statsd lines.
#[derive(Debug)]
pub struct Traffic {
    config: TrafficConfig,
    picker: Picker,
    rng: Rng,
    next_name: [u32; 5],
    rate_suffix: Vec<u8>,
}

impl Traffic {
    /// A stream for `config`, after validating it.
    pub fn new(config: TrafficConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            picker: config.mix.picker(),
            rng: Rng::new(config.seed),
            next_name: [0; 5],
            rate_suffix: format!("|c|@{}", config.sample_rate).into_bytes(),
            config,
        })
    }

    /// The settings this stream was made with.
    pub fn config(&self) -> &TrafficConfig {
        &self.config
    }

    /// Appends the next line (without a newline) to `out` and describes it.
    pub fn next_line(&mut self, out: &mut Vec<u8>) -> Event {
        let kind = self.picker.next_kind();
        let slot = &mut self.next_name[kind.index()];
        let name = *slot;
        *slot = if name + 1 == self.config.names {
            0
        } else {
            name + 1
        };

        out.extend_from_slice(self.config.prefix.as_bytes());
        out.push(b'.');
        out.extend_from_slice(kind.tag().as_bytes());
        out.push(b'.');
        push_u64(out, u64::from(name));
        out.push(b':');

        let mut event = Event {
            kind,
            name,
            value: 0,
            delta: false,
        };
        match kind {
            Kind::Counter => {
                event.value = 1 + self.below(self.config.counter_max);
                push_u64(out, event.value as u64);
                out.extend_from_slice(b"|c");
            }
            Kind::Sampled => {
                event.value = 1;
                out.push(b'1');
                out.extend_from_slice(&self.rate_suffix);
            }
            Kind::Timer => {
                event.value = self.below(self.config.timer_max.saturating_mul(10));
                push_u64(out, (event.value / 10) as u64);
                out.push(b'.');
                out.push(b'0' + (event.value % 10) as u8);
                out.extend_from_slice(b"|ms");
            }
            Kind::Gauge => {
                if self.below(100) < i64::from(self.config.gauge_delta_pct) {
                    let size = 1 + self.below(10);
                    event.delta = true;
                    event.value = if self.below(2) == 0 { size } else { -size };
                    out.push(if event.value > 0 { b'+' } else { b'-' });
                    push_u64(out, size as u64);
                } else {
                    event.value = self.below(1000);
                    push_u64(out, event.value as u64);
                }
                out.extend_from_slice(b"|g");
            }
            Kind::Set => {
                event.value = self.below(self.config.set_range);
                push_u64(out, event.value as u64);
                out.extend_from_slice(b"|s");
            }
        }
        event
    }

    fn below(&mut self, bound: u32) -> i64 {
        self.rng.below(u64::from(bound)) as i64
    }
}

/// Decimal digits of `n`, without going through `fmt` (this runs once or
/// twice per line, millions of times a second).
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(config: TrafficConfig, n: usize) -> Vec<(String, Event)> {
        let mut traffic = Traffic::new(config).unwrap();
        (0..n)
            .map(|_| {
                let mut buf = Vec::new();
                let event = traffic.next_line(&mut buf);
                (String::from_utf8(buf).unwrap(), event)
            })
            .collect()
    }

    #[test]
    fn formats_every_kind() {
        let config = TrafficConfig {
            names: 3,
            prefix: "t".into(),
            ..TrafficConfig::default()
        };
        let got = lines(config, 100);
        let shapes: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).take(7).collect();
        assert_eq!(shapes[0], "t.c.0:1|c");
        assert!(
            shapes[1].starts_with("t.ms.0:") && shapes[1].ends_with("|ms"),
            "{shapes:?}"
        );
        assert_eq!(shapes[2], "t.c.1:1|c");
        assert_eq!(shapes[3], "t.sc.0:1|c|@0.1");
        assert_eq!(shapes[4], "t.c.2:1|c");
        assert!(
            shapes[5].starts_with("t.g.0:") && shapes[5].ends_with("|g"),
            "{shapes:?}"
        );
        assert!(
            shapes[6].starts_with("t.s.0:") && shapes[6].ends_with("|s"),
            "{shapes:?}"
        );
        // With 3 names, the fourth counter wraps around to name 0.
        let counters: Vec<&str> = got
            .iter()
            .filter(|(_, e)| e.kind == Kind::Counter)
            .map(|(l, _)| l.as_str())
            .collect();
        assert_eq!(counters[3], "t.c.0:1|c");
    }

    #[test]
    fn text_and_event_agree() {
        let config = TrafficConfig {
            gauge_delta_pct: 50,
            counter_max: 5,
            ..Default::default()
        };
        for (line, event) in lines(config, 5000) {
            let (name, rest) = line.split_once(':').unwrap();
            assert_eq!(name, format!("bench.{}.{}", event.kind.tag(), event.name));
            let value = rest.split('|').next().unwrap();
            let expected = match event.kind {
                Kind::Timer => format!("{}.{}", event.value / 10, event.value % 10),
                Kind::Gauge if event.delta => format!("{:+}", event.value),
                _ => event.value.to_string(),
            };
            assert_eq!(value, expected, "{line}");
        }
    }

    #[test]
    fn names_are_taken_in_turn() {
        let config = TrafficConfig {
            mix: Mix::counters(),
            names: 4,
            ..Default::default()
        };
        let names: Vec<u32> = lines(config, 10).iter().map(|(_, e)| e.name).collect();
        assert_eq!(names, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = lines(TrafficConfig::default(), 1000);
        let b = lines(TrafficConfig::default(), 1000);
        assert_eq!(a, b);
        let c = lines(
            TrafficConfig {
                seed: 2,
                ..Default::default()
            },
            1000,
        );
        assert_ne!(a, c);
    }

    #[test]
    fn values_stay_in_their_ranges() {
        let config = TrafficConfig {
            counter_max: 3,
            set_range: 7,
            timer_max: 2,
            gauge_delta_pct: 30,
            ..Default::default()
        };
        for (_, e) in lines(config, 20_000) {
            let ok = match e.kind {
                Kind::Counter => (1..=3).contains(&e.value),
                Kind::Sampled => e.value == 1,
                Kind::Timer => (0..20).contains(&e.value),
                Kind::Gauge if e.delta => (1..=10).contains(&e.value.abs()),
                Kind::Gauge => (0..1000).contains(&e.value),
                Kind::Set => (0..7).contains(&e.value),
            };
            assert!(ok, "{e:?}");
        }
    }

    #[test]
    fn rejects_bad_settings() {
        let bad = [
            TrafficConfig {
                names: 0,
                ..Default::default()
            },
            TrafficConfig {
                sample_rate: 0.0,
                ..Default::default()
            },
            TrafficConfig {
                sample_rate: 1.5,
                ..Default::default()
            },
            TrafficConfig {
                set_range: 0,
                ..Default::default()
            },
            TrafficConfig {
                gauge_delta_pct: 101,
                ..Default::default()
            },
            TrafficConfig {
                prefix: "a b".into(),
                ..Default::default()
            },
            TrafficConfig {
                prefix: String::new(),
                ..Default::default()
            },
        ];
        for config in bad {
            assert!(
                matches!(Traffic::new(config.clone()), Err(Error::Config(_))),
                "{config:?}"
            );
        }
    }

    #[test]
    fn push_u64_prints_decimal() {
        for n in [0u64, 7, 10, 999, 1_000_000, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }
}
