//! Decimal numbers parsed straight from the receive buffer.
//!
//! statsd values are mostly short integers (`1`, `42`) or short decimals
//! (`12.3`). Those take a fast path that is exact: an integer mantissa of at
//! most 2^53 divided by an exact power of ten is correctly rounded by IEEE
//! division (Clinger's fast path). Padding is trimmed off the common path,
//! and what the fast path cannot take goes through the standard library's
//! correct parser. Neither allocates.

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a finite decimal number the way JavaScript's `Number()` accepts
/// one in etsy statsd (surrounding whitespace allowed, optional sign,
/// fraction and exponent). Returns `None` for anything else, including
/// `NaN`, infinities, hexadecimal forms and whitespace alone, which statkit
/// refuses.
#[inline]
pub fn parse_f64(bytes: &[u8]) -> Option<f64> {
    // Clients rarely pad numbers, so the untrimmed bytes are tried first and
    // everything else is kept out of line.
    fast_path(bytes).or_else(|| slow_path(bytes))
}

#[cold]
#[inline(never)]
fn slow_path(bytes: &[u8]) -> Option<f64> {
    let bytes = trim_js_space(bytes);
    if let Some(v) = fast_path(bytes) {
        return Some(v);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    // The standard parser also accepts "inf", "nan" and "infinity".
    if !text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    value.is_finite().then_some(value)
}

/// Strips what JavaScript's `Number()` and `String.prototype.trim` strip:
/// ASCII whitespace including vertical tab, plus the Unicode spaces, line
/// separators and the byte order mark. etsy reads `1\u{a0}` as 1, so
/// statkit must too.
pub(super) fn trim_js_space(mut bytes: &[u8]) -> &[u8] {
    loop {
        let n = leading_js_space(bytes);
        if n == 0 {
            break;
        }
        bytes = &bytes[n..];
    }
    loop {
        let n = trailing_js_space(bytes);
        if n == 0 {
            break;
        }
        bytes = &bytes[..bytes.len() - n];
    }
    bytes
}

/// Length of the whitespace character `bytes` starts with, or 0. The
/// multi-byte cases are the UTF-8 forms of U+00A0, U+1680, U+2000..=U+200A,
/// U+2028, U+2029, U+202F, U+205F, U+3000 and U+FEFF.
fn leading_js_space(bytes: &[u8]) -> usize {
    match bytes {
        [b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ', ..] => 1,
        [0xc2, 0xa0, ..] => 2,
        [0xe1, 0x9a, 0x80, ..]
        | [0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf, ..]
        | [0xe2, 0x81, 0x9f, ..]
        | [0xe3, 0x80, 0x80, ..]
        | [0xef, 0xbb, 0xbf, ..] => 3,
        _ => 0,
    }
}

/// Length of the whitespace character `bytes` ends with, or 0. Matching from
/// the end is unambiguous because every pattern starts with a UTF-8 lead
/// byte, which can never be the tail of another character.
fn trailing_js_space(bytes: &[u8]) -> usize {
    match bytes {
        [.., b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' '] => 1,
        [.., 0xc2, 0xa0] => 2,
        [.., 0xe1, 0x9a, 0x80]
        | [.., 0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf]
        | [.., 0xe2, 0x81, 0x9f]
        | [.., 0xe3, 0x80, 0x80]
        | [.., 0xef, 0xbb, 0xbf] => 3,
        _ => 0,
    }
}

/// `[+-]digits[.digits]` whose digits, read as an integer, are at most 2^53
/// (so the mantissa is exact), else `None`.
#[inline]
fn fast_path(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut point: Option<usize> = None;
    for (i, &b) in digits.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit < 10 {
            mantissa = mantissa * 10 + u64::from(digit);
        } else if b == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    // A lone "." is the only way to get here without a digit.
    if digits == b"." || mantissa > (1 << 53) {
        return None;
    }
    let mut value = mantissa as f64;
    if let Some(i) = point {
        // Skipped for integers: a division is the slowest step here.
        value /= POW10[digits.len() - 1 - i];
    }
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
        assert_eq!(
            parse_f64(b"12345678901234567890"),
            Some(12345678901234567890.0)
        );
        assert_eq!(parse_f64(b"0.30000000000000004"), Some(0.30000000000000004));
    }

    #[test]
    fn surrounding_whitespace_is_allowed() {
        assert_eq!(parse_f64(b" 2 "), Some(2.0));
        assert_eq!(parse_f64(b"\t3\r"), Some(3.0));
    }

    #[test]
    fn refuses_what_is_not_a_finite_decimal() {
        for bad in [
            &b""[..],
            b" ",
            b".",
            b"-",
            b"abc",
            b"1.2.3",
            b"NaN",
            b"nan",
            b"inf",
            b"Infinity",
            b"0x10",
            b"1e999",
            b"1 2",
            b"\xff",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn fast_path_agrees_with_the_standard_parser() {
        for text in [
            "0.1",
            "0.7",
            "123.456",
            "99999.99999",
            "1.000000000000001",
            "4503599627370497",
        ] {
            assert_eq!(
                parse_f64(text.as_bytes()),
                Some(text.parse::<f64>().unwrap()),
                "{text}"
            );
        }
    }
}
