//! mmash's views of a folder of stats files, without the I/O: the labels,
//! each label's values (one per file holding it), and those values folded
//! by one of mmash's aggregations with Python's typing (an integer sum
//! stays an integer, a mean is a float, booleans count as 1 and 0).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Number, Value as Json};
use statkit_format::StatFile;

use crate::render::json_value;

/// mmash's `?aggr=` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggr {
    /// The mean, always a float.
    Avg,
    /// The sum: an integer when every value is one.
    Sum,
    /// The smallest value, of its own type.
    Min,
    /// The largest value, of its own type.
    Max,
    /// The first value, as it is.
    One,
    /// The smallest value that is not zero.
    NonzeroMin,
    /// The mean of the values that are not zero.
    NonzeroAvg,
}

impl Aggr {
    /// The aggregation `name` asks for; `None` for any other word, which
    /// mmash answers with the values unaggregated.
    pub fn from_name(name: &str) -> Option<Aggr> {
        Some(match name {
            "avg" => Aggr::Avg,
            "sum" => Aggr::Sum,
            "min" => Aggr::Min,
            "max" => Aggr::Max,
            "one" => Aggr::One,
            "nonzero-min" => Aggr::NonzeroMin,
            "nonzero-avg" => Aggr::NonzeroAvg,
            _ => return None,
        })
    }
}

/// Why values could not be aggregated (mmash answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggrError {
    /// No values, or none that is not zero.
    #[error("no values to aggregate")]
    Empty,
    /// A text, an empty average or a histogram where numbers are needed,
    /// or texts mixed with numbers.
    #[error("{0} values cannot be aggregated this way")]
    NotNumbers(&'static str),
}

/// Every label of `files`, sorted, each once: `/stats/`.
pub fn labels<'a>(files: impl IntoIterator<Item = &'a StatFile>) -> Vec<String> {
    let set: BTreeSet<&str> = files
        .into_iter()
        .flat_map(|f| f.stats.iter().map(|s| s.label.as_str()))
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// The values of every label starting with `prefix` (or equal to it, with
/// `exact`), one per file holding it, in the files' order: `/stats/<prefix>`.
pub fn select<'a>(
    files: impl IntoIterator<Item = &'a StatFile>,
    prefix: &str,
    exact: bool,
) -> BTreeMap<String, Vec<Json>> {
    let mut out: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for stat in files.into_iter().flat_map(|f| &f.stats) {
        let wanted = if exact {
            stat.label == prefix
        } else {
            stat.label.starts_with(prefix)
        };
        if wanted {
            out.entry(stat.label.clone())
                .or_default()
                .push(json_value(&stat.value));
        }
    }
    out
}

/// `values` folded by `aggr`.
pub fn aggregate(aggr: Aggr, values: &[Json]) -> Result<Json, AggrError> {
    if aggr == Aggr::One {
        return values.first().cloned().ok_or(AggrError::Empty);
    }
    let kept: Vec<&Json> = match aggr {
        Aggr::NonzeroMin | Aggr::NonzeroAvg => values.iter().filter(|v| !is_zero(v)).collect(),
        _ => values.iter().collect(),
    };
    if kept.is_empty() {
        return Err(AggrError::Empty);
    }
    match aggr {
        Aggr::Min | Aggr::NonzeroMin => extreme(&kept, std::cmp::Ordering::Less),
        Aggr::Max => extreme(&kept, std::cmp::Ordering::Greater),
        Aggr::Sum => Ok(sum(&kept)?.to_json()),
        Aggr::Avg | Aggr::NonzeroAvg => {
            let total = sum(&kept)?.as_f64();
            Ok(float(total / kept.len() as f64))
        }
        Aggr::One => unreachable!("answered above"),
    }
}

/// A number as Python keeps it: an integer (exact) or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(value: &Json) -> Result<Num, AggrError> {
        match value {
            Json::Bool(b) => Ok(Num::Int(i128::from(*b))),
            Json::Number(n) => Ok(n
                .as_i64()
                .map(|i| Num::Int(i128::from(i)))
                .or_else(|| n.as_u64().map(|u| Num::Int(i128::from(u))))
                .unwrap_or_else(|| Num::Float(n.as_f64().unwrap_or(f64::NAN)))),
            other => Err(AggrError::NotNumbers(kind(other))),
        }
    }

    fn plus(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// An integer past 64 bits becomes a float (Python's would not).
    fn to_json(self) -> Json {
        match self {
            Num::Int(i) => i64::try_from(i)
                .map(Json::from)
                .or_else(|_| u64::try_from(i).map(Json::from))
                .unwrap_or_else(|_| float(i as f64)),
            Num::Float(f) => float(f),
        }
    }
}

fn sum(values: &[&Json]) -> Result<Num, AggrError> {
    values
        .iter()
        .try_fold(Num::Int(0), |total, v| Ok(total.plus(Num::of(v)?)))
}

/// The value that compares `wanted` against every other (the first of
/// equals), keeping its type: numbers and booleans by value, texts by
/// their characters; other values, or texts among numbers, are an error.
fn extreme(values: &[&Json], wanted: std::cmp::Ordering) -> Result<Json, AggrError> {
    let texts = values.iter().filter(|v| v.is_string()).count();
    if texts == values.len() {
        let best = values.iter().filter_map(|v| v.as_str()).reduce(|best, v| {
            if v.cmp(best) == wanted {
                v
            } else {
                best
            }
        });
        return Ok(best.map(Json::from).unwrap_or(Json::Null));
    }
    if texts > 0 {
        return Err(AggrError::NotNumbers("text and number"));
    }
    let mut best = (values[0], Num::of(values[0])?.as_f64());
    for v in &values[1..] {
        let x = Num::of(v)?.as_f64();
        if x.partial_cmp(&best.1) == Some(wanted) {
            best = (v, x);
        }
    }
    Ok(best.0.clone())
}

/// Whether mmash's `nonzero-` aggregations leave `value` out: a number
/// equal to 0, or `false`.
fn is_zero(value: &Json) -> bool {
    match value {
        Json::Bool(b) => !b,
        Json::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::String(_) => "text",
        Json::Null => "empty",
        _ => "histogram",
    }
}

fn float(x: f64) -> Json {
    Number::from_f64(x).map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The two files of mmash's aggregation samples.
    fn web() -> [Vec<Json>; 3] {
        [
            vec![json!(10), json!(32)],
            vec![json!(0.0), json!(4.0)],
            vec![json!(true), json!(false)],
        ]
    }

    fn all(aggr: Aggr) -> Vec<Result<Json, AggrError>> {
        web().iter().map(|v| aggregate(aggr, v)).collect()
    }

    #[test]
    fn aggregations_type_their_answers_as_mmash_does() {
        assert_eq!(
            all(Aggr::Sum),
            [Ok(json!(42)), Ok(json!(4.0)), Ok(json!(1))]
        );
        assert_eq!(
            all(Aggr::Avg),
            [Ok(json!(21.0)), Ok(json!(2.0)), Ok(json!(0.5))]
        );
        assert_eq!(
            all(Aggr::One),
            [Ok(json!(10)), Ok(json!(0.0)), Ok(json!(true))]
        );
        assert_eq!(
            all(Aggr::Max),
            [Ok(json!(32)), Ok(json!(4.0)), Ok(json!(true))]
        );
        assert_eq!(
            all(Aggr::Min),
            [Ok(json!(10)), Ok(json!(0.0)), Ok(json!(false))]
        );
        assert_eq!(aggregate(Aggr::NonzeroMin, &web()[1]), Ok(json!(4.0)));
        assert_eq!(aggregate(Aggr::NonzeroAvg, &web()[1]), Ok(json!(4.0)));
        assert_eq!(aggregate(Aggr::NonzeroAvg, &[json!(-2)]), Ok(json!(-2.0)));
    }

    #[test]
    fn what_python_cannot_fold_is_an_error() {
        let texts = [json!("b"), json!("a")];
        assert!(matches!(
            aggregate(Aggr::Sum, &texts),
            Err(AggrError::NotNumbers("text"))
        ));
        assert_eq!(aggregate(Aggr::Min, &texts), Ok(json!("a")));
        assert_eq!(aggregate(Aggr::Max, &texts), Ok(json!("b")));
        assert!(aggregate(Aggr::Max, &[json!("a"), json!(1)]).is_err());
        assert!(aggregate(Aggr::Avg, &[json!({"count": 0})]).is_err());
        assert_eq!(
            aggregate(Aggr::NonzeroMin, &[json!(0), json!(false)]),
            Err(AggrError::Empty)
        );
        assert_eq!(aggregate(Aggr::Sum, &[]), Err(AggrError::Empty));
    }

    #[test]
    fn integer_sums_past_64_bits_become_floats() {
        let big = [json!(u64::MAX), json!(u64::MAX)];
        assert_eq!(aggregate(Aggr::Sum, &big), Ok(json!(2.0 * u64::MAX as f64)));
        assert_eq!(
            aggregate(Aggr::Sum, &[json!(u64::MAX), json!(-1)]),
            Ok(json!(u64::MAX - 1))
        );
    }

    proptest::proptest! {
        /// Over integers, every aggregation is Python's: exact integer
        /// sums, float means, the values' own minimum and maximum.
        #[test]
        fn integers_fold_as_python_folds_them(values in proptest::collection::vec(-1000i64..1000, 1..20)) {
            let json: Vec<Json> = values.iter().map(|v| json!(v)).collect();
            let sum: i64 = values.iter().sum();
            proptest::prop_assert_eq!(aggregate(Aggr::Sum, &json), Ok(json!(sum)));
            proptest::prop_assert_eq!(aggregate(Aggr::Avg, &json), Ok(json!(sum as f64 / values.len() as f64)));
            proptest::prop_assert_eq!(aggregate(Aggr::Min, &json), Ok(json!(values.iter().min())));
            proptest::prop_assert_eq!(aggregate(Aggr::Max, &json), Ok(json!(values.iter().max())));
            proptest::prop_assert_eq!(aggregate(Aggr::One, &json), Ok(json!(values[0])));
            let nonzero: Vec<i64> = values.iter().copied().filter(|v| *v != 0).collect();
            let expected = nonzero.iter().min().map(|m| json!(m)).ok_or(AggrError::Empty);
            proptest::prop_assert_eq!(aggregate(Aggr::NonzeroMin, &json), expected);
        }
    }

    #[test]
    fn unknown_words_are_no_aggregation() {
        assert_eq!(Aggr::from_name("bogus"), None);
        assert_eq!(Aggr::from_name("nonzero-avg"), Some(Aggr::NonzeroAvg));
    }
}
