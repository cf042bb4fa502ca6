//! A stat's value as statvent writes it: an integer (`%d`) or a float (`%f`).

use serde::{Serialize, Serializer};

/// One value. Integers stay integers through sums, as in Python, until a
/// sum overflows `i64` (Python's integers do not; ours become floats).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
}

impl Value {
    /// A count: an integer, or a float past `i64`.
    pub fn count(n: u64) -> Value {
        i64::try_from(n).map_or(Value::Float(n as f64), Value::Int)
    }

    /// The value as a float, for comparisons and means.
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
        }
    }

    /// `self + other` with Python's typing: int + int is an int, anything
    /// with a float is a float.
    pub fn plus(self, other: Value) -> Value {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a
                .checked_add(b)
                .map_or(Value::Float(a as f64 + b as f64), Value::Int),
            (a, b) => Value::Float(a.as_f64() + b.as_f64()),
        }
    }

    /// The larger of the two, keeping its type (`self` on a tie or a NaN).
    pub fn larger(self, other: Value) -> Value {
        if other.as_f64() > self.as_f64() {
            other
        } else {
            self
        }
    }
}

/// Integers as JSON integers, floats as JSON floats (`1.0`, as statvent's
/// `json.dumps` prints them). A non-finite float has no JSON form and is
/// written as `null` by serde_json.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Value::Int(i) => serializer.serialize_i64(i),
            Value::Float(f) => serializer.serialize_f64(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Value;

    #[test]
    fn sums_follow_python_typing() {
        assert_eq!(Value::Int(2).plus(Value::Int(3)), Value::Int(5));
        assert_eq!(Value::Int(2).plus(Value::Float(0.5)), Value::Float(2.5));
        assert_eq!(
            Value::Int(i64::MAX).plus(Value::Int(1)),
            Value::Float(i64::MAX as f64 + 1.0)
        );
    }

    #[test]
    fn max_keeps_the_winner_type() {
        assert_eq!(Value::Int(3).larger(Value::Float(2.5)), Value::Int(3));
        assert_eq!(Value::Int(3).larger(Value::Float(3.5)), Value::Float(3.5));
        assert_eq!(Value::Int(3).larger(Value::Float(f64::NAN)), Value::Int(3));
    }
}
