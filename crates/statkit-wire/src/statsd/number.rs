//! Decimal numbers parsed straight from the receive buffer.
//!
//! statsd values are mostly short integers (`1`, `42`) or short decimals
//! (`12.3`). Those take a fast path that is exact: an integer mantissa of at
//! most 15 digits divided by an exact power of ten is correctly rounded by
//! IEEE division (Clinger's fast path). Everything else goes through the
//! standard library's correct parser. Neither allocates.

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a finite decimal number the way JavaScript's `Number()` accepts
/// one in etsy statsd (surrounding ASCII whitespace allowed, optional sign,
/// fraction and exponent). Returns `None` for anything else, including
/// `NaN`, infinities and hexadecimal forms, which statkit refuses.
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    let bytes = bytes.trim_ascii();
    if let Some(v) = fast_path(bytes) {
        return Some(v);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    // The standard parser also accepts "inf", "nan" and "infinity".
    if !text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// `[+-]digits[.digits]` with at most 15 significant digits, else `None`.
fn fast_path(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.first()? {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut fraction_digits: Option<usize> = None;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                seen_digit = true;
                if let Some(n) = fraction_digits.as_mut() {
                    *n += 1;
                }
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(0),
            _ => return None,
        }
    }
    if !seen_digit || mantissa > (1 << 53) {
        return None;
    }
    let value = mantissa as f64 / POW10[fraction_digits.unwrap_or(0)];
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::parse_f64;

    #[test]
    fn integers_and_decimals() {
        assert_eq!(parse_f64(b"1"), Some(1.0));
        assert_eq!(parse_f64(b"-42"), Some(-42.0));
        assert_eq!(parse_f64(b"+7"), Some(7.0));
        assert_eq!(parse_f64(b"12.3"), Some(12.3));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"0.1"), Some(0.1));
    }

    #[test]
    fn exponents_and_long_numbers_take_the_slow_path() {
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b"2.5E-1"), Some(0.25));
        assert_eq!(parse_f64(b"12345678901234567890"), Some(12345678901234567890.0));
        assert_eq!(parse_f64(b"0.30000000000000004"), Some(0.30000000000000004));
    }

    #[test]
    fn surrounding_whitespace_is_allowed() {
        assert_eq!(parse_f64(b" 2 "), Some(2.0));
        assert_eq!(parse_f64(b"\t3\r"), Some(3.0));
    }

    #[test]
    fn refuses_what_is_not_a_finite_decimal() {
        for bad in [&b""[..], b" ", b".", b"-", b"abc", b"1.2.3", b"NaN", b"nan", b"inf", b"Infinity", b"0x10", b"1e999", b"1 2", b"\xff"] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn fast_path_agrees_with_the_standard_parser() {
        for text in ["0.1", "0.7", "123.456", "99999.99999", "1.000000000000001", "4503599627370497"] {
            assert_eq!(parse_f64(text.as_bytes()), Some(text.parse::<f64>().unwrap()), "{text}");
        }
    }
}
