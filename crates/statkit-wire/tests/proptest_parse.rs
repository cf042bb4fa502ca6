//! Properties of the statsd parser and the key sanitizer:
//!
//! - no input makes the parser panic, and what it reports is consistent
//!   (one `line` per non-empty line, borrowed slices inside the input,
//!   finite numbers, positive rates);
//! - lines built from known samples parse back to exactly those samples;
//! - sanitized keys hold only kept bytes, match a plain model of etsy's
//!   three regular expressions, and sanitizing them again changes nothing.

use proptest::prelude::*;
use proptest::sample::select;
use statkit_wire::statsd::{
    canonical_key, is_kept_key_byte, parse_datagram, sanitize_in_place, MetricType, ParseError,
    Sample, Value, Visitor,
};

/// Everything the parser reported, owned so it can outlive the visitor.
#[derive(Default)]
struct Seen<'a> {
    lines: usize,
    samples: Vec<Sample<'a>>,
    invalid: Vec<(&'a [u8], ParseError)>,
}

impl<'a> Visitor<'a> for Seen<'a> {
    fn sample(&mut self, sample: Sample<'a>) {
        self.samples.push(sample);
    }
    fn invalid(&mut self, line: &'a [u8], error: ParseError) {
        self.invalid.push((line, error));
    }
    fn line(&mut self) {
        self.lines += 1;
    }
}

fn is_inside(part: &[u8], whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    let part = part.as_ptr_range();
    range.start <= part.start && part.end <= range.end
}

/// Checks what the parser reported about `input` against what any report
/// must satisfy, whatever the input.
fn check_report(input: &[u8]) -> Result<(), TestCaseError> {
    let mut seen = Seen::default();
    parse_datagram(input, &mut seen);
    let non_empty = input
        .split(|&b| b == b'\n')
        .filter(|line| !line.strip_suffix(b"\r").unwrap_or(line).is_empty())
        .count();
    prop_assert_eq!(seen.lines, non_empty);
    for sample in &seen.samples {
        prop_assert!(!sample.name.is_empty() && is_inside(sample.name, input));
        prop_assert!(sample.tags.is_empty() || is_inside(sample.tags, input));
        prop_assert!(sample.sample_rate.is_finite() && sample.sample_rate > 0.0);
        match sample.value {
            Value::Number(n) => prop_assert!(n.is_finite()),
            Value::Delta(n) => {
                prop_assert!(n.is_finite());
                prop_assert_eq!(sample.metric_type, MetricType::Gauge);
            }
            Value::Member(m) => {
                prop_assert_eq!(sample.metric_type, MetricType::Set);
                prop_assert!(m == b"0" || is_inside(m, input));
            }
        }
        if sample.metric_type == MetricType::Timer {
            prop_assert!(matches!(sample.value, Value::Number(n) if n >= 0.0));
        }
    }
    for (line, _) in &seen.invalid {
        prop_assert!(is_inside(line, input));
    }
    Ok(())
}

/// Bytes that mean something to the parser, so random input reaches past
/// the first check more often than uniform bytes do.
fn statsd_token() -> impl Strategy<Value = &'static [u8]> {
    select(
        [
            "k", "a.b", "1", "-", "+", ".", "5.5", "1e3", "e", ":", ":", "|", "|", "@", "@0.5",
            "#", "|#", ",", "c", "g", "ms", "s", "h", "d", "T", "T17", "c:", "card:", "e:", "\n",
            "\r", " ", "\u{a0}", "\u{feff}", "_e{", "_sc|", "{", "}", "0", "9", "NaN", "0x",
        ]
        .map(str::as_bytes)
        .into_iter()
        .chain([&b"\xff"[..], b"\xc2", b"\xe2\x80"])
        .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
        check_report(&input)?;
    }

    #[test]
    fn statsd_like_bytes_never_panic(tokens in prop::collection::vec(statsd_token(), 0..60)) {
        check_report(&tokens.concat())?;
    }
}

/// What one generated value should parse into.
#[derive(Clone, Debug)]
enum Expected {
    Number(f64),
    Delta(f64),
    Member(String),
}

/// A value's text and its expected meaning, for a given type.
fn value(metric_type: MetricType) -> BoxedStrategy<(String, Expected)> {
    let number = prop_oneof![
        (-1000i32..1000).prop_map(f64::from),
        -1.0e6f64..1.0e6,
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ];
    // Both spellings round-trip exactly; the short one takes the fast path.
    let spelled = (number, any::<bool>()).prop_map(|(v, exponent)| {
        let text = if exponent {
            format!("{v:e}")
        } else {
            format!("{v}")
        };
        (text, v)
    });
    match metric_type {
        MetricType::Set => "[A-Za-z0-9._-]{0,8}"
            .prop_map(|m| {
                let member = if m.is_empty() {
                    "0".to_owned()
                } else {
                    m.clone()
                };
                (m, Expected::Member(member))
            })
            .boxed(),
        MetricType::Gauge => (spelled, any::<bool>())
            .prop_map(|((text, v), plus)| {
                if text.starts_with('-') {
                    (text, Expected::Delta(v))
                } else if plus {
                    (format!("+{text}"), Expected::Delta(v))
                } else {
                    (text, Expected::Number(v))
                }
            })
            .boxed(),
        MetricType::Timer => spelled
            .prop_map(|(text, v)| {
                let text = text.trim_start_matches('-').to_owned();
                (text, Expected::Number(v.abs()))
            })
            .boxed(),
        _ => spelled
            .prop_map(|(text, v)| (text, Expected::Number(v)))
            .boxed(),
    }
}

fn metric_type() -> impl Strategy<Value = (MetricType, &'static str)> {
    select(vec![
        (MetricType::Counter, "c"),
        (MetricType::Gauge, "g"),
        (MetricType::Timer, "ms"),
        (MetricType::Histogram, "h"),
        (MetricType::Distribution, "d"),
        (MetricType::Set, "s"),
    ])
}

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,24}"
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![Just(1.0), 0.000_001f64..=1.0, 1.0f64..1000.0]
}

/// A DogStatsD tag section: bare tags and `name:value` tags.
fn tags() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9_./-]{1,8}(:[a-z0-9_./:#-]{0,8})?", 1..5)
        .prop_map(|t| t.join(","))
}

/// One generated line and the samples it must parse into. The samples are
/// kept as plain data because they borrow from the line only once it is
/// part of a datagram.
#[derive(Clone, Debug)]
struct Line {
    text: String,
    samples: Vec<Want>,
}

#[derive(Clone, Debug)]
struct Want {
    name: String,
    tags: String,
    metric_type: MetricType,
    value: Expected,
    sample_rate: f64,
    timestamp: Option<u64>,
}

/// `key:v[:v...]|type` with optional fields in any order.
fn packed_line() -> impl Strategy<Value = Line> {
    metric_type()
        .prop_flat_map(|(metric_type, letter)| {
            (
                key(),
                Just((metric_type, letter)),
                prop::collection::vec(value(metric_type), 1..5),
                prop::option::of(rate()),
                prop::option::of(tags()),
                prop::option::of(0u64..=9_999_999_999_999_999_999),
                prop::option::of("[a-z0-9]{1,12}"),
            )
        })
        .prop_flat_map(
            |(key, (metric_type, letter), values, rate, tags, timestamp, container)| {
                let mut fields = Vec::new();
                fields.extend(rate.map(|r| format!("@{r}")));
                fields.extend(tags.clone().map(|t| format!("#{t}")));
                fields.extend(timestamp.map(|t| format!("T{t}")));
                fields.extend(container.map(|c| format!("c:{c}")));
                let texts: Vec<String> = values.iter().map(|(text, _)| text.clone()).collect();
                let head = format!("{key}:{}|{letter}", texts.join(":"));
                let samples = values
                    .into_iter()
                    .map(|(_, value)| Want {
                        name: key.clone(),
                        tags: tags.clone().unwrap_or_default(),
                        metric_type,
                        value,
                        sample_rate: rate.unwrap_or(1.0),
                        timestamp,
                    })
                    .collect::<Vec<_>>();
                Just(fields).prop_shuffle().prop_map(move |fields| {
                    let mut text = head.clone();
                    for field in &fields {
                        text.push('|');
                        text.push_str(field);
                    }
                    Line {
                        text,
                        samples: samples.clone(),
                    }
                })
            },
        )
}

/// etsy's `key:v|type[|@rate]:v|type[|@rate]...[|#tags]`, two values or more.
fn etsy_line() -> impl Strategy<Value = Line> {
    let segment = metric_type().prop_flat_map(|(metric_type, letter)| {
        (
            Just((metric_type, letter)),
            value(metric_type),
            prop::option::of(rate()),
        )
    });
    (
        key(),
        prop::collection::vec(segment, 2..5),
        prop::option::of(tags()),
    )
        .prop_map(|(key, segments, tags)| {
            let mut texts = Vec::new();
            let mut samples = Vec::new();
            for ((metric_type, letter), (value_text, value), rate) in segments {
                texts.push(match rate {
                    Some(r) => format!("{value_text}|{letter}|@{r}"),
                    None => format!("{value_text}|{letter}"),
                });
                samples.push(Want {
                    name: key.clone(),
                    tags: tags.clone().unwrap_or_default(),
                    metric_type,
                    value,
                    sample_rate: rate.unwrap_or(1.0),
                    timestamp: None,
                });
            }
            let mut text = format!("{key}:{}", texts.join(":"));
            if let Some(tags) = &tags {
                text.push_str("|#");
                text.push_str(tags);
            }
            Line { text, samples }
        })
}

fn to_value(expected: &Expected) -> Value<'_> {
    match expected {
        Expected::Number(v) => Value::Number(*v),
        Expected::Delta(v) => Value::Delta(*v),
        Expected::Member(m) => Value::Member(m.as_bytes()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn valid_lines_parse_back_to_their_samples(
        lines in prop::collection::vec(prop_oneof![packed_line(), etsy_line()], 1..8),
        crlf in any::<bool>(),
    ) {
        let separator = if crlf { "\r\n" } else { "\n" };
        let datagram = lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join(separator);
        let mut seen = Seen::default();
        parse_datagram(datagram.as_bytes(), &mut seen);

        let wants: Vec<&Want> = lines.iter().flat_map(|l| &l.samples).collect();
        let expected: Vec<Sample<'_>> = wants
            .iter()
            .map(|w| Sample {
                name: w.name.as_bytes(),
                tags: w.tags.as_bytes(),
                metric_type: w.metric_type,
                value: to_value(&w.value),
                sample_rate: w.sample_rate,
                timestamp: w.timestamp,
            })
            .collect();
        prop_assert_eq!(seen.lines, lines.len());
        prop_assert_eq!(seen.invalid, vec![]);
        prop_assert_eq!(seen.samples, expected);
    }
}

/// etsy's sanitizer written the obvious way, over decoded text: tags
/// appended with their first `;` and `:` replaced, then `\s+` -> `_`,
/// `/` -> `-`, and everything outside `[A-Za-z0-9_.;=-]` deleted.
fn model_key(name: &[u8], tags: &[u8]) -> Vec<u8> {
    let mut key = String::from_utf8_lossy(name).into_owned();
    if !tags.is_empty() {
        for tag in String::from_utf8_lossy(tags).split(',') {
            key.push(';');
            key.push_str(&tag.replacen(';', "_", 1).replacen(':', "=", 1));
        }
    }
    let is_js_space = |c: char| {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    };
    let mut out = String::new();
    let mut in_space = false;
    for c in key.chars() {
        if is_js_space(c) {
            if !in_space {
                out.push('_');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        match c {
            '/' => out.push('-'),
            c if c.is_ascii_alphanumeric() || "_.;=-".contains(c) => out.push(c),
            _ => {}
        }
    }
    out.into_bytes()
}

/// Key material: mostly readable, with the bytes the sanitizer treats
/// specially and some that are not UTF-8.
fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 ._;:=,/#|-]{1,6}".prop_map(String::into_bytes),
        select(vec![
            "\t", "\u{a0}", "\u{2003}", "\u{3000}", "\u{feff}", "\u{85}", "é", "\u{180e}"
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn sanitized_keys_hold_only_kept_bytes_and_are_stable(
        name in key_bytes(),
        tags in key_bytes(),
    ) {
        let mut scratch = Vec::new();
        let key = canonical_key(&name, &tags, true, &mut scratch).to_vec();
        prop_assert!(key.iter().all(|&b| is_kept_key_byte(b)), "{:?}", key);
        prop_assert_eq!(&key, &model_key(&name, &tags));

        let mut again = Vec::new();
        let resanitized = canonical_key(&key, b"", true, &mut again);
        prop_assert_eq!(resanitized, &key[..]);
        prop_assert_eq!(resanitized.as_ptr(), key.as_ptr(), "a clean key is borrowed, not copied");
        let mut in_place = key.clone();
        sanitize_in_place(&mut in_place);
        prop_assert_eq!(in_place, key);
    }

    #[test]
    fn unsanitized_keys_without_tags_are_untouched(name in key_bytes()) {
        let mut scratch = Vec::new();
        prop_assert_eq!(canonical_key(&name, b"", false, &mut scratch), &name[..]);
    }
}
