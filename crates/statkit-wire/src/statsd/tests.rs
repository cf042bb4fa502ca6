//! One test per behaviour of the line parser. Each test records every call
//! the parser makes on its visitor and compares the whole sequence, so a
//! stray sample or a missing error fails as loudly as a wrong value.
//!
//! Where a test pins down etsy statsd 0.9's reading of a line, the comment
//! says what etsy does; where statkit differs on purpose, it says so.

use super::MetricType::{Counter, Distribution, Gauge, Histogram, Set, Timer};
use super::ParseError::*;
use super::Value::{Delta, Member, Number};
use super::{canonical_key, parse_datagram, parse_f64, MetricType, ParseError, Sample, Value};
use super::{parse_line, Visitor};

/// One visitor call.
#[derive(Debug, PartialEq)]
enum Call<'a> {
    Line,
    Metric(Sample<'a>),
    Invalid(&'a [u8], ParseError),
    Event,
    ServiceCheck,
}

use Call::{Event, Line, Metric, ServiceCheck};

#[derive(Default)]
struct Recorder<'a>(Vec<Call<'a>>);

impl<'a> Visitor<'a> for Recorder<'a> {
    fn sample(&mut self, sample: Sample<'a>) {
        self.0.push(Metric(sample));
    }
    fn invalid(&mut self, line: &'a [u8], error: ParseError) {
        self.0.push(Call::Invalid(line, error));
    }
    fn line(&mut self) {
        self.0.push(Line);
    }
    fn event(&mut self) {
        self.0.push(Event);
    }
    fn service_check(&mut self) {
        self.0.push(ServiceCheck);
    }
}

fn parse(datagram: &str) -> Vec<Call<'_>> {
    let mut recorder = Recorder::default();
    parse_datagram(datagram.as_bytes(), &mut recorder);
    recorder.0
}

/// A sample with no tags, no rate and no timestamp; tests adjust the rest
/// with struct update syntax.
fn sample<'a>(name: &'a str, metric_type: MetricType, value: Value<'a>) -> Sample<'a> {
    Sample {
        name: name.as_bytes(),
        tags: b"",
        metric_type,
        value,
        sample_rate: 1.0,
        timestamp: None,
    }
}

fn metric<'a>(name: &'a str, metric_type: MetricType, value: Value<'a>) -> Call<'a> {
    Metric(sample(name, metric_type, value))
}

fn invalid(line: &str, error: ParseError) -> Call<'_> {
    Call::Invalid(line.as_bytes(), error)
}

#[test]
fn basic_counter() {
    assert_eq!(
        parse("hits:1|c"),
        [Line, metric("hits", Counter, Number(1.0))]
    );
}

#[test]
fn counter_takes_any_finite_number() {
    // etsy adds `Number(value)`: negative and fractional counts included.
    assert_eq!(
        parse("a:-2.5|c\nb:1e3|c"),
        [
            Line,
            metric("a", Counter, Number(-2.5)),
            Line,
            metric("b", Counter, Number(1000.0)),
        ]
    );
}

#[test]
fn sampled_counter() {
    assert_eq!(
        parse("hits:3|c|@0.1"),
        [
            Line,
            Metric(Sample {
                sample_rate: 0.1,
                ..sample("hits", Counter, Number(3.0))
            })
        ]
    );
}

#[test]
fn sample_rate_above_one_is_kept() {
    assert_eq!(
        parse("hits:1|c|@2"),
        [
            Line,
            Metric(Sample {
                sample_rate: 2.0,
                ..sample("hits", Counter, Number(1.0))
            })
        ]
    );
}

#[test]
fn sample_rate_must_be_a_positive_number() {
    // etsy accepts `@0` and then divides by it; statkit refuses it.
    for line in [
        "k:1|c|@0",
        "k:1|c|@-0.5",
        "k:1|c|@",
        "k:1|c|@abc",
        "k:1|c|@NaN",
        // Positive, but its reciprocal (the value's weight) overflows.
        "k:1|c|@1e-320",
    ] {
        assert_eq!(
            parse(line),
            [Line, invalid(line, InvalidSampleRate)],
            "{line}"
        );
    }
}

#[test]
fn sample_rate_with_an_exponent_is_read_in_full() {
    // Deliberate: etsy reads `@1e-3` as rate 1 (the digits before the `e`).
    assert_eq!(
        parse("k:1|c|@1e-3"),
        [
            Line,
            Metric(Sample {
                sample_rate: 0.001,
                ..sample("k", Counter, Number(1.0))
            })
        ]
    );
}

#[test]
fn gauge_absolute() {
    assert_eq!(
        parse("temp:21.5|g"),
        [Line, metric("temp", Gauge, Number(21.5))]
    );
}

#[test]
fn gauge_delta() {
    assert_eq!(
        parse("temp:+3|g\ntemp:-2|g"),
        [
            Line,
            metric("temp", Gauge, Delta(3.0)),
            Line,
            metric("temp", Gauge, Delta(-2.0))
        ]
    );
}

#[test]
fn gauge_negative_absolute_vs_delta() {
    // A leading sign makes a delta; etsy tests the sign with /^[-+]/ on the
    // raw text, so a padded negative number is an absolute value.
    assert_eq!(
        parse("g:-5|g\ng: -5|g"),
        [
            Line,
            metric("g", Gauge, Delta(-5.0)),
            Line,
            metric("g", Gauge, Number(-5.0))
        ]
    );
}

#[test]
fn timer() {
    assert_eq!(
        parse("latency:12.25|ms"),
        [Line, metric("latency", Timer, Number(12.25))]
    );
}

#[test]
fn timer_negative_rejected() {
    assert_eq!(
        parse("latency:-1|ms"),
        [Line, invalid("latency:-1|ms", InvalidNumber)]
    );
}

#[test]
fn timer_negative_zero_accepted() {
    // etsy checks `Number(value) >= 0`, which holds for -0.
    assert_eq!(
        parse("latency:-0|ms"),
        [Line, metric("latency", Timer, Number(-0.0))]
    );
}

#[test]
fn histogram_and_distribution_are_timer_like() {
    // Deliberate: etsy counts `h` and `d` as counters. Unlike `ms` they
    // take negative values, as in DogStatsD.
    assert_eq!(
        parse("size:-3|h\nsize:4.5|d"),
        [
            Line,
            metric("size", Histogram, Number(-3.0)),
            Line,
            metric("size", Distribution, Number(4.5))
        ]
    );
    assert!(Histogram.is_timer_like() && Distribution.is_timer_like() && Timer.is_timer_like());
    assert!(!Counter.is_timer_like() && !Gauge.is_timer_like() && !Set.is_timer_like());
}

#[test]
fn set_member() {
    assert_eq!(
        parse("users:alice|s"),
        [Line, metric("users", Set, Member(b"alice"))]
    );
}

#[test]
fn set_member_is_kept_verbatim() {
    // No number parsing and no trimming: etsy stores the text as sent.
    assert_eq!(
        parse("users: 1.0 |s"),
        [Line, metric("users", Set, Member(b" 1.0 "))]
    );
}

#[test]
fn set_empty_member_is_zero() {
    assert_eq!(
        parse("users:|s"),
        [Line, metric("users", Set, Member(b"0"))]
    );
}

#[test]
fn etsy_multi_value() {
    assert_eq!(
        parse("req:1|c:12|ms"),
        [
            Line,
            metric("req", Counter, Number(1.0)),
            metric("req", Timer, Number(12.0))
        ]
    );
}

#[test]
fn etsy_multi_value_with_rate() {
    assert_eq!(
        parse("req:1|c|@0.5:12|ms"),
        [
            Line,
            Metric(Sample {
                sample_rate: 0.5,
                ..sample("req", Counter, Number(1.0))
            }),
            metric("req", Timer, Number(12.0)),
        ]
    );
}

#[test]
fn etsy_multi_value_bad_value_keeps_the_others() {
    let line = "req:1|c:x|g:|s:5|zz:7";
    assert_eq!(
        parse(line),
        [
            Line,
            metric("req", Counter, Number(1.0)),
            invalid(line, InvalidNumber),
            metric("req", Set, Member(b"0")),
            invalid(line, UnknownType),
            invalid(line, MissingType),
        ]
    );
}

#[test]
fn etsy_multi_value_ignores_fields_after_the_rate() {
    assert_eq!(
        parse("req:1|c:2|ms|@0.5|zz"),
        [
            Line,
            metric("req", Counter, Number(1.0)),
            Metric(Sample {
                sample_rate: 0.5,
                ..sample("req", Timer, Number(2.0))
            }),
        ]
    );
}

#[test]
fn colon_after_a_field_past_the_rate_is_not_etsy_multi_value() {
    // Deliberate: etsy reads a counter and a gauge here, but the same shape
    // is DogStatsD's `k:1|c|@0.5|c:<container>`, so `x:2` is an unknown field.
    let line = "req:1|c|@0.5|x:2|g";
    assert_eq!(parse(line), [Line, invalid(line, UnknownField)]);
}

#[test]
fn etsy_multi_value_tags() {
    let tagged = |s: Sample<'static>| {
        Metric(Sample {
            tags: b"env:prod,canary",
            ..s
        })
    };
    assert_eq!(
        parse("req:1|c:2|ms|#env:prod,canary"),
        [
            Line,
            tagged(sample("req", Counter, Number(1.0))),
            tagged(sample("req", Timer, Number(2.0))),
        ]
    );
}

#[test]
fn etsy_multi_value_tags_end_at_the_next_tag_marker() {
    // etsy splits the line on `|#` and keeps only part 1 as tags.
    let tagged = |s: Sample<'static>| Metric(Sample { tags: b"a:b", ..s });
    assert_eq!(
        parse("req:1|c:2|ms|#a:b|#c:d"),
        [
            Line,
            tagged(sample("req", Counter, Number(1.0))),
            tagged(sample("req", Timer, Number(2.0))),
        ]
    );
}

#[test]
fn dogstatsd_packed_values() {
    // Deliberate: etsy would reject `1` and `2` for having no type.
    assert_eq!(
        parse("lat:1:2:3.5|d"),
        [
            Line,
            metric("lat", Distribution, Number(1.0)),
            metric("lat", Distribution, Number(2.0)),
            metric("lat", Distribution, Number(3.5)),
        ]
    );
}

#[test]
fn dogstatsd_packed_values_share_rate_tags_and_timestamp() {
    let shared = |value| {
        Metric(Sample {
            tags: b"env:prod",
            sample_rate: 0.5,
            timestamp: Some(1_700_000_000),
            ..sample("lat", Timer, Number(value))
        })
    };
    assert_eq!(
        parse("lat:1:2|ms|@0.5|#env:prod|T1700000000"),
        [Line, shared(1.0), shared(2.0)]
    );
}

#[test]
fn dogstatsd_packed_bad_value_keeps_the_others() {
    let line = "lat:1:nope:-4|ms";
    assert_eq!(
        parse(line),
        [
            Line,
            metric("lat", Timer, Number(1.0)),
            invalid(line, InvalidNumber),
            invalid(line, InvalidNumber),
        ]
    );
}

#[test]
fn dogstatsd_packed_set_members() {
    assert_eq!(
        parse("ids:a::b|s"),
        [
            Line,
            metric("ids", Set, Member(b"a")),
            metric("ids", Set, Member(b"0")),
            metric("ids", Set, Member(b"b")),
        ]
    );
}

#[test]
fn tags_kept() {
    assert_eq!(
        parse("req:1|c|#env:prod,region:eu,canary"),
        [
            Line,
            Metric(Sample {
                tags: b"env:prod,region:eu,canary",
                ..sample("req", Counter, Number(1.0))
            })
        ]
    );
}

#[test]
fn empty_tag_section_is_no_tags() {
    assert_eq!(
        parse("req:1|c|#"),
        [Line, metric("req", Counter, Number(1.0))]
    );
}

#[test]
fn first_tag_section_wins() {
    // etsy keeps the text between the first and second `|#`.
    assert_eq!(
        parse("req:1|c|#a:b|#c:d"),
        [
            Line,
            Metric(Sample {
                tags: b"a:b",
                ..sample("req", Counter, Number(1.0))
            })
        ]
    );
}

#[test]
fn tags_with_extension_fields() {
    // Deliberate: in DogStatsD form the tags end at the next `|`, where etsy
    // would make `T…` and `c:…` part of the last tag.
    assert_eq!(
        parse("req:1|c|#env:prod|T1700000000|c:abc123"),
        [
            Line,
            Metric(Sample {
                tags: b"env:prod",
                timestamp: Some(1_700_000_000),
                ..sample("req", Counter, Number(1.0))
            }),
        ]
    );
}

#[test]
fn fields_may_come_in_any_order() {
    assert_eq!(
        parse("req:1|c|T5|#a|@0.25"),
        [
            Line,
            Metric(Sample {
                tags: b"a",
                sample_rate: 0.25,
                timestamp: Some(5),
                ..sample("req", Counter, Number(1.0))
            }),
        ]
    );
}

#[test]
fn timestamp_field() {
    assert_eq!(
        parse("g:7|g|T1700000000"),
        [
            Line,
            Metric(Sample {
                timestamp: Some(1_700_000_000),
                ..sample("g", Gauge, Number(7.0))
            })
        ]
    );
}

#[test]
fn timestamp_must_be_whole_seconds() {
    for line in [
        "g:7|g|T",
        "g:7|g|T1.5",
        "g:7|g|T-1",
        "g:7|g|T12345678901234567890",
    ] {
        assert_eq!(
            parse(line),
            [Line, invalid(line, InvalidTimestamp)],
            "{line}"
        );
    }
}

#[test]
fn largest_timestamp_does_not_overflow() {
    assert_eq!(
        parse("g:7|g|T9999999999999999999"),
        [
            Line,
            Metric(Sample {
                timestamp: Some(9_999_999_999_999_999_999),
                ..sample("g", Gauge, Number(7.0))
            })
        ]
    );
}

#[test]
fn container_field_tolerated() {
    assert_eq!(
        parse("req:1|c|c:0123abcd"),
        [Line, metric("req", Counter, Number(1.0))]
    );
}

#[test]
fn origin_fields_tolerated() {
    assert_eq!(
        parse("req:1|c|e:it-false,cn-web|card:high|c:ci-42"),
        [Line, metric("req", Counter, Number(1.0))]
    );
}

#[test]
fn unknown_field_rejected() {
    // Deliberate: etsy ignores what follows the rate.
    for line in [
        "req:1|c|x",
        "req:1|c|@0.5|zz",
        "req:1|c|card",
        "req:1|c||#a",
    ] {
        assert_eq!(parse(line), [Line, invalid(line, UnknownField)], "{line}");
    }
}

#[test]
fn events() {
    assert_eq!(
        parse("_e{5,4}:title|text\n_e{5,4}:title|text|d:1700000000|p:low|#env:prod"),
        [Line, Event, Line, Event]
    );
}

#[test]
fn event_text_may_hold_pipes_and_be_empty() {
    // The lengths, not the separators, delimit title and text.
    assert_eq!(
        parse("_e{5,3}:title|a|b\n_e{1,0}:t|"),
        [Line, Event, Line, Event]
    );
}

#[test]
fn malformed_event() {
    for line in [
        "_e{5,4}:titl|text",
        "_e{5,4}:title|tex",
        "_e{5,4}:title|textmore",
        "_e{0,4}:|text",
        "_e{5}:title|text",
        "_e{a,4}:title|text",
        "_e{5,4}title|text",
        "_e{5,4",
        "_e{9999999999,1}:t|x",
    ] {
        assert_eq!(parse(line), [Line, invalid(line, MalformedEvent)], "{line}");
    }
}

#[test]
fn service_checks() {
    assert_eq!(
        parse("_sc|db.up|0\n_sc|db.up|3|d:1700000000|h:web1|#env:prod|m:all good"),
        [Line, ServiceCheck, Line, ServiceCheck]
    );
}

#[test]
fn malformed_service_check() {
    for line in ["_sc|db.up|4", "_sc||0", "_sc|db.up", "_sc|db.up|ok"] {
        assert_eq!(parse(line), [Line, invalid(line, MalformedEvent)], "{line}");
    }
}

#[test]
fn missing_value() {
    assert_eq!(
        parse("just.a.key"),
        [Line, invalid("just.a.key", MissingValue)]
    );
}

#[test]
fn missing_type() {
    for line in ["k:1", "k:", "k:1:2"] {
        assert_eq!(parse(line), [Line, invalid(line, MissingType)], "{line}");
    }
}

#[test]
fn unknown_type() {
    // Deliberate: etsy counts any other type as a counter.
    for line in ["k:1|x", "k:1|C", "k:1|", "k:1|msx"] {
        assert_eq!(parse(line), [Line, invalid(line, UnknownType)], "{line}");
    }
}

#[test]
fn type_padded_with_whitespace() {
    // etsy trims the type (`fields[1].trim()`), JavaScript whitespace included.
    assert_eq!(
        parse("a:1| c\nb:2|ms \nc:3|\u{a0}g"),
        [
            Line,
            metric("a", Counter, Number(1.0)),
            Line,
            metric("b", Timer, Number(2.0)),
            Line,
            metric("c", Gauge, Number(3.0)),
        ]
    );
}

#[test]
fn empty_key() {
    // Deliberate: etsy files the value under the key "".
    assert_eq!(parse(":1|c"), [Line, invalid(":1|c", EmptyKey)]);
}

#[test]
fn key_may_hold_a_pipe() {
    // etsy keeps it (and its sanitizer deletes it later).
    assert_eq!(
        parse("a|b:1|c"),
        [Line, metric("a|b", Counter, Number(1.0))]
    );
}

#[test]
fn tag_marker_before_the_first_colon_leaves_no_value() {
    // etsy cuts the tags off first, leaving the key `a` with no value.
    assert_eq!(
        parse("a|#env:prod:1|c"),
        [Line, invalid("a|#env:prod:1|c", MissingValue)]
    );
}

#[test]
fn key_keeps_every_byte() {
    // Sanitizing is canonical_key's job, not the parser's.
    assert_eq!(
        parse("we ird/kéy!:1|c"),
        [Line, metric("we ird/kéy!", Counter, Number(1.0))]
    );
}

#[test]
fn crlf() {
    assert_eq!(
        parse("a:1|c\r\nb:2|g\r\n"),
        [
            Line,
            metric("a", Counter, Number(1.0)),
            Line,
            metric("b", Gauge, Number(2.0))
        ]
    );
}

#[test]
fn only_one_trailing_cr_is_dropped() {
    // The remaining `\r` pads the type, which etsy trims.
    assert_eq!(
        parse("a:1|c\r\r"),
        [Line, metric("a", Counter, Number(1.0))]
    );
}

#[test]
fn empty_lines_are_not_lines() {
    assert_eq!(
        parse("\n\na:1|c\n\r\n\n"),
        [Line, metric("a", Counter, Number(1.0))]
    );
}

#[test]
fn bad_lines_do_not_stop_the_datagram() {
    assert_eq!(
        parse("a:1|c\ngarbage\nb:2|c"),
        [
            Line,
            metric("a", Counter, Number(1.0)),
            Line,
            invalid("garbage", MissingValue),
            Line,
            metric("b", Counter, Number(2.0)),
        ]
    );
}

#[test]
fn parse_line_reports_one_line() {
    let mut recorder = Recorder::default();
    parse_line(b"", &mut recorder);
    parse_line(b"a:1|c", &mut recorder);
    assert_eq!(recorder.0, [Line, metric("a", Counter, Number(1.0))]);
}

#[test]
fn nan_infinity_and_hex_refused() {
    // Deliberate: etsy's Number() accepts all of these.
    for line in [
        "k:NaN|c",
        "k:Infinity|g",
        "k:-Infinity|ms",
        "k:1e999|c",
        "k:0x10|c",
        "k:0b1|c",
    ] {
        assert_eq!(parse(line), [Line, invalid(line, InvalidNumber)], "{line}");
    }
}

#[test]
fn whitespace_alone_is_not_a_number() {
    // Deliberate: etsy's Number(" ") is 0.
    assert_eq!(parse("k: |c"), [Line, invalid("k: |c", InvalidNumber)]);
}

#[test]
fn numbers_padded_with_javascript_whitespace() {
    // Number() trims vertical tabs, no-break spaces and byte order marks too.
    assert_eq!(
        parse("a:\u{b}1|c\nb:2\u{a0}|g\nc:\u{feff}3\u{3000}|ms"),
        [
            Line,
            metric("a", Counter, Number(1.0)),
            Line,
            metric("b", Gauge, Number(2.0)),
            Line,
            metric("c", Timer, Number(3.0)),
        ]
    );
}

#[test]
fn javascript_whitespace_trimming_stops_at_other_characters() {
    assert_eq!(
        parse_f64(" \u{2028}\u{200a}-7.5\u{205f}\t".as_bytes()),
        Some(-7.5)
    );
    assert_eq!(
        parse_f64("\u{180e}1".as_bytes()),
        None,
        "not whitespace since Unicode 6.3"
    );
    assert_eq!(parse_f64(b"\xc2"), None, "a lone lead byte is not a space");
    assert_eq!(
        parse_f64(b"1\xa0"),
        None,
        "a lone continuation byte is not a space"
    );
}

#[test]
fn number_fast_path_edges() {
    assert_eq!(
        parse_f64(b"9007199254740992"),
        Some(9_007_199_254_740_992.0)
    );
    assert_eq!(
        parse_f64(b"9007199254740993"),
        Some(9_007_199_254_740_992.0)
    );
    assert_eq!(parse_f64(b"123456789012.345"), Some(123_456_789_012.345));
    assert_eq!(parse_f64(b"-.5"), Some(-0.5));
    assert_eq!(parse_f64(b"1.e5"), Some(100_000.0));
    assert_eq!(parse_f64(b"+"), None);
    assert_eq!(parse_f64(b"-."), None);
    assert_eq!(parse_f64(b".e1"), None);
}

#[test]
fn canonical_key_of_a_parsed_sample() {
    let mut recorder = Recorder::default();
    parse_datagram(b"api req/s:1|c|#env:prod,path:/v1", &mut recorder);
    let [Line, Metric(sample)] = recorder.0.as_slice() else {
        panic!("unexpected calls {:?}", recorder.0);
    };
    let mut scratch = Vec::new();
    assert_eq!(
        canonical_key(sample.name, sample.tags, true, &mut scratch),
        b"api_req-s;env=prod;path=-v1"
    );
}
