//! HTTP/1.1 answers as tests read them: the status, the headers and the
//! body of a response read whole (the request said `Connection: close`).
//! Tests send the request themselves, blocking or async as they run.

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The text of a request for `path` that asks the server to close the
    /// connection after answering, so the answer ends at end of stream.
    pub fn request(method: &str, path: &str) -> String {
        format!("{method} {path} HTTP/1.1\r\nHost: statkit-test\r\nConnection: close\r\n\r\n")
    }

    /// Parses a whole response. Panics, naming what is wrong, on anything
    /// that is not one.
    pub fn parse(raw: &[u8]) -> Answer {
        let raw = std::str::from_utf8(raw).unwrap_or_else(|e| panic!("not UTF-8 ({e}): {raw:?}"));
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of header in {raw:?}"));
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP/1.1 status line: {status_line:?}"));
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Answer;

    #[test]
    fn parses_status_headers_and_body() {
        let a = Answer::parse(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-A: b\r\n\r\n{\"e\":1}",
        );
        assert_eq!((a.status, a.body.as_str()), (404, "{\"e\":1}"));
        assert_eq!(a.header("content-type"), Some("application/json"));
        assert_eq!(a.header("x-a"), Some("b"));
        assert_eq!(a.header("missing"), None);
    }
}
