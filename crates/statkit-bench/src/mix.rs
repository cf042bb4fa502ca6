//! What the traffic is made of: the five statsd kinds a run sends and their
//! proportions.
//!
//! Kinds are interleaved by smooth weighted round-robin rather than drawn at
//! random, so that every window of `sum(weights)` lines holds each kind
//! exactly in proportion. The per-kind counts a run reports are then exact,
//! and a short run has the same shape as a long one.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// One kind of statsd line the load generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `name:V|c`, a plain counter increment.
    Counter,
    /// `name:1|c|@R`, a counter sent with a sample rate; the server scales
    /// it by `1/R`.
    Sampled,
    /// `name:12.3|ms`, a timer sample.
    Timer,
    /// `name:42|g` (or `+d` / `-d` as a delta), a gauge.
    Gauge,
    /// `name:V|s`, a set member.
    Set,
}

impl Kind {
    /// Every kind, in the order used for arrays indexed by [`Kind::index`].
    pub const ALL: [Kind; 5] = [
        Kind::Counter,
        Kind::Sampled,
        Kind::Timer,
        Kind::Gauge,
        Kind::Set,
    ];

    /// Short tag used in mixes, in generated names and in report keys.
    pub fn tag(self) -> &'static str {
        match self {
            Kind::Counter => "c",
            Kind::Sampled => "sc",
            Kind::Timer => "ms",
            Kind::Gauge => "g",
            Kind::Set => "s",
        }
    }

    /// Position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        match self {
            Kind::Counter => 0,
            Kind::Sampled => 1,
            Kind::Timer => 2,
            Kind::Gauge => 3,
            Kind::Set => 4,
        }
    }

    /// The kind whose [`Kind::tag`] is `tag`.
    pub fn from_tag(tag: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == tag)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// Relative weights of the five kinds, e.g. `c=50,sc=10,ms=20,g=10,s=10`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 5],
}

impl Mix {
    /// Counters only.
    pub fn counters() -> Self {
        Self {
            weights: [1, 0, 0, 0, 0],
        }
    }

    /// The mixed load of the project's benchmark: half counters, the rest
    /// spread so that every aggregation path of a server is exercised.
    pub fn standard() -> Self {
        Self {
            weights: [50, 10, 20, 10, 10],
        }
    }

    /// A mix with the given weights, indexed like [`Kind::ALL`].
    pub fn from_weights(weights: [u32; 5]) -> Result<Self, Error> {
        if weights.iter().map(|&w| u64::from(w)).sum::<u64>() == 0 {
            return Err(Error::Mix {
                mix: format!("{weights:?}"),
                reason: "all weights are 0".into(),
            });
        }
        Ok(Self { weights })
    }

    /// The weight of one kind.
    pub fn weight(&self, kind: Kind) -> u32 {
        self.weights[kind.index()]
    }

    /// The kinds with a non-zero weight.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        Kind::ALL.into_iter().filter(|&k| self.weight(k) > 0)
    }

    /// A fresh interleaving of this mix.
    pub fn picker(&self) -> Picker {
        Picker {
            weights: self.weights.map(i64::from),
            current: [0; 5],
            total: self.total(),
        }
    }

    fn total(&self) -> i64 {
        self.weights.iter().map(|&w| i64::from(w)).sum()
    }
}

impl FromStr for Mix {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |reason: String| Error::Mix {
            mix: text.to_owned(),
            reason,
        };
        let mut weights = [0u32; 5];
        let mut given = [false; 5];
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (tag, weight) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("{part:?} has no '='")))?;
            let kind = Kind::from_tag(tag.trim())
                .ok_or_else(|| bad(format!("unknown kind {tag:?} (use c, sc, ms, g, s)")))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| bad(format!("weight {weight:?} is not a whole number")))?;
            if given[kind.index()] {
                return Err(bad(format!("kind {tag:?} given twice")));
            }
            given[kind.index()] = true;
            weights[kind.index()] = weight;
        }
        Mix::from_weights(weights).map_err(|_| bad("all weights are 0".into()))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in self.kinds() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{}={}", kind.tag(), self.weight(kind))?;
        }
        Ok(())
    }
}

/// Hands out kinds in proportion to a [`Mix`], interleaved as evenly as
/// possible (nginx's smooth weighted round-robin).
#[derive(Clone, Debug)]
pub struct Picker {
    weights: [i64; 5],
    current: [i64; 5],
    total: i64,
}

impl Picker {
    /// The kind of the next line.
    pub fn next_kind(&mut self) -> Kind {
        let mut best = 0;
        for i in 0..5 {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= self.total;
        Kind::ALL[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(mix: &Mix, n: usize) -> [usize; 5] {
        let mut picker = mix.picker();
        let mut counts = [0; 5];
        for _ in 0..n {
            counts[picker.next_kind().index()] += 1;
        }
        counts
    }

    #[test]
    fn standard_mix_is_exact_per_cycle() {
        assert_eq!(counts(&Mix::standard(), 100), [50, 10, 20, 10, 10]);
        assert_eq!(
            counts(&Mix::standard(), 1_000_000),
            [500_000, 100_000, 200_000, 100_000, 100_000]
        );
    }

    #[test]
    fn any_prefix_is_within_one_line_of_proportion() {
        let mix: Mix = "c=3,ms=7,s=1".parse().unwrap();
        let mut picker = mix.picker();
        let mut got = [0i64; 5];
        for n in 1..=1000i64 {
            got[picker.next_kind().index()] += 1;
            for kind in Kind::ALL {
                let ideal = n * i64::from(mix.weight(kind)) / 11;
                assert!(
                    (got[kind.index()] - ideal).abs() <= 1,
                    "n={n} kind={kind} {got:?}"
                );
            }
        }
    }

    #[test]
    fn kinds_are_interleaved_not_grouped() {
        let mut picker = Mix::standard().picker();
        let first: Vec<&str> = (0..10).map(|_| picker.next_kind().tag()).collect();
        assert_eq!(first, ["c", "ms", "c", "sc", "c", "g", "s", "c", "ms", "c"]);
    }

    #[test]
    fn parses_and_prints() {
        let mix: Mix = "c=50, sc=10,ms=20,g=10,s=10".parse().unwrap();
        assert_eq!(mix, Mix::standard());
        assert_eq!(mix.to_string(), "c=50,sc=10,ms=20,g=10,s=10");
        assert_eq!("c=100".parse::<Mix>().unwrap().to_string(), "c=100");
        assert_eq!("c=1".parse::<Mix>().unwrap(), Mix::counters());
    }

    #[test]
    fn rejects_bad_mixes() {
        for text in ["", "c=0", "x=1", "c", "c=-1", "c=1,c=2", "c=1.5"] {
            assert!(
                matches!(text.parse::<Mix>(), Err(Error::Mix { .. })),
                "{text:?}"
            );
        }
    }
}
