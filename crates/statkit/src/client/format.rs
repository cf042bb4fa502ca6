//! Statsd lines written into the client's reusable buffer.
//!
//! Everything here appends to a `Vec<u8>` the client keeps between calls, so
//! once that buffer has reached its working size a metric costs no
//! allocation: integers go through `core::fmt` straight into the vector,
//! floats through `ryu-js` on the stack, and names are cleaned in place after
//! they were copied.
//!
//! What is cleaned and what is refused is described for users in
//! [the client's documentation](super#names-and-tags); the functions below
//! are the single place that decides it.

use std::fmt::{self, Write as _};
use std::time::Duration;

/// One metric value, with the type it is sent as.
#[derive(Clone, Copy)]
pub(crate) enum Value<'a> {
    Counter(i64),
    Gauge(f64),
    GaugeDelta(f64),
    Timer(Millis),
    Histogram(f64),
    Distribution(f64),
    Set(&'a dyn fmt::Display),
}

/// Why a metric was not written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    EmptyName,
    EmptyMember,
    NotFinite,
    NegativeTiming,
}

/// A timing in milliseconds, the unit of statsd's `ms` type.
///
/// Built from a [`Duration`] it is written as an exact decimal
/// (`1.5ms` is `1.5`, `3µs` is `0.003`), so nothing is lost to a float
/// conversion before the server parses it. Built from a number it is taken
/// to already be in milliseconds (integers above 2^53 lose precision).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Millis(MillisRepr);

#[derive(Clone, Copy, Debug, PartialEq)]
enum MillisRepr {
    Exact(Duration),
    Float(f64),
}

impl Millis {
    /// The value as a float, which is what the server will parse it into.
    pub fn as_f64(self) -> f64 {
        match self.0 {
            MillisRepr::Exact(d) => d.as_nanos() as f64 / 1e6,
            MillisRepr::Float(ms) => ms,
        }
    }
}

impl From<Duration> for Millis {
    fn from(duration: Duration) -> Self {
        Self(MillisRepr::Exact(duration))
    }
}

impl From<f64> for Millis {
    fn from(ms: f64) -> Self {
        Self(MillisRepr::Float(ms))
    }
}

/// Whole milliseconds. Signed types are here so that a bare literal
/// (`client.timing("t", 250)`, an `i32`) works; a negative value is refused
/// when sent, like a negative `f64`.
macro_rules! millis_from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for Millis {
            fn from(ms: $int) -> Self {
                Self(MillisRepr::Float(ms as f64))
            }
        }
    )*};
}

millis_from_integer!(u32, u64, i32, i64);

/// The parts of a line that come from the client's configuration.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'a> {
    /// The cleaned prefix with its trailing `.`, or empty.
    pub prefix: &'a [u8],
    /// The cleaned, comma-joined default tags, or empty.
    pub default_tags: &'a [u8],
}

/// The tags of one call, after the client's default tags.
#[derive(Clone, Copy)]
pub(crate) enum Tags<'a> {
    /// `key:value` pairs from the caller, cleaned as they are written.
    Pairs(&'a [(&'a str, &'a str)]),
    /// Tags already cleaned and comma-joined (see [`push_tag`]) by a caller
    /// that sends the same tags many times, such as the `metrics` recorder's
    /// handles; empty for none.
    Cleaned(&'a [u8]),
}

/// Appends the line(s) for one metric to `buf`, each ending in `\n`.
///
/// A negative absolute gauge takes two lines (`name:0|g` then `name:-5|g`)
/// because a signed gauge value is a delta in statsd; they are written
/// together so they always travel in the same datagram, in order.
///
/// On error `buf` is left as it was.
pub(crate) fn write_metric(
    buf: &mut Vec<u8>,
    frame: Frame<'_>,
    name: &str,
    value: Value<'_>,
    rate: f64,
    tags: Tags<'_>,
) -> Result<(), Invalid> {
    check(name, value)?;
    let start = buf.len();
    let result = match value {
        Value::Gauge(v) if v < 0.0 => write_line(buf, frame, name, Value::Gauge(0.0), rate, tags)
            .and_then(|()| write_line(buf, frame, name, value, rate, tags)),
        _ => write_line(buf, frame, name, value, rate, tags),
    };
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// Refuses what cannot be written before anything is.
fn check(name: &str, value: Value<'_>) -> Result<(), Invalid> {
    if name.is_empty() {
        return Err(Invalid::EmptyName);
    }
    let number = match value {
        Value::Counter(_) | Value::Set(_) => return Ok(()),
        Value::Timer(ms) => {
            let ms = ms.as_f64();
            if ms < 0.0 {
                return Err(Invalid::NegativeTiming);
            }
            ms
        }
        Value::Gauge(v) | Value::GaugeDelta(v) | Value::Histogram(v) | Value::Distribution(v) => v,
    };
    if number.is_finite() {
        Ok(())
    } else {
        Err(Invalid::NotFinite)
    }
}

fn write_line(
    buf: &mut Vec<u8>,
    frame: Frame<'_>,
    name: &str,
    value: Value<'_>,
    rate: f64,
    tags: Tags<'_>,
) -> Result<(), Invalid> {
    let line_start = buf.len();
    buf.extend_from_slice(frame.prefix);
    push_cleaned(buf, name.as_bytes(), is_name_byte);
    if buf[line_start..].starts_with(b"_e{") {
        buf[line_start + 2] = b'_';
    }
    buf.push(b':');
    let type_letter: &[u8] = match value {
        Value::Counter(n) => {
            push_display(buf, n);
            b"c"
        }
        Value::Gauge(v) => {
            push_f64(buf, v);
            b"g"
        }
        Value::GaugeDelta(v) => {
            // The sign is what makes it a delta, `+0` included.
            if v >= 0.0 {
                buf.push(b'+');
            }
            push_f64(buf, v);
            b"g"
        }
        Value::Timer(ms) => {
            push_millis(buf, ms);
            b"ms"
        }
        Value::Histogram(v) => {
            push_f64(buf, v);
            b"h"
        }
        Value::Distribution(v) => {
            push_f64(buf, v);
            b"d"
        }
        Value::Set(member) => {
            let member_start = buf.len();
            push_display(buf, member);
            if buf.len() == member_start {
                return Err(Invalid::EmptyMember);
            }
            clean_in_place(&mut buf[member_start..], is_name_byte);
            b"s"
        }
    };
    buf.push(b'|');
    buf.extend_from_slice(type_letter);
    if rate < 1.0 {
        buf.extend_from_slice(b"|@");
        push_f64(buf, rate);
    }
    write_tags(buf, frame.default_tags, tags);
    buf.push(b'\n');
    Ok(())
}

fn write_tags(buf: &mut Vec<u8>, default_tags: &[u8], tags: Tags<'_>) {
    let mut first = true;
    let mut separator = |buf: &mut Vec<u8>| {
        buf.extend_from_slice(if first { b"|#" } else { b"," });
        first = false;
    };
    if !default_tags.is_empty() {
        separator(buf);
        buf.extend_from_slice(default_tags);
    }
    match tags {
        Tags::Pairs(pairs) => {
            for (key, value) in pairs {
                if key.is_empty() && value.is_empty() {
                    continue;
                }
                separator(buf);
                push_tag(buf, key, value);
            }
        }
        Tags::Cleaned(cleaned) => {
            if !cleaned.is_empty() {
                separator(buf);
                buf.extend_from_slice(cleaned);
            }
        }
    }
}

/// Appends one cleaned `key:value` tag, or a bare `key` when `value` is
/// empty.
pub(crate) fn push_tag(buf: &mut Vec<u8>, key: &str, value: &str) {
    push_cleaned(buf, key.as_bytes(), is_tag_key_byte);
    if !value.is_empty() {
        buf.push(b':');
        push_cleaned(buf, value.as_bytes(), is_tag_value_byte);
    }
}

/// Appends `name` cleaned as a metric name (used for the prefix too).
pub(crate) fn push_name(buf: &mut Vec<u8>, name: &str) {
    push_cleaned(buf, name.as_bytes(), is_name_byte);
}

fn push_cleaned(buf: &mut Vec<u8>, bytes: &[u8], keep: fn(u8) -> bool) {
    let start = buf.len();
    buf.extend_from_slice(bytes);
    clean_in_place(&mut buf[start..], keep);
}

/// Replacing one ASCII byte with another keeps UTF-8 valid: bytes of
/// multi-byte characters are all >= 0x80 and always kept.
fn clean_in_place(bytes: &mut [u8], keep: fn(u8) -> bool) {
    for b in bytes {
        if !keep(*b) {
            *b = b'_';
        }
    }
}

fn is_name_byte(b: u8) -> bool {
    !b.is_ascii_control() && !matches!(b, b':' | b'|' | b'#')
}

fn is_tag_key_byte(b: u8) -> bool {
    is_name_byte(b) && b != b','
}

fn is_tag_value_byte(b: u8) -> bool {
    !b.is_ascii_control() && !matches!(b, b'|' | b'#' | b',')
}

/// Floats in the shortest form that parses back to the same value
/// (`0.1`, `1e+21`), which statkit's parser reads exactly.
fn push_f64(buf: &mut Vec<u8>, value: f64) {
    statkit_wire::jsnum::push(buf, value);
}

fn push_millis(buf: &mut Vec<u8>, ms: Millis) {
    match ms.0 {
        MillisRepr::Float(v) => push_f64(buf, v),
        MillisRepr::Exact(d) => {
            push_display(buf, d.as_millis());
            let sub_milli_nanos = d.subsec_nanos() % 1_000_000;
            if sub_milli_nanos != 0 {
                let start = buf.len();
                push_display(buf, format_args!(".{sub_milli_nanos:06}"));
                let digits = buf[start..]
                    .iter()
                    .rposition(|&b| b != b'0')
                    .map_or(0, |i| i + 1);
                buf.truncate(start + digits);
            }
        }
    }
}

/// Formats through `core::fmt` into the vector itself: no temporary string.
fn push_display(buf: &mut Vec<u8>, value: impl fmt::Display) {
    struct Appender<'a>(&'a mut Vec<u8>);
    impl fmt::Write for Appender<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    // Appender never fails; only a Display impl that lies about an error
    // could, and then what it wrote so far is what we send.
    let _ = write!(Appender(buf), "{value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Frame<'static> = Frame {
        prefix: b"",
        default_tags: b"",
    };

    fn line(name: &str, value: Value<'_>, rate: f64, tags: &[(&str, &str)]) -> String {
        let mut buf = Vec::new();
        write_metric(&mut buf, PLAIN, name, value, rate, Tags::Pairs(tags)).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn each_type_has_its_letter() {
        assert_eq!(line("a", Value::Counter(3), 1.0, &[]), "a:3|c\n");
        assert_eq!(line("a", Value::Gauge(2.5), 1.0, &[]), "a:2.5|g\n");
        assert_eq!(line("a", Value::GaugeDelta(-2.0), 1.0, &[]), "a:-2|g\n");
        assert_eq!(line("a", Value::GaugeDelta(0.0), 1.0, &[]), "a:+0|g\n");
        assert_eq!(
            line("a", Value::Timer(Millis::from(12.5)), 1.0, &[]),
            "a:12.5|ms\n"
        );
        assert_eq!(line("a", Value::Histogram(7.0), 1.0, &[]), "a:7|h\n");
        assert_eq!(line("a", Value::Distribution(0.1), 1.0, &[]), "a:0.1|d\n");
        assert_eq!(line("a", Value::Set(&42), 1.0, &[]), "a:42|s\n");
    }

    #[test]
    fn negative_gauge_is_reset_then_delta() {
        assert_eq!(line("t", Value::Gauge(-5.0), 1.0, &[]), "t:0|g\nt:-5|g\n");
    }

    #[test]
    fn durations_are_exact_decimal_milliseconds() {
        let ms = |d| line("t", Value::Timer(Millis::from(d)), 1.0, &[]);
        assert_eq!(ms(Duration::from_millis(250)), "t:250|ms\n");
        assert_eq!(ms(Duration::from_micros(1500)), "t:1.5|ms\n");
        assert_eq!(ms(Duration::from_nanos(3_000)), "t:0.003|ms\n");
        assert_eq!(ms(Duration::from_nanos(1_000_001)), "t:1.000001|ms\n");
        assert_eq!(ms(Duration::ZERO), "t:0|ms\n");
    }

    #[test]
    fn rate_and_tags_follow_the_type() {
        assert_eq!(
            line(
                "a",
                Value::Counter(1),
                0.25,
                &[("env", "prod"), ("canary", "")]
            ),
            "a:1|c|@0.25|#env:prod,canary\n"
        );
    }

    #[test]
    fn prefix_and_default_tags_come_from_the_frame() {
        let frame = Frame {
            prefix: b"app.",
            default_tags: b"host:a",
        };
        let mut buf = Vec::new();
        write_metric(
            &mut buf,
            frame,
            "hits",
            Value::Counter(1),
            1.0,
            Tags::Pairs(&[("k", "v")]),
        )
        .unwrap();
        assert_eq!(buf, b"app.hits:1|c|#host:a,k:v\n");
    }

    #[test]
    fn protocol_bytes_in_names_are_replaced() {
        assert_eq!(
            line("a:b|c#d\ne\rf\tg", Value::Counter(1), 1.0, &[]),
            "a_b_c_d_e_f_g:1|c\n"
        );
        assert_eq!(
            line("caf\u{e9} au lait/x", Value::Counter(1), 1.0, &[]),
            "caf\u{e9} au lait/x:1|c\n"
        );
    }

    #[test]
    fn names_never_read_as_events() {
        assert_eq!(
            line("_e{1,1}", Value::Counter(1), 1.0, &[]),
            "_e_1,1}:1|c\n"
        );
    }

    #[test]
    fn protocol_bytes_in_tags_are_replaced() {
        assert_eq!(
            line("a", Value::Counter(1), 1.0, &[("k:e,y|#", "v,a|l#\nue:x")]),
            "a:1|c|#k_e_y__:v_a_l__ue:x\n"
        );
    }

    #[test]
    fn protocol_bytes_in_set_members_are_replaced() {
        assert_eq!(line("u", Value::Set(&"a:b|c"), 1.0, &[]), "u:a_b_c|s\n");
    }

    #[test]
    fn refuses_what_the_protocol_cannot_carry() {
        let mut buf = b"kept\n".to_vec();
        let mut refused =
            |name, value| write_metric(&mut buf, PLAIN, name, value, 1.0, Tags::Pairs(&[]));
        assert_eq!(refused("", Value::Counter(1)), Err(Invalid::EmptyName));
        assert_eq!(
            refused("a", Value::Gauge(f64::NAN)),
            Err(Invalid::NotFinite)
        );
        assert_eq!(
            refused("a", Value::Histogram(f64::INFINITY)),
            Err(Invalid::NotFinite)
        );
        assert_eq!(
            refused("a", Value::Timer(Millis::from(-1.0))),
            Err(Invalid::NegativeTiming)
        );
        assert_eq!(refused("a", Value::Set(&"")), Err(Invalid::EmptyMember));
        assert_eq!(buf, b"kept\n");
    }
}
