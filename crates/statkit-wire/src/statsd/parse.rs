//! The line parser. See the module documentation of [`super`] for the
//! grammar; this file only walks bytes.

use super::number::parse_f64;
use super::{MetricType, ParseError, Sample, Value, Visitor};

/// Parses every `\n`-separated line of `datagram`. A trailing `\r` on a line
/// is ignored, so CRLF-framed TCP clients work too.
pub fn parse_datagram<'a>(datagram: &'a [u8], visitor: &mut impl Visitor<'a>) {
    for line in datagram.split(|&b| b == b'\n') {
        parse_line(line.strip_suffix(b"\r").unwrap_or(line), visitor);
    }
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
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        visitor.invalid(line, ParseError::MissingValue);
        return;
    };
    let (name, body) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() {
        visitor.invalid(line, ParseError::EmptyKey);
    } else if is_etsy_multi_value(body) {
        parse_etsy_multi(line, name, body, visitor);
    } else {
        parse_packed(line, name, body, visitor);
    }
}

/// Tells etsy's `key:1|c:2|ms` (each value typed) from DogStatsD's
/// `key:1:2|c` (values sharing the type). In etsy's form a `:` follows the
/// type or the `@rate` of a value; in DogStatsD's form `:` appears after the
/// first `|` only inside tags and `c:`/`e:`/`card:` fields, which never sit
/// in the type position and never start with `@`.
fn is_etsy_multi_value(body: &[u8]) -> bool {
    let mut fields = body.split(|&b| b == b'|').skip(1);
    let Some(kind) = fields.next() else { return false };
    if kind.contains(&b':') {
        return true;
    }
    matches!(fields.next(), Some(f) if f.first() == Some(&b'@') && f.contains(&b':'))
}

/// etsy's own algorithm: tags are everything after the first `|#`; the rest
/// splits on `:` into values, each `value|type[|@rate]`, fields after the
/// rate ignored.
fn parse_etsy_multi<'a>(line: &'a [u8], name: &'a [u8], body: &'a [u8], visitor: &mut impl Visitor<'a>) {
    let (values, tags) = match find(body, b"|#") {
        Some(i) => (&body[..i], &body[i + 2..]),
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
            let metric_type = MetricType::from_bytes(kind).ok_or(ParseError::UnknownType)?;
            let value = parse_value(metric_type, raw)?;
            Ok(Sample { name, tags, metric_type, value, sample_rate: rate, timestamp: None })
        });
        match sample {
            Ok(sample) => visitor.sample(sample),
            Err(error) => visitor.invalid(line, error),
        }
    }
}

/// The plain and DogStatsD form: `v[:v...]|type` then optional fields.
fn parse_packed<'a>(line: &'a [u8], name: &'a [u8], body: &'a [u8], visitor: &mut impl Visitor<'a>) {
    let mut fields = body.split(|&b| b == b'|');
    let values = fields.next().unwrap_or_default();
    let header = fields.next().ok_or(ParseError::MissingType).and_then(|kind| {
        let metric_type = MetricType::from_bytes(kind).ok_or(ParseError::UnknownType)?;
        let mut meta = Meta { sample_rate: 1.0, tags: b"", timestamp: None };
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
    for raw in values.split(|&b| b == b':') {
        match parse_value(metric_type, raw) {
            Ok(value) => visitor.sample(Sample {
                name,
                tags: meta.tags,
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
    tags: &'a [u8],
    timestamp: Option<u64>,
}

impl<'a> Meta<'a> {
    fn read_field(&mut self, field: &'a [u8]) -> Result<(), ParseError> {
        match field.first() {
            Some(b'@') => self.sample_rate = parse_rate(field)?,
            Some(b'#') => self.tags = &field[1..],
            Some(b'T') => self.timestamp = Some(parse_timestamp(&field[1..])?),
            // Origin detection fields (container id, external data,
            // cardinality): accepted and not used.
            _ if field.starts_with(b"c:") || field.starts_with(b"e:") || field.starts_with(b"card:") => {}
            _ => return Err(ParseError::UnknownField),
        }
        Ok(())
    }
}

fn parse_rate(field: &[u8]) -> Result<f64, ParseError> {
    field
        .strip_prefix(b"@")
        .and_then(parse_f64)
        .filter(|rate| *rate > 0.0)
        .ok_or(ParseError::InvalidSampleRate)
}

fn parse_timestamp(digits: &[u8]) -> Result<u64, ParseError> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::InvalidTimestamp);
    }
    Ok(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

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
    let Some(close) = line.iter().position(|&b| b == b'}') else { return false };
    let lengths = &line[3..close];
    let Some(comma) = lengths.iter().position(|&b| b == b',') else { return false };
    let (Some(title), Some(text)) = (decimal(&lengths[..comma]), decimal(&lengths[comma + 1..])) else {
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
    Some(digits.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
