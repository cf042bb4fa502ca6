//! The line parser. See the module documentation of [`super`] for the
//! grammar; this file only walks bytes.
//!
//! Speed notes, measured rather than guessed (`cargo bench -p
//! statkit-wire`): the line ends and the key's end, the two searches whose
//! length varies most from line to line, are found a word at a time
//! (`scan.rs`), which took a third off a line; inside the value, type and
//! rate the fields are a byte or three long and a plain loop is faster
//! still. No search compares sub-slices, which would call `memcmp` once
//! per position, and anything only malformed input needs is kept out of
//! line.

use super::number::{parse_f64, trim_js_space};
use super::scan;
use super::{MetricType, ParseError, Sample, Value, Visitor};

/// Parses every `\n`-separated line of `datagram`. A trailing `\r` on a line
/// is ignored, so CRLF-framed TCP clients work too.
pub fn parse_datagram<'a>(datagram: &'a [u8], visitor: &mut impl Visitor<'a>) {
    let mut rest = datagram;
    while let Some(end) = scan::find(rest, b'\n') {
        parse_framed(&rest[..end], visitor);
        rest = &rest[end + 1..];
    }
    parse_framed(rest, visitor);
}

#[inline]
fn parse_framed<'a>(line: &'a [u8], visitor: &mut impl Visitor<'a>) {
    parse_line(line.strip_suffix(b"\r").unwrap_or(line), visitor);
}

/// Parses one line (without its `\n`). Empty lines are ignored.
pub fn parse_line<'a>(line: &'a [u8], visitor: &mut impl Visitor<'a>) {
    if line.is_empty() {
        return;
    }
    visitor.line();
    if line.starts_with(b"_e{") {
        match is_event(line) {
            true => visitor.event(),
            false => visitor.invalid(line, ParseError::MalformedEvent),
        }
        return;
    }
    if line.starts_with(b"_sc|") {
        match is_service_check(line) {
            true => visitor.service_check(),
            false => visitor.invalid(line, ParseError::MalformedEvent),
        }
        return;
    }
    // One pass finds the key's end and notices a `|` in the key, which is
    // rare enough to be looked at again separately.
    let colon = match scan::find_either(line, b':', b'|') {
        Some(i) if line[i] == b':' => Some(i),
        Some(_) => key_end_past_pipe(line),
        None => None,
    };
    let Some(colon) = colon else {
        visitor.invalid(line, ParseError::MissingValue);
        return;
    };
    let (name, body) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() {
        visitor.invalid(line, ParseError::EmptyKey);
    } else if let Some(sample) = simple(name, body) {
        visitor.sample(sample);
    } else {
        parse_general(line, name, body, visitor);
    }
}

/// Every line shape but the simplest, and every malformed line.
fn parse_general<'a>(
    line: &'a [u8],
    name: &'a [u8],
    body: &'a [u8],
    visitor: &mut impl Visitor<'a>,
) {
    if is_etsy_multi_value(body) {
        parse_etsy_multi(line, name, body, visitor);
    } else {
        parse_packed(line, name, body, visitor);
    }
}

/// The shape nearly every line has: one value, a type and at most a sample
/// rate (`k:1|c`, `k:12.5|ms|@0.1`), read in one pass over the body. It
/// gives exactly the sample the general parsers would; anything else
/// (several values, tags, other fields, a padded type, a bad number) is
/// left to them, and they also report what is wrong.
#[inline]
fn simple<'a>(name: &'a [u8], body: &'a [u8]) -> Option<Sample<'a>> {
    let pipe = field_end(body)?;
    let (raw, rest) = (&body[..pipe], &body[pipe + 1..]);
    let kind_end = field_end(rest).unwrap_or(rest.len());
    let metric_type = MetricType::from_bytes(&rest[..kind_end])?;
    let sample_rate = match rest.get(kind_end + 1..) {
        None => 1.0,
        Some(rate)
            if rate.first() == Some(&b'@') && !rate.iter().any(|&b| b == b'|' || b == b':') =>
        {
            parse_rate(rate).ok()?
        }
        Some(_) => return None,
    };
    let value = parse_value(metric_type, raw).ok()?;
    Some(Sample {
        name,
        tags: b"",
        metric_type,
        value,
        sample_rate,
        timestamp: None,
    })
}

/// Where a field ends at a `|`; `None` at the end of the bytes or at a `:`
/// (which makes the line one of the multi-value forms).
#[inline]
fn field_end(bytes: &[u8]) -> Option<usize> {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'|' => return Some(i),
            b':' => return None,
            _ => {}
        }
    }
    None
}

/// Where the key ends in a line with a `|` before its first `:`. etsy cuts
/// the tags off at the first `|#` before it looks for the key's `:`, so when
/// a `|#` comes first the key has no value at all (`None`); any other `|` is
/// part of the key (`a|b:1|c` is etsy's counter `ab`).
#[cold]
#[inline(never)]
fn key_end_past_pipe(line: &[u8]) -> Option<usize> {
    let colon = line.iter().position(|&b| b == b':')?;
    find_tags(&line[..colon]).is_none().then_some(colon)
}

/// Tells etsy's `key:1|c:2|ms` (each value typed) from DogStatsD's
/// `key:1:2|c` (values sharing the type). In etsy's form a `:` follows the
/// type or the `@rate` of a value; in DogStatsD's form `:` appears after the
/// first `|` only inside tags and `c:`/`e:`/`card:` fields, which never sit
/// in the type position and never start with `@`.
fn is_etsy_multi_value(body: &[u8]) -> bool {
    let Some(pipe) = body.iter().position(|&b| b == b'|') else {
        return false;
    };
    let after_value = &body[pipe + 1..];
    // Each search stops at the end of its field: the tag section that
    // usually follows can be long and is never walked here.
    match after_value.iter().position(|&b| b == b':' || b == b'|') {
        Some(i) if after_value[i] == b':' => true,
        Some(i) if after_value.get(i + 1) == Some(&b'@') => {
            let rate = &after_value[i + 1..];
            let end = rate.iter().position(|&b| b == b':' || b == b'|');
            matches!(end, Some(j) if rate[j] == b':')
        }
        _ => false,
    }
}

/// etsy's own algorithm: the tags are what lies between the first `|#` and
/// the next one (etsy splits the line on `|#` and keeps part 1); the text
/// before them splits on `:` into values, each `value|type[|@rate]`, with
/// any fields after the rate ignored.
fn parse_etsy_multi<'a>(
    line: &'a [u8],
    name: &'a [u8],
    body: &'a [u8],
    visitor: &mut impl Visitor<'a>,
) {
    let (values, tags) = match find_tags(body) {
        Some(i) => {
            let after = &body[i + 2..];
            (
                &body[..i],
                find_tags(after).map_or(after, |end| &after[..end]),
            )
        }
        None => (body, &b""[..]),
    };
    for segment in values.split(|&b| b == b':') {
        let mut fields = segment.split(|&b| b == b'|');
        let raw = fields.next().unwrap_or_default();
        let Some(kind) = fields.next() else {
            visitor.invalid(line, ParseError::MissingType);
            continue;
        };
        let sample_rate = match fields.next() {
            None => Ok(1.0),
            Some(field) => parse_rate(field),
        };
        let sample = sample_rate.and_then(|rate| {
            let metric_type = metric_type(kind)?;
            let value = parse_value(metric_type, raw)?;
            Ok(Sample {
                name,
                tags,
                metric_type,
                value,
                sample_rate: rate,
                timestamp: None,
            })
        });
        match sample {
            Ok(sample) => visitor.sample(sample),
            Err(error) => visitor.invalid(line, error),
        }
    }
}

/// The plain and DogStatsD form: `v[:v...]|type` then optional fields, all
/// shared by every value, so a bad type or field rejects the line once.
fn parse_packed<'a>(
    line: &'a [u8],
    name: &'a [u8],
    body: &'a [u8],
    visitor: &mut impl Visitor<'a>,
) {
    let mut fields = body.split(|&b| b == b'|');
    let values = fields.next().unwrap_or_default();
    let header = fields
        .next()
        .ok_or(ParseError::MissingType)
        .and_then(|kind| {
            let metric_type = metric_type(kind)?;
            let mut meta = Meta {
                sample_rate: 1.0,
                tags: None,
                timestamp: None,
            };
            for field in fields {
                meta.read_field(field)?;
            }
            Ok((metric_type, meta))
        });
    let (metric_type, meta) = match header {
        Ok(header) => header,
        Err(error) => {
            visitor.invalid(line, error);
            return;
        }
    };
    let tags = meta.tags.unwrap_or_default();
    for raw in values.split(|&b| b == b':') {
        match parse_value(metric_type, raw) {
            Ok(value) => visitor.sample(Sample {
                name,
                tags,
                metric_type,
                value,
                sample_rate: meta.sample_rate,
                timestamp: meta.timestamp,
            }),
            Err(error) => visitor.invalid(line, error),
        }
    }
}

/// The optional fields after the type, shared by every value of a line.
struct Meta<'a> {
    sample_rate: f64,
    /// The first tag section: etsy ignores any later one, and so does statkit.
    tags: Option<&'a [u8]>,
    timestamp: Option<u64>,
}

impl<'a> Meta<'a> {
    fn read_field(&mut self, field: &'a [u8]) -> Result<(), ParseError> {
        match field.first() {
            Some(b'@') => self.sample_rate = parse_rate(field)?,
            Some(b'#') => {
                self.tags.get_or_insert(&field[1..]);
            }
            Some(b'T') => self.timestamp = Some(parse_timestamp(&field[1..])?),
            // Origin detection fields (container id, external data,
            // cardinality): accepted and not used.
            _ if field.starts_with(b"c:")
                || field.starts_with(b"e:")
                || field.starts_with(b"card:") => {}
            _ => return Err(ParseError::UnknownField),
        }
        Ok(())
    }
}

#[inline]
fn metric_type(kind: &[u8]) -> Result<MetricType, ParseError> {
    match MetricType::from_bytes(kind) {
        Some(metric_type) => Ok(metric_type),
        None => padded_metric_type(kind),
    }
}

/// etsy trims the type before using it (`fields[1].trim()`), so `1| c` and
/// `1|ms ` are valid there.
#[cold]
#[inline(never)]
fn padded_metric_type(kind: &[u8]) -> Result<MetricType, ParseError> {
    MetricType::from_bytes(trim_js_space(kind)).ok_or(ParseError::UnknownType)
}

fn parse_rate(field: &[u8]) -> Result<f64, ParseError> {
    field
        .strip_prefix(b"@")
        .and_then(parse_f64)
        // A rate so small its reciprocal overflows (`@1e-320`) would weigh
        // the value infinitely.
        .filter(|rate| *rate > 0.0 && (1.0 / rate).is_finite())
        .ok_or(ParseError::InvalidSampleRate)
}

fn parse_timestamp(digits: &[u8]) -> Result<u64, ParseError> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::InvalidTimestamp);
    }
    Ok(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// Always inlined: returned through memory, the value was written as two
/// words and then copied as one 16-byte load, which the processor cannot
/// forward from the two stores; those stalls were half of a counter line's
/// parsing in the server.
#[inline(always)]
fn parse_value(metric_type: MetricType, raw: &[u8]) -> Result<Value<'_>, ParseError> {
    if metric_type == MetricType::Set {
        // etsy stores `fields[0] || '0'`: an empty member is the member "0".
        return Ok(Value::Member(if raw.is_empty() { b"0" } else { raw }));
    }
    let number = parse_f64(raw).ok_or(ParseError::InvalidNumber)?;
    match metric_type {
        MetricType::Gauge if matches!(raw.first(), Some(b'+' | b'-')) => Ok(Value::Delta(number)),
        MetricType::Timer if number < 0.0 => Err(ParseError::InvalidNumber),
        _ => Ok(Value::Number(number)),
    }
}

/// `_e{<title length>,<text length>}:<title>|<text>[|...]`
fn is_event(line: &[u8]) -> bool {
    let Some(close) = line.iter().position(|&b| b == b'}') else {
        return false;
    };
    let lengths = &line[3..close];
    let Some(comma) = lengths.iter().position(|&b| b == b',') else {
        return false;
    };
    let (Some(title), Some(text)) = (decimal(&lengths[..comma]), decimal(&lengths[comma + 1..]))
    else {
        return false;
    };
    let rest = &line[close + 1..];
    rest.first() == Some(&b':')
        && title > 0
        && rest.len() > title + 1 + text
        && rest.get(1 + title) == Some(&b'|')
        && matches!(rest.get(2 + title + text), None | Some(b'|'))
}

/// `_sc|<name>|<status 0-3>[|...]`
fn is_service_check(line: &[u8]) -> bool {
    let mut fields = line.split(|&b| b == b'|').skip(1);
    let name_ok = matches!(fields.next(), Some(name) if !name.is_empty());
    name_ok && matches!(fields.next(), Some(b"0" | b"1" | b"2" | b"3"))
}

fn decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0, |n, &d| n * 10 + usize::from(d - b'0')),
    )
}

/// Where the first `|#` starts.
fn find_tags(haystack: &[u8]) -> Option<usize> {
    haystack
        .windows(2)
        .position(|pair| pair[0] == b'|' && pair[1] == b'#')
}

#[cfg(test)]
mod tests {
    use super::{parse_general, simple};
    use crate::statsd::{ParseError, Sample, Visitor};
    use proptest::prelude::*;

    #[derive(Debug, PartialEq)]
    enum Seen {
        Sample(String),
        Invalid(ParseError),
    }

    #[derive(Default)]
    struct Record(Vec<Seen>);

    impl<'a> Visitor<'a> for Record {
        fn sample(&mut self, sample: Sample<'a>) {
            self.0.push(Seen::Sample(format!("{sample:?}")));
        }
        fn invalid(&mut self, _: &'a [u8], error: ParseError) {
            self.0.push(Seen::Invalid(error));
        }
    }

    fn fragment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "1", "-2", "+3", "12.5", "0", "", " 4", "x", "1e3", "NaN", "|", ":", "c", "ms", "g",
            "s", "h", "d", "@0.5", "@0", "@x", "#a:b", "T12", "c:id", " c", "\r", "|@0.1", "||",
        ])
    }

    proptest! {
        /// Wherever the one-pass reader accepts a line, the general parsers
        /// give exactly the same sample.
        #[test]
        fn the_fast_path_agrees_with_the_general_parsers(parts in prop::collection::vec(fragment(), 1..7)) {
            let body = parts.concat();
            let line = format!("k:{body}");
            let (name, body) = (&line.as_bytes()[..1], &line.as_bytes()[2..]);
            if let Some(fast) = simple(name, body) {
                let mut general = Record::default();
                parse_general(line.as_bytes(), name, body, &mut general);
                prop_assert_eq!(general.0, vec![Seen::Sample(format!("{fast:?}"))]);
            }
        }
    }

    #[test]
    fn the_fast_path_takes_the_common_shapes_only() {
        let accepts = |body: &str| simple(b"k", body.as_bytes()).is_some();
        assert!(accepts("1|c") && accepts("12.5|ms|@0.1") && accepts("+3|g") && accepts("x|s"));
        for other in [
            "1|c|#a:b",
            "1:2|c",
            "1|c:2|ms",
            "1|c|@0.5:2|ms",
            "1| c",
            "1|c|",
            "abc|c",
            "1|c|T1",
        ] {
            assert!(!accepts(other), "{other}");
        }
    }
}
