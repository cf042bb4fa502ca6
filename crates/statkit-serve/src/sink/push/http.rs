//! POSTing a body to an endpoint: authentication, extra headers, one
//! deadline for the whole request, and what the answer means for the
//! flush.
//!
//! hyper's client keeps connections alive between flushes, on the
//! server's runtime; plain HTTP only.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::settings::Endpoint;
use super::PushError;

/// How much of an error answer's body is kept for the log.
const ANSWER_KEPT: usize = 512;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What an endpoint made of a push that reached it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Accepted,
    /// Refused for good (a 4xx other than 429): sending it again would be
    /// refused again.
    Refused {
        status: u16,
        body: String,
    },
}

/// How the `Authorization` header is spelled for a bearer token.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TokenScheme {
    Bearer,
    /// InfluxDB v2's `Token`.
    Token,
}

/// One endpoint and the connections to it.
pub(crate) struct Poster {
    endpoint: Endpoint,
    uri: Uri,
    scheme: TokenScheme,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Poster {
    pub(crate) fn new(endpoint: Endpoint, scheme: TokenScheme) -> Result<Self, PushError> {
        let uri: Uri = endpoint
            .url
            .parse()
            .map_err(|_| PushError::Url(endpoint.url.clone()))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT.min(endpoint.timeout)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            endpoint,
            uri,
            scheme,
            client,
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.endpoint.url
    }

    /// POSTs `body` with `headers`; an error is worth retrying (no answer,
    /// a 5xx, a 429), an [`Answer`] is not.
    pub(crate) async fn post(
        &self,
        body: Vec<u8>,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Answer, PushError> {
        let request = self.request(body, headers)?;
        let timeout = self.endpoint.timeout;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let answer = Limited::new(response.into_body(), ANSWER_KEPT * 8)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            Ok::<_, PushError>((status, answer))
        };
        let (status, answer) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| PushError::Timeout(timeout))??;
        classify(status, &answer)
    }

    fn request(
        &self,
        body: Vec<u8>,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Request<Full<Bytes>>, PushError> {
        let mut request = Request::post(self.uri.clone())
            .header(USER_AGENT, concat!("statkit/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| PushError::Request(e.to_string()))?;
        let map = request.headers_mut();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        for (name, value) in &self.endpoint.headers {
            // Checked when the settings were read.
            let name = HeaderName::try_from(name.as_str())
                .map_err(|e| PushError::Request(e.to_string()))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| PushError::Request(e.to_string()))?;
            map.insert(name, value);
        }
        if let Some(value) = self.authorization()? {
            map.insert(AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// The `Authorization` header, its secret read now from its file.
    fn authorization(&self) -> Result<Option<HeaderValue>, PushError> {
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .map_err(|source| PushError::Secret {
                    path: path.into(),
                    source,
                })
        };
        let text = if let Some(auth) = &self.endpoint.basic_auth {
            let password = read(&auth.password_file)?;
            let pair = format!("{}:{password}", auth.username);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        } else if let Some(file) = &self.endpoint.bearer_token_file {
            let token = read(file)?;
            match self.scheme {
                TokenScheme::Bearer => format!("Bearer {token}"),
                TokenScheme::Token => format!("Token {token}"),
            }
        } else {
            return Ok(None);
        };
        let mut value =
            HeaderValue::try_from(text).map_err(|e| PushError::Request(e.to_string()))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

/// What a status means: 2xx accepted; 429 and 5xx worth retrying; any
/// other refused for good.
fn classify(status: StatusCode, answer: &[u8]) -> Result<Answer, PushError> {
    let body = || {
        let kept = &answer[..answer.len().min(ANSWER_KEPT)];
        String::from_utf8_lossy(kept).trim().to_owned()
    };
    if status.is_success() {
        Ok(Answer::Accepted)
    } else if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(PushError::Status {
            status: status.as_u16(),
            body: body(),
        })
    } else {
        Ok(Answer::Refused {
            status: status.as_u16(),
            body: body(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_accepted_retried_or_refused() {
        let class = |code: u16| classify(StatusCode::from_u16(code).unwrap(), b"why");
        assert_eq!(class(200).unwrap(), Answer::Accepted);
        assert_eq!(class(204).unwrap(), Answer::Accepted);
        for retried in [429, 500, 503] {
            assert!(
                matches!(class(retried), Err(PushError::Status { status, .. }) if status == retried)
            );
        }
        for refused in [400, 401, 404, 413, 301] {
            assert_eq!(
                class(refused).unwrap(),
                Answer::Refused {
                    status: refused,
                    body: "why".into()
                }
            );
        }
    }
}
