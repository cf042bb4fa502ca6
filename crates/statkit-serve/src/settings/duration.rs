//! Durations as people write them: `10s`, `500ms`, `1m`, `1.5h`; a bare
//! number is seconds, as every duration setting took before units did.

use std::time::Duration;

/// Units a duration may carry, in nanoseconds.
const UNITS: [(&str, f64); 7] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3_600e9),
    ("d", 86_400e9),
];

/// Reads `10s`, `500ms`, `1.5m` or a bare number of seconds (`2`, `0.05`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" => 1e9,
        unit => UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| not_a_duration(text))?,
    };
    // Whole numbers are read exactly, so every printed duration reads back.
    if let Ok(whole) = number.trim().parse::<u64>() {
        let nanos = u128::from(whole) * scale as u128;
        return u64::try_from(nanos)
            .map(Duration::from_nanos)
            .map_err(|_| not_a_duration(text));
    }
    let value: f64 = number.trim().parse().map_err(|_| not_a_duration(text))?;
    if scale == 1e9 {
        return from_seconds(value).map_err(|_| not_a_duration(text));
    }
    from_nanos(value * scale).ok_or_else(|| not_a_duration(text))
}

/// A number of seconds, as TOML gives it. Whole seconds and the fraction
/// are read apart, so the printed form of any duration reads back exactly.
pub fn from_seconds(seconds: f64) -> Result<Duration, String> {
    let invalid = || format!("{seconds} is not a duration");
    if !(seconds.is_finite() && seconds >= 0.0 && seconds < u64::MAX as f64) {
        return Err(invalid());
    }
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9).round() as u64;
    Duration::from_secs(whole as u64)
        .checked_add(Duration::from_nanos(nanos))
        .ok_or_else(invalid)
}

fn from_nanos(nanos: f64) -> Option<Duration> {
    (nanos.is_finite() && nanos >= 0.0 && nanos < u64::MAX as f64)
        .then(|| Duration::from_nanos(nanos.round() as u64))
}

fn not_a_duration(text: &str) -> String {
    format!("{text:?} is not a duration (a number of seconds, or with a unit: 500ms, 10s, 1m, 1h)")
}

/// The duration as configuration files are printed: whole seconds as a
/// number, anything finer as text in the largest unit that keeps it whole
/// (`"50ms"`), so it reads back exactly.
pub fn to_seconds(duration: Duration) -> toml::Value {
    let nanos = duration.as_nanos();
    if nanos % 1_000_000_000 == 0 {
        if let Ok(seconds) = i64::try_from(duration.as_secs()) {
            return toml::Value::Integer(seconds);
        }
    }
    let (value, unit) = [(1_000_000, "ms"), (1_000, "us"), (1, "ns")]
        .into_iter()
        .find(|(scale, _)| nanos % scale == 0)
        .map_or((nanos, "ns"), |(scale, unit)| (nanos / scale, unit));
    toml::Value::String(format!("{value}{unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn units_and_bare_seconds() {
        let ms = Duration::from_millis;
        assert_eq!(parse("10s"), Ok(ms(10_000)));
        assert_eq!(parse("500ms"), Ok(ms(500)));
        assert_eq!(parse("1m"), Ok(ms(60_000)));
        assert_eq!(parse("1.5h"), Ok(ms(5_400_000)));
        assert_eq!(parse("2"), Ok(ms(2_000)));
        assert_eq!(parse("0.05"), Ok(ms(50)));
        assert_eq!(parse(" 3 s "), Ok(ms(3_000)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        for bad in ["", "soon", "10 sec", "-1s", "nan", "inf", "1e300h", "s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn printed_as_seconds() {
        assert_eq!(
            to_seconds(Duration::from_secs(10)),
            toml::Value::Integer(10)
        );
        assert_eq!(
            to_seconds(Duration::from_millis(50)),
            toml::Value::String("50ms".into())
        );
        assert_eq!(
            to_seconds(Duration::from_micros(1_000_001)),
            toml::Value::String("1000001us".into())
        );
    }

    proptest! {
        /// What is printed reads back as the same duration, so a printed
        /// configuration fed back prints the same.
        #[test]
        fn printing_reads_back(nanos in 0u64..u64::MAX / 2) {
            let duration = Duration::from_nanos(nanos);
            let back = match to_seconds(duration) {
                toml::Value::Integer(s) => Duration::from_secs(s as u64),
                toml::Value::String(text) => parse(&text).unwrap(),
                other => panic!("{other:?}"),
            };
            prop_assert_eq!(back, duration);
        }
    }
}
