//! Everything the client writes is read back by statkit's own parser as the
//! metric that was meant: same name, type, value, rate and tags, and nothing
//! rejected.

use std::time::Duration;

use proptest::prelude::*;
use statkit::client::sink::Spy;
use statkit::Client;
use statkit_wire::statsd::{self, MetricType, ParseError, Sample, Value};

/// An owned copy of a parsed sample, so tests can compare whole values.
#[derive(Clone, Debug, PartialEq)]
struct Parsed {
    name: String,
    tags: String,
    metric_type: MetricType,
    value: ParsedValue,
    rate: f64,
}

#[derive(Clone, Debug, PartialEq)]
enum ParsedValue {
    Number(f64),
    Delta(f64),
    Member(String),
}

#[derive(Default)]
struct Collect {
    samples: Vec<Parsed>,
    rejected: Vec<(String, ParseError)>,
}

impl<'a> statsd::Visitor<'a> for Collect {
    fn sample(&mut self, sample: Sample<'a>) {
        let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).expect("client writes UTF-8");
        self.samples.push(Parsed {
            name: text(sample.name),
            tags: text(sample.tags),
            metric_type: sample.metric_type,
            value: match sample.value {
                Value::Number(n) => ParsedValue::Number(n),
                Value::Delta(d) => ParsedValue::Delta(d),
                Value::Member(m) => ParsedValue::Member(text(m)),
            },
            rate: sample.sample_rate,
        });
    }

    fn invalid(&mut self, line: &'a [u8], error: ParseError) {
        self.rejected
            .push((String::from_utf8_lossy(line).into_owned(), error));
    }
}

/// Parses every payload the spy received, as the server would.
fn parse_all(payloads: &[Vec<u8>]) -> Vec<Parsed> {
    let mut collect = Collect::default();
    for payload in payloads {
        statsd::parse_datagram(payload, &mut collect);
    }
    assert_eq!(
        collect.rejected,
        [],
        "the parser rejected lines the client wrote"
    );
    collect.samples
}

fn expect(
    name: &str,
    tags: &str,
    metric_type: MetricType,
    value: ParsedValue,
    rate: f64,
) -> Parsed {
    Parsed {
        name: name.to_owned(),
        tags: tags.to_owned(),
        metric_type,
        value,
        rate,
    }
}

fn spy_client(max_datagram: usize) -> (Client, Spy) {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .prefix("app")
        .tag("env", "test")
        .max_datagram(max_datagram)
        .build()
        .expect("a spy client always builds");
    (client, spy)
}

#[test]
fn every_metric_kind_reads_back_as_sent() {
    use MetricType::*;
    use ParsedValue::*;
    // Small datagrams, so lines are split across several of them too.
    let (client, spy) = spy_client(64);
    let tags = [
        ("route", "/api/v1"),
        ("url", "http://x:80/"),
        ("canary", ""),
    ];
    client.incr("hits");
    client.decr("hits");
    client.count("bytes", -12_345);
    client.gauge("depth", 17.25);
    client.gauge("temperature", -4.5);
    client.gauge_delta("depth", 2.0);
    client.gauge_delta("depth", -0.5);
    client.timing("db", Duration::from_nanos(1_234_567));
    client.timing("db", 0.001);
    client.timing("db", 250u64);
    client.histogram("size", 1e21);
    client.distribution("latency", 1.5e-7);
    client.set("users", 42);
    client.set("users", "ann");
    client.tagged(&tags).incr("tagged");
    client.tagged(&tags).sampled(1.0).incr("unsampled");
    client.flush();

    let all = "env:test,route:/api/v1,url:http://x:80/,canary";
    let expected = vec![
        expect("app.hits", "env:test", Counter, Number(1.0), 1.0),
        expect("app.hits", "env:test", Counter, Number(-1.0), 1.0),
        expect("app.bytes", "env:test", Counter, Number(-12_345.0), 1.0),
        expect("app.depth", "env:test", Gauge, Number(17.25), 1.0),
        expect("app.temperature", "env:test", Gauge, Number(0.0), 1.0),
        expect("app.temperature", "env:test", Gauge, Delta(-4.5), 1.0),
        expect("app.depth", "env:test", Gauge, Delta(2.0), 1.0),
        expect("app.depth", "env:test", Gauge, Delta(-0.5), 1.0),
        expect("app.db", "env:test", Timer, Number(1.234567), 1.0),
        expect("app.db", "env:test", Timer, Number(0.001), 1.0),
        expect("app.db", "env:test", Timer, Number(250.0), 1.0),
        expect("app.size", "env:test", Histogram, Number(1e21), 1.0),
        expect("app.latency", "env:test", Distribution, Number(1.5e-7), 1.0),
        expect("app.users", "env:test", Set, Member("42".to_owned()), 1.0),
        expect("app.users", "env:test", Set, Member("ann".to_owned()), 1.0),
        expect("app.tagged", all, Counter, Number(1.0), 1.0),
        expect("app.unsampled", all, Counter, Number(1.0), 1.0),
    ];
    let payloads = spy.take();
    assert!(
        payloads.len() > 1,
        "expected several datagrams, got {payloads:?}"
    );
    let fits = |p: &Vec<u8>| p.len() <= 64 || !p.contains(&b'\n');
    assert!(
        payloads.iter().all(fits),
        "only a lone line may exceed 64 bytes: {payloads:?}"
    );
    assert_eq!(parse_all(&payloads), expected);
}

#[test]
fn sampled_metrics_read_back_with_their_rate() {
    let (client, spy) = spy_client(1432);
    // At rate 0.5, 200 calls all sampled out has probability 2^-200.
    for _ in 0..200 {
        client
            .sampled(0.5)
            .tagged(&[("k", "v")])
            .count("sampled", 3);
    }
    client.flush();
    let parsed = parse_all(&spy.take());
    assert!(!parsed.is_empty());
    let one = expect(
        "app.sampled",
        "env:test,k:v",
        MetricType::Counter,
        ParsedValue::Number(3.0),
        0.5,
    );
    assert!(parsed.iter().all(|p| *p == one), "{parsed:?}");
}

#[test]
fn durations_read_back_as_their_exact_milliseconds() {
    let (client, spy) = spy_client(1432);
    let durations = [0, 1, 999, 1_000, 1_000_001, 123_456_789, 86_400_000_000_007];
    for nanos in durations {
        client.timing("t", Duration::from_nanos(nanos));
    }
    client.flush();
    let values: Vec<_> = parse_all(&spy.take())
        .into_iter()
        .map(|p| p.value)
        .collect();
    let expected: Vec<_> = durations
        .iter()
        .map(|&n| ParsedValue::Number(n as f64 / 1e6))
        .collect();
    assert_eq!(values, expected);
}

#[test]
fn timer_guard_reads_back_as_a_timing() {
    let (client, spy) = spy_client(1432);
    let elapsed = client.tagged(&[("step", "load")]).time("guarded").stop();
    client.flush();
    let expected = ParsedValue::Number(elapsed.as_nanos() as f64 / 1e6);
    let parsed = parse_all(&spy.take());
    assert_eq!(
        parsed,
        [expect(
            "app.guarded",
            "env:test,step:load",
            MetricType::Timer,
            expected,
            1.0
        )]
    );
}

/// The cleaning rules, restated independently of the client's code.
fn cleaned(text: &str, also: &[char]) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_control() || ['|', '#'].contains(&c) || also.contains(&c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn cleaned_name(name: &str) -> String {
    let name = cleaned(name, &[':']);
    match name.strip_prefix("_e{") {
        Some(rest) => format!("_e_{rest}"),
        None => name,
    }
}

fn any_text() -> impl Strategy<Value = String> {
    // Arbitrary Unicode, with the protocol's own bytes made common.
    prop_oneof![".*", "[a-z:|#,@\n\r\t {}_e]{0,12}", "_e\\{[a-z:|]{0,6}"]
}

proptest! {
    #[test]
    fn arbitrary_names_tags_and_members_never_break_a_line(
        name in any_text().prop_filter("names must not be empty", |n| !n.is_empty()),
        key in any_text(),
        value in any_text(),
        member in any_text().prop_filter("members must not be empty", |m| !m.is_empty()),
        count in any::<i64>(),
    ) {
        let spy = Spy::new();
        let client = Client::builder_with_sink(spy.clone()).build().unwrap();
        let tags = [(key.as_str(), value.as_str())];
        client.tagged(&tags).count(&name, count);
        client.tagged(&tags).set(&name, &member);
        client.flush();

        let expected_tags = match (key.is_empty(), value.is_empty()) {
            (true, true) => String::new(),
            (_, true) => cleaned(&key, &[':', ',']),
            _ => format!("{}:{}", cleaned(&key, &[':', ',']), cleaned(&value, &[','])),
        };
        let name = cleaned_name(&name);
        let counted = ParsedValue::Number(count as f64);
        let member = ParsedValue::Member(cleaned(&member, &[':']));
        prop_assert_eq!(
            parse_all(&spy.take()),
            vec![
                expect(&name, &expected_tags, MetricType::Counter, counted, 1.0),
                expect(&name, &expected_tags, MetricType::Set, member, 1.0),
            ]
        );
    }

    #[test]
    fn arbitrary_finite_values_read_back_exactly(value in any::<f64>().prop_filter("finite", |v| v.is_finite())) {
        let spy = Spy::new();
        let client = Client::builder_with_sink(spy.clone()).build().unwrap();
        client.histogram("h", value);
        client.gauge_delta("g", value);
        client.flush();
        prop_assert_eq!(
            parse_all(&spy.take()),
            vec![
                expect("h", "", MetricType::Histogram, ParsedValue::Number(value), 1.0),
                expect("g", "", MetricType::Gauge, ParsedValue::Delta(value), 1.0),
            ]
        );
    }
}

/// The `metrics` facade through `StatsdRecorder`: what statkit's parser
/// (the server's) reads back is the metric each macro call meant.
#[test]
fn metrics_macros_read_back_as_meant() {
    use statkit::client::{HistogramType, StatsdRecorder};
    use MetricType::*;
    use ParsedValue::*;
    for (kind, histogram_type) in [
        (HistogramType::Timer, Timer),
        (HistogramType::Distribution, Distribution),
    ] {
        let (client, spy) = spy_client(64);
        let recorder = StatsdRecorder::new(client).histograms(kind);
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_histogram!("db", metrics::Unit::Microseconds, "database time");
            metrics::counter!("hits", "url" => "http://x:80/", "canary" => "").increment(2);
            metrics::counter!("total").absolute(7);
            metrics::gauge!("depth").set(-4.5);
            metrics::gauge!("depth").increment(2.0);
            metrics::gauge!("depth").decrement(0.5);
            metrics::histogram!("db").record(1500.0);
        });
        recorder.client().flush();
        let db = match kind {
            HistogramType::Timer => 1.5,
            _ => 1500.0,
        };
        assert_eq!(
            parse_all(&spy.take()),
            [
                expect(
                    "app.hits",
                    "env:test,url:http://x:80/,canary",
                    Counter,
                    Number(2.0),
                    1.0
                ),
                expect("app.total", "env:test", Counter, Number(7.0), 1.0),
                expect("app.depth", "env:test", Gauge, Number(0.0), 1.0),
                expect("app.depth", "env:test", Gauge, Delta(-4.5), 1.0),
                expect("app.depth", "env:test", Gauge, Delta(2.0), 1.0),
                expect("app.depth", "env:test", Gauge, Delta(-0.5), 1.0),
                expect("app.db", "env:test", histogram_type, Number(db), 1.0),
            ],
            "{kind:?}"
        );
    }
}
