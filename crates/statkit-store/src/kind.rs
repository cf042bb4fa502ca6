//! The kinds of series and the fields their history keeps.

/// A series' kind, as statsd types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Counter,
    Gauge,
    Timer,
    Set,
}

/// How the one-minute history combines the flushes of a minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Combine {
    Mean,
    Last,
    Min,
    Max,
}

/// One column of a series' history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub combine: Combine,
}

const fn field(name: &'static str, combine: Combine) -> Field {
    Field { name, combine }
}

const COUNTER: &[Field] = &[field("rate", Combine::Mean)];
const GAUGE: &[Field] = &[field("value", Combine::Last)];
const SET: &[Field] = &[field("members", Combine::Mean)];
/// `pct` is the first configured percent threshold's bound (`upper_90`).
const TIMER: &[Field] = &[
    field("rate", Combine::Mean),
    field("lower", Combine::Min),
    field("mean", Combine::Mean),
    field("median", Combine::Mean),
    field("upper", Combine::Max),
    field("pct", Combine::Max),
];

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Counter, Kind::Gauge, Kind::Timer, Kind::Set];

    /// The lower-case name the JSON API uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Timer => "timer",
            Kind::Set => "set",
        }
    }

    /// The kind named `name` (as [`Kind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The columns of this kind's history rows, in order.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Counter => COUNTER,
            Kind::Gauge => GAUGE,
            Kind::Timer => TIMER,
            Kind::Set => SET,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn names_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_name(kind.name()), Some(kind));
            assert_eq!(Kind::ALL[kind.index()], kind);
        }
        assert_eq!(Kind::from_name("histogram"), None);
    }
}
