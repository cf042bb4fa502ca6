//! Numbers formatted as JavaScript's `Number.prototype.toString` does.
//!
//! etsy statsd is written in JavaScript and sends `String(value)` to Graphite:
//! `5`, `0.1`, `1e+21`, `1.5e-7`. Rust's `Display` for `f64` differs for very
//! large and very small values (it never uses an exponent), so Graphite output
//! that must match etsy line for line goes through this module.

/// Appends `value` to `out` in JavaScript's shortest round-trip notation.
///
/// `NaN` and the infinities print as `NaN`, `Infinity` and `-Infinity`.
pub fn push(out: &mut Vec<u8>, value: f64) {
    let mut buffer = ryu_js::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
}

/// `value` as a JavaScript number string.
pub fn to_string(value: f64) -> String {
    let mut buffer = ryu_js::Buffer::new();
    buffer.format(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::to_string;

    #[test]
    fn integers_have_no_fraction() {
        assert_eq!(to_string(5.0), "5");
        assert_eq!(to_string(-0.0), "0");
        assert_eq!(to_string(1234567.0), "1234567");
    }

    #[test]
    fn fractions_are_shortest_round_trip() {
        assert_eq!(to_string(0.1), "0.1");
        assert_eq!(to_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(to_string(2.5), "2.5");
    }

    #[test]
    fn exponents_switch_where_javascript_switches() {
        assert_eq!(to_string(1e21), "1e+21");
        assert_eq!(to_string(1e20), "100000000000000000000");
        assert_eq!(to_string(1e-7), "1e-7");
        assert_eq!(to_string(1.5e-6), "0.0000015");
    }

    #[test]
    fn non_finite_values_use_javascript_names() {
        assert_eq!(to_string(f64::NAN), "NaN");
        assert_eq!(to_string(f64::INFINITY), "Infinity");
        assert_eq!(to_string(f64::NEG_INFINITY), "-Infinity");
    }
}
