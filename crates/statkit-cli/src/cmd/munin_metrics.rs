//! `statkit munin` linked as `statkit_metrics_<name>`: a munin graph of any
//! statkit series, chosen by the plug-in configuration's `env.metrics`,
//! read from the server's `/api/v1/metrics`. What it reads and prints is
//! [`statkit_encode::munin::metrics`]; this is the plug-in's environment,
//! its HTTP requests and its standard output.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use statkit_encode::munin::metrics::{self, Pattern, Selection};

/// The link names' stem.
pub const STEM: &str = "statkit_metrics_";
/// To connect and to read each answer: munin gives a plug-in 10 s in all.
const TIMEOUT: Duration = Duration::from_secs(4);

/// Runs the plug-in linked as `name` with munin's `action`.
pub fn run_as(name: &str, action: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let graph = &name[STEM.len().min(name.len())..];
    if graph.is_empty() {
        writeln!(out, "please link as {STEM}<name>")?;
        return Ok(ExitCode::FAILURE);
    }
    let server = Server::from_env();
    let patterns = Pattern::parse_all(&std::env::var("metrics").unwrap_or_default());
    let text = match action {
        Some("autoconf") => match (patterns.is_empty(), server.get("/api/v1/health")) {
            (true, _) => "no (set env.metrics in the plug-in configuration)\n".to_owned(),
            (false, Ok(_)) => "yes\n".to_owned(),
            (false, Err(e)) => format!("no ({e:#})\n"),
        },
        Some("suggest") => String::new(),
        Some("config") | Some("fetch") | None => {
            anyhow::ensure!(
                !patterns.is_empty(),
                "{name}: set env.metrics (series keys, or prefix*) in the plug-in configuration"
            );
            let fields = server.select(&patterns)?.into_fields();
            if action == Some("config") {
                let title = std::env::var("title").unwrap_or_else(|_| format!("statkit {graph}"));
                let vlabel = std::env::var("vlabel")
                    .unwrap_or_else(|_| "per ${graph_period} or value".to_owned());
                metrics::config(&title, &vlabel, &fields)
            } else {
                metrics::fetch(&fields)
            }
        }
        Some(other) => {
            return Err(super::UsageError(format!("unknown munin action {other:?}")).into())
        }
    };
    out.write_all(text.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// statkit's HTTP port: munin's `env.http_addr`, else `STATKIT_HTTP`, else
/// 127.0.0.1:8127.
struct Server {
    address: String,
}

impl Server {
    fn from_env() -> Server {
        let address = std::env::var("http_addr")
            .or_else(|_| std::env::var("STATKIT_HTTP"))
            .unwrap_or_else(|_| "127.0.0.1:8127".to_owned());
        let address = address
            .strip_prefix("http://")
            .unwrap_or(&address)
            .trim_end_matches('/')
            .to_owned();
        Server { address }
    }

    /// `GET path` as HTTP/1.0, so the answer is the body up to the end of
    /// the stream (no chunks); a status other than 200 is an error.
    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let to = self
            .address
            .to_socket_addrs()
            .with_context(|| format!("HTTP address {}", self.address))?
            .next()
            .with_context(|| format!("HTTP address {}: no address", self.address))?;
        let mut stream = TcpStream::connect_timeout(&to, TIMEOUT)
            .with_context(|| format!("connecting to statkit's HTTP port {to}"))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.address
        )?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .with_context(|| format!("reading GET {path} from {to}"))?;
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .with_context(|| format!("GET {path}: not an HTTP answer"))?;
        let status = head.split_whitespace().nth(1).unwrap_or_default();
        anyhow::ensure!(status == "200", "GET {path}: status {status}: {body}");
        serde_json::from_str(body).with_context(|| format!("GET {path}: not JSON"))
    }

    /// The series matching `patterns`, read a page at a time.
    fn select(&self, patterns: &[Pattern]) -> anyhow::Result<Selection> {
        let mut selection = Selection::default();
        for pattern in patterns {
            let mut offset = Some(0);
            for _ in 0..metrics::MAX_PAGES {
                let Some(at) = offset else { break };
                let page = self.get(&metrics::page_path(pattern, at))?;
                offset = selection.add_page(pattern, &page);
            }
        }
        Ok(selection)
    }
}
