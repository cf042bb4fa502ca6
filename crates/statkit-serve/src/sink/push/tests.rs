//! The pushing sink against a scripted HTTP endpoint on loopback: what it
//! sends, and what each kind of answer does to the flush.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use statkit_agg::{Aggregator, Snapshot, Table};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::settings::{BasicAuth, Endpoint};
use super::*;

/// A request as the endpoint got it: its head (lower-cased) and body.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An endpoint answering each request with the next of `statuses` (the
/// last one again when they run out), or never answering when `None`.
async fn endpoint(statuses: Vec<Option<u16>>) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let received: Received = Arc::default();
    let seen = received.clone();
    tokio::spawn(async move {
        for i in 0.. {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let status = statuses[i.min(statuses.len() - 1)];
            let (head, body) = read_request(&mut stream).await;
            seen.lock().unwrap().push((head, body));
            let Some(status) = status else {
                // Hold the connection open without answering.
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            };
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 3\r\nconnection: close\r\n\r\nwhy");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (url, received)
}

async fn read_request(stream: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the request ended early");
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= end + 4 + length {
            return (head, raw[end + 4..end + 4 + length].to_vec());
        }
    }
}

fn snapshot() -> Arc<Snapshot> {
    let options = statkit_agg::Options {
        buckets: Arc::from(&[10.0][..]),
        ..statkit_agg::Options::default()
    };
    let mut aggregator = Aggregator::new(options);
    let mut table = Table::new(aggregator.options().table);
    table.ingest(b"hits:2|c\nlat:5|ms");
    aggregator.absorb(&mut table);
    Arc::new(aggregator.flush(1000))
}

fn sink(format: Format, endpoint: Endpoint, rejected: &Arc<Rejected>) -> Push {
    let host = HostLabels::parse(&["host=a"]).unwrap();
    let bounds: Arc<[f64]> = Arc::from(&[10.0][..]);
    Push::new(format, endpoint, &host, bounds, rejected.clone()).unwrap()
}

fn at(url: &str) -> Endpoint {
    Endpoint {
        url: url.into(),
        timeout: Duration::from_secs(5),
        ..Endpoint::default()
    }
}

#[tokio::test]
async fn a_remote_write_carries_the_specifications_headers_and_the_token() {
    let (url, received) = endpoint(vec![Some(204)]).await;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let endpoint = Endpoint {
        headers: vec![("X-Scope-OrgID".into(), "team1".into())],
        bearer_token_file: Some(token),
        ..at(&url)
    };
    let rejected = Arc::default();
    let mut push = sink(Format::RemoteWrite, endpoint, &rejected);
    push.deliver(&snapshot(), Attempt::default()).await.unwrap();
    let (head, body) = received.lock().unwrap().remove(0);
    for line in [
        "post /api/v1/write http/1.1",
        "content-type: application/x-protobuf",
        "content-encoding: snappy",
        "x-prometheus-remote-write-version: 0.1.0",
        "authorization: bearer s3cret",
        "x-scope-orgid: team1",
    ] {
        assert!(head.contains(line), "{line:?} not in {head}");
    }
    let protobuf = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let request: statkit_encode::remote_write::proto::WriteRequest =
        prost::Message::decode(&protobuf[..]).unwrap();
    assert!(request
        .timeseries
        .iter()
        .any(|ts| ts.labels.iter().any(|l| l.value == "hits_total")));
    assert_eq!(rejected.get(), 0);
}

#[tokio::test]
async fn influx_v2_takes_its_token_as_token_and_basic_auth_is_base64() {
    let (url, received) = endpoint(vec![Some(204)]).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "pw").unwrap();
    let v2 = url.replace("/api/v1/write", "/api/v2/write?org=o&bucket=b");
    let endpoint = Endpoint {
        bearer_token_file: Some(secret.clone()),
        ..at(&v2)
    };
    let rejected = Arc::default();
    let mut push = sink(Format::Influx, endpoint, &rejected);
    push.deliver(&snapshot(), Attempt::default()).await.unwrap();
    let basic = Endpoint {
        basic_auth: Some(BasicAuth {
            username: "u".into(),
            password_file: secret,
        }),
        ..at(&url)
    };
    let mut push = sink(Format::Influx, basic, &rejected);
    push.deliver(&snapshot(), Attempt::default()).await.unwrap();
    let received = received.lock().unwrap();
    assert!(
        received[0].0.contains("authorization: token pw"),
        "{}",
        received[0].0
    );
    // base64("u:pw")
    assert!(
        received[1].0.contains("authorization: basic dtpwdw=="),
        "{}",
        received[1].0
    );
    let lines = String::from_utf8(received[0].1.clone()).unwrap();
    assert!(
        lines.contains("hits,host=a total=2 1000000000000"),
        "{lines}"
    );
}

#[tokio::test]
async fn a_refusal_is_dropped_and_counted_and_a_server_error_retried() {
    let (url, received) =
        endpoint(vec![Some(400), Some(400), Some(503), Some(429), Some(200)]).await;
    let rejected = Arc::new(Rejected::default());
    let mut push = sink(Format::RemoteWrite, at(&url), &rejected);
    let flush = snapshot();
    for _ in 0..2 {
        assert!(push.deliver(&flush, Attempt::default()).await.is_ok());
    }
    assert_eq!(rejected.get(), 2);
    for status in [503, 429] {
        let error = push.deliver(&flush, Attempt::default()).await.unwrap_err();
        assert!(error.to_string().contains(&status.to_string()), "{error}");
    }
    push.deliver(&flush, Attempt::default()).await.unwrap();
    assert_eq!(rejected.get(), 2);
    assert_eq!(received.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn no_answer_in_time_and_no_listener_are_errors() {
    let (url, _) = endpoint(vec![None]).await;
    let slow = Endpoint {
        timeout: Duration::from_millis(200),
        ..at(&url)
    };
    let rejected = Arc::default();
    let mut push = sink(Format::Otlp, slow, &rejected);
    let error = push
        .deliver(&snapshot(), Attempt::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no answer within"), "{error}");

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut push = sink(
        Format::Otlp,
        at(&format!("http://127.0.0.1:{port}/v1/metrics")),
        &rejected,
    );
    assert!(push.deliver(&snapshot(), Attempt::default()).await.is_err());
    // A token file that cannot be read fails the push, to be retried.
    let missing = Endpoint {
        bearer_token_file: Some("/nonexistent/statkit-token".into()),
        ..at(&url)
    };
    let mut push = sink(Format::Otlp, missing, &rejected);
    let error = push
        .deliver(&snapshot(), Attempt::default())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("statkit-token"), "{error}");
}
