//! Go's duration strings (`time.ParseDuration`), as statsd_exporter's
//! `ttl` and `max_age` are written: `90s`, `1m30s`, `1.5h`, `500ms`, `0`.

use std::time::Duration;

/// The units Go accepts, longest first where one is a prefix of another.
const UNITS: [(&str, f64); 8] = [
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("μs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

/// Parses `text`; `Err` says what is wrong. A bare number other than `0`
/// is refused: Go reads it as nanoseconds, which no one means.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err(format!("{text:?} is negative"));
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return Err("an empty duration".into());
    }
    let mut seconds = 0.0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 90s, 1m30s or 1.5h"))?;
        rest = &rest[digits..];
        let Some(&(unit, scale)) = UNITS
            .iter()
            .filter(|(u, _)| rest.starts_with(u))
            .max_by_key(|(u, _)| u.len())
        else {
            return Err(format!(
                "{text:?} needs a unit (ns, us, ms, s, m, h), as in 90s"
            ));
        };
        rest = &rest[unit.len()..];
        seconds += number * scale;
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(parse("1h0m0.5s"), Ok(Duration::from_millis(3_600_500)));
        assert!(parse("60").unwrap_err().contains("needs a unit"));
        assert!(parse("-1s").unwrap_err().contains("negative"));
        assert!(parse("1d").is_err());
        assert!(parse("").is_err());
        assert!(parse("s").is_err());
    }
}
