//! Packing, flushing and counting, observed through a spy sink.

use std::io;
use std::time::Duration;

use super::sink::Spy;
use super::*;

fn spy_client(max_datagram: usize) -> (Client, Spy) {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .max_datagram(max_datagram)
        .build()
        .unwrap();
    (client, spy)
}

fn texts(payloads: Vec<Vec<u8>>) -> Vec<String> {
    payloads
        .into_iter()
        .map(|p| String::from_utf8(p).unwrap())
        .collect()
}

#[test]
fn client_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Client>();
}

#[test]
fn timings_take_durations_and_plain_numbers() {
    let (client, spy) = spy_client(1000);
    client.timing("t", Duration::from_micros(2500));
    client.timing("t", 250);
    client.timing("t", 12u64);
    client.timing("t", 0.5);
    client.timing("t", -3);
    client.flush();
    assert_eq!(texts(spy.take()), ["t:2.5|ms\nt:250|ms\nt:12|ms\nt:0.5|ms"]);
    assert_eq!(client.stats().invalid, 1);
}

#[test]
fn lines_wait_for_flush() {
    let (client, spy) = spy_client(1000);
    client.incr("a");
    client.incr("b");
    assert!(spy.take().is_empty());
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c"]);
    client.flush();
    assert!(spy.take().is_empty(), "an empty buffer sends nothing");
}

#[test]
fn a_line_that_does_not_fit_starts_the_next_datagram() {
    // "a:1|c\nb:1|c" is 11 bytes; a third line would make 17.
    let (client, spy) = spy_client(16);
    client.incr("a");
    client.incr("b");
    client.incr("c");
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c"]);
    client.flush();
    assert_eq!(texts(spy.take()), ["c:1|c"]);
}

#[test]
fn a_full_datagram_goes_at_once() {
    let (client, spy) = spy_client(11);
    client.incr("a");
    client.incr("b");
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c"]);
}

#[test]
fn an_oversized_line_is_sent_alone() {
    let (client, spy) = spy_client(8);
    client.incr("a");
    client.count("long.name", 1);
    client.incr("b");
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c", "long.name:1|c", "b:1|c"]);
}

#[test]
fn zero_max_datagram_sends_every_line() {
    let (client, spy) = spy_client(0);
    client.incr("a");
    client.incr("b");
    assert_eq!(texts(spy.take()), ["a:1|c", "b:1|c"]);
}

#[test]
fn negative_gauge_lines_share_a_datagram() {
    // "t:0|g\nt:-5|g" is 12 bytes: more than the room left after "a:1|c".
    let (client, spy) = spy_client(14);
    client.incr("a");
    client.gauge("t", -5.0);
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c", "t:0|g\nt:-5|g"]);
}

#[test]
fn stream_sinks_get_every_line_terminated() {
    let spy = Spy::stream();
    let client = Client::builder_with_sink(spy.clone())
        .max_datagram(12)
        .build()
        .unwrap();
    client.incr("a");
    client.incr("b");
    client.incr("c");
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c\n", "c:1|c\n"]);
}

#[test]
fn elapsed_flush_interval_sends_at_the_next_call() {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .flush_interval(Duration::ZERO)
        .build()
        .unwrap();
    client.incr("a");
    assert_eq!(texts(spy.take()), ["a:1|c"]);
}

#[test]
fn background_flush_sends_without_calls() {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .background_flush(Duration::from_millis(10))
        .build()
        .unwrap();
    client.incr("a");
    let mut received = Vec::new();
    for _ in 0..500 {
        received = spy.take();
        if !received.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(texts(received), ["a:1|c"]);
}

#[test]
fn dropping_the_last_clone_flushes() {
    let (client, spy) = spy_client(1000);
    let clone = client.clone();
    client.incr("a");
    drop(client);
    assert!(spy.take().is_empty(), "a clone is still alive");
    clone.incr("b");
    drop(clone);
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c"]);
}

#[test]
fn failed_sends_are_counted_not_returned() {
    let (client, spy) = spy_client(0);
    spy.fail_with(Some(io::ErrorKind::ConnectionRefused));
    client.incr("a");
    spy.fail_with(Some(io::ErrorKind::PermissionDenied));
    client.incr("b");
    spy.fail_with(None);
    client.incr("c");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.errors), (1, 2, 1));
    assert_eq!(stats.last_error, Some(io::ErrorKind::PermissionDenied));
    assert_eq!(texts(spy.take()), ["c:1|c"]);
}

#[test]
fn unwritable_values_are_counted_as_invalid() {
    let (client, spy) = spy_client(1000);
    client.gauge("a", f64::NAN);
    client.timing("b", -1.0);
    client.incr("");
    client.set("c", "");
    client.incr("d");
    client.flush();
    assert_eq!(client.stats().invalid, 4);
    assert_eq!(texts(spy.take()), ["d:1|c"]);
}

#[test]
fn prefix_and_default_tags_apply_to_every_metric() {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .prefix("my app")
        .tag("env", "prod")
        .tag("canary", "")
        .build()
        .unwrap();
    client.incr("hits");
    client.tagged(&[("route", "/a")]).incr("hits");
    client.flush();
    assert_eq!(
        texts(spy.take()),
        ["my app.hits:1|c|#env:prod,canary\nmy app.hits:1|c|#env:prod,canary,route:/a"]
    );
}

#[test]
fn prefix_with_a_dot_gets_no_second_one() {
    let spy = Spy::new();
    let client = Client::builder_with_sink(spy.clone())
        .prefix("app.")
        .build()
        .unwrap();
    client.incr("x");
    client.flush();
    assert_eq!(texts(spy.take()), ["app.x:1|c"]);
}

#[test]
fn sampled_calls_carry_their_rate() {
    let (client, spy) = spy_client(0);
    for _ in 0..200 {
        client.sampled(0.5).incr("s");
    }
    let sent = texts(spy.take());
    assert!(
        !sent.is_empty() && sent.len() < 200,
        "{} of 200 sent at rate 0.5",
        sent.len()
    );
    assert!(sent.iter().all(|line| line == "s:1|c|@0.5"), "{sent:?}");
}

#[test]
fn zero_rate_sends_nothing() {
    let (client, spy) = spy_client(0);
    for _ in 0..100 {
        client.sampled(0.0).incr("s");
    }
    assert!(spy.take().is_empty());
}

#[test]
fn timer_guard_records_on_drop_with_its_scope() {
    let (client, spy) = spy_client(1000);
    {
        let _timer = client.tagged(&[("k", "v")]).time("t");
    }
    client.flush();
    let sent = texts(spy.take());
    assert_eq!(sent.len(), 1);
    let line = &sent[0];
    assert!(
        line.starts_with("t:") && line.ends_with("|ms|#k:v"),
        "{line}"
    );
    assert_eq!(check_line(line), Ok(()));
}

#[test]
fn stopped_timer_records_what_it_returns_once() {
    let (client, spy) = spy_client(1000);
    let elapsed = client.time("t").stop();
    client.flush();
    let mut expected = Vec::new();
    let frame = Frame {
        prefix: b"",
        default_tags: b"",
    };
    format::write_metric(
        &mut expected,
        frame,
        "t",
        Value::Timer(elapsed.into()),
        1.0,
        Tags::Pairs(&[]),
    )
    .unwrap();
    expected.pop();
    assert_eq!(spy.take(), [expected]);
}

#[test]
fn cancelled_timer_records_nothing() {
    let (client, spy) = spy_client(1000);
    client.time("t").cancel();
    client.flush();
    assert!(spy.take().is_empty());
}

#[test]
fn raw_lines_are_checked_then_sent_as_they_are() {
    let (client, spy) = spy_client(1000);
    assert_eq!(client.send_line("a:1|c|#x:y"), Ok(()));
    assert_eq!(
        client.send_line("b:1|x"),
        Err(LineError::Parse(ParseError::UnknownType))
    );
    assert_eq!(client.send_line("c:1|c\nd:1|c"), Err(LineError::LineBreak));
    assert_eq!(client.send_line(""), Err(LineError::Empty));
    assert_eq!(
        client.send_line("e:1|c:x|ms"),
        Err(LineError::Parse(ParseError::InvalidNumber))
    );
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c|#x:y"]);
}

#[test]
fn events_and_service_checks_pass_the_line_check() {
    assert_eq!(check_line("_e{5,4}:title|text"), Ok(()));
    assert_eq!(check_line("_sc|db|0"), Ok(()));
    assert_eq!(
        check_line("_sc|db|9"),
        Err(LineError::Parse(ParseError::MalformedEvent))
    );
}

#[test]
fn a_panicking_member_leaves_no_partial_line() {
    struct Explodes;
    impl fmt::Display for Explodes {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("half")?;
            panic!("Display failed on purpose");
        }
    }
    let (client, spy) = spy_client(1000);
    client.incr("a");
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client.set("s", Explodes)));
    assert!(caught.is_err());
    client.incr("b");
    client.flush();
    assert_eq!(texts(spy.take()), ["a:1|c\nb:1|c"]);
}
