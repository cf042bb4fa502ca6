//! `statkit munin` linked as `statkit_metrics_<name>`: a munin graph of any
//! statkit series, chosen by the plug-in configuration's `env.metrics`,
//! read from the server's `/api/v1/metrics`. What it reads and prints is
//! [`statkit_encode::munin::metrics`]; this is the plug-in's environment,
//! its HTTP requests and its standard output.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;
use statkit_encode::munin::metrics::{self, Pattern, Selection};

/// The link names' stem.
pub const STEM: &str = "statkit_metrics_";
/// To connect, to send, and to read each answer's head and body: munin
/// gives a plug-in 10 s in all.
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

/// statkit's HTTP port: munin's `env.http_addr`, else the server's own
/// variable (`STATKIT_HTTP_LISTEN`, or its former name `STATKIT_HTTP`), else
/// its default.
struct Server {
    address: String,
    agent: ureq::Agent,
}

impl Server {
    fn from_env() -> Server {
        let address = std::env::var("http_addr")
            .or_else(|_| std::env::var("STATKIT_HTTP_LISTEN"))
            .or_else(|_| std::env::var("STATKIT_HTTP"))
            .unwrap_or_else(|_| statkit_serve::config::HTTP_LISTEN.default_text().to_owned());
        let address = address
            .strip_prefix("http://")
            .unwrap_or(&address)
            .trim_end_matches('/')
            .to_owned();
        // Straight to the server: no proxy from the environment, no
        // redirects followed; any status but 200 is reported by `get`.
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(TIMEOUT))
            .timeout_send_request(Some(TIMEOUT))
            .timeout_recv_response(Some(TIMEOUT))
            .timeout_recv_body(Some(TIMEOUT))
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .new_agent();
        Server { address, agent }
    }

    /// `GET path`: the JSON body of a 200 answer; any other status is an
    /// error carrying the body.
    fn get(&self, path: &str) -> anyhow::Result<Value> {
        let url = format!("http://{}{path}", self.address);
        let mut answer = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {path} from statkit's HTTP port {}", self.address))?;
        let raw = answer
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .with_context(|| format!("reading GET {path} from {}", self.address))?;
        let body = String::from_utf8_lossy(&raw);
        let status = answer.status().as_u16();
        anyhow::ensure!(status == 200, "GET {path}: status {status}: {body}");
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON"))
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
