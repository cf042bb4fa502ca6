//! The statsd line protocol and its DogStatsD extensions.
//!
//! A datagram (or a TCP stream) holds lines separated by `\n`. Each line is
//! one of:
//!
//! - a metric: `key:value|type[|@rate][|#tag,tag:v][|T<unix-seconds>][|c:<container>]`,
//!   possibly with several values: etsy's `key:1|c:2|ms` (each value with its
//!   own type) or DogStatsD's `key:1:2:3|d` (values sharing one type);
//! - a DogStatsD event `_e{title_len,text_len}:title|text|...`;
//! - a DogStatsD service check `_sc|name|status|...`.
//!
//! [`parse_line`] reports what it finds to a [`Visitor`], borrowing every
//! name, tag section and set member from the input: parsing never allocates.
//! One malformed value in a multi-value line is reported as an error while
//! the line's other values still count, as in etsy statsd.
//!
//! # Compatibility with etsy statsd 0.9
//!
//! A line etsy understands means the same thing here, including its quirks:
//! the key is the text before the first `:` (and a line with a `|#` before
//! that `:` has no value); the tags of an etsy-form line are the text between
//! its first `|#` and the next one; a type may be padded with whitespace
//! (`1| c`); numbers may be padded with any JavaScript whitespace; an
//! empty set member is the member `0`; only a gauge written with a sign is a
//! delta (` -5` is the absolute value -5).
//!
//! Where statkit deliberately differs:
//!
//! - `h` and `d` are timer-like types (etsy counts them as counters) and,
//!   unlike `ms`, take negative values; any other unknown type is an error.
//! - DogStatsD packing `key:1:2:3|d` yields three values (etsy would reject
//!   the first two). It is told from etsy's `key:1|c:2|ms` by where the
//!   next `:` falls: inside the type field, or inside an `@rate` field right
//!   after it, means etsy's form.
//! - After the type, a DogStatsD-form line takes `@rate`, `#tags`,
//!   `T<unix seconds>` and the origin fields `c:`, `e:`, `card:`, each ending
//!   at the next `|` (etsy would swallow everything after `|#` into the
//!   tags); of several tag sections the first counts, as in etsy. Any other
//!   field is an error (etsy ignores fields after the rate).
//! - Values must be finite decimal numbers: `NaN`, `Infinity`, overflowing
//!   exponents, hexadecimal/binary/octal forms and whitespace alone are
//!   refused where etsy's `Number()` would accept them.
//! - A sample rate must be a number greater than zero and is read in full:
//!   `@1e-3` is 0.001, where etsy reads the digits before the `e` (rate 1).
//! - An empty key is an error (etsy files the value under the key `""`).
//! - `_e{..}` events and `_sc|` service checks are recognized and checked,
//!   not parsed as metrics; a `\r` ending a line is dropped.

mod key;
mod number;
mod parse;
mod scan;

pub use key::{
    canonical as canonical_key, is_kept as is_kept_key_byte, sanitize_in_place, sanitize_tail,
};
pub use number::parse_f64;
pub use parse::{parse_datagram, parse_line};

/// The type letter of a statsd metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `c`: a count to add up over the flush interval.
    Counter,
    /// `g`: a value that persists until changed; `+N`/`-N` are deltas.
    Gauge,
    /// `ms`: a duration in milliseconds.
    Timer,
    /// `h`: a histogram sample. statkit aggregates it as a timer (etsy would
    /// silently count it as a counter).
    Histogram,
    /// `d`: a DogStatsD distribution sample, aggregated as a timer.
    Distribution,
    /// `s`: a member of a set whose distinct members are counted.
    Set,
}

impl MetricType {
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(match bytes {
            b"c" => Self::Counter,
            b"g" => Self::Gauge,
            b"ms" => Self::Timer,
            b"h" => Self::Histogram,
            b"d" => Self::Distribution,
            b"s" => Self::Set,
            _ => return None,
        })
    }

    /// Whether samples of this type feed timer statistics.
    pub fn is_timer_like(self) -> bool {
        matches!(self, Self::Timer | Self::Histogram | Self::Distribution)
    }
}

/// The value carried by one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// A number: a counter increment, an absolute gauge, a timer value.
    Number(f64),
    /// A gauge written with an explicit sign (`+3`, `-2`): added to the
    /// current value rather than replacing it.
    Delta(f64),
    /// A set member, compared as bytes.
    Member(&'a [u8]),
}

/// One value of one metric line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The key as sent, before sanitizing and before tags are appended
    /// (see [`canonical_key`]).
    pub name: &'a [u8],
    /// The DogStatsD tag section without its `#`: comma-separated tags, or
    /// empty.
    pub tags: &'a [u8],
    pub metric_type: MetricType,
    pub value: Value<'a>,
    /// The `@rate` field; 1.0 when absent. Always finite and positive.
    pub sample_rate: f64,
    /// The DogStatsD `|T` field (unix seconds), when present.
    pub timestamp: Option<u64>,
}

/// Why a value was rejected. Cheap to copy; carries no input bytes, so a
/// flood of bad lines costs no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The line has no `:` separating the key from its value.
    MissingValue,
    /// A value has no `|type` field.
    MissingType,
    /// The type field is not one of `c g ms h d s`.
    UnknownType,
    /// The value is not a finite decimal number (or a timer value is negative).
    InvalidNumber,
    /// The `@rate` field is not a positive finite number.
    InvalidSampleRate,
    /// The `|T` field is not an integer number of seconds.
    InvalidTimestamp,
    /// A field after the type is not one statkit knows.
    UnknownField,
    /// The key is empty.
    EmptyKey,
    /// An event or service check that does not follow DogStatsD's syntax.
    MalformedEvent,
}

impl ParseError {
    /// A short, stable description, for logs and the admin port.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingValue => "no ':' between key and value",
            Self::MissingType => "value without a '|type'",
            Self::UnknownType => "unknown metric type",
            Self::InvalidNumber => "value is not a finite number",
            Self::InvalidSampleRate => "sample rate is not a positive number",
            Self::InvalidTimestamp => "timestamp is not an integer",
            Self::UnknownField => "unknown field after the type",
            Self::EmptyKey => "empty key",
            Self::MalformedEvent => "malformed event or service check",
        }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ParseError {}

/// Receives what [`parse_line`] finds. Every method but `sample` and
/// `invalid` has a default that ignores the item.
pub trait Visitor<'a> {
    /// A valid sample.
    fn sample(&mut self, sample: Sample<'a>);
    /// A rejected value (a line can yield samples and errors both).
    fn invalid(&mut self, line: &'a [u8], error: ParseError);
    /// A non-empty line was seen (etsy's `metrics_received`).
    fn line(&mut self) {}
    /// A well-formed DogStatsD event.
    fn event(&mut self) {}
    /// A well-formed DogStatsD service check.
    fn service_check(&mut self) {}
}

#[cfg(test)]
mod tests;
