//! `statkit ctl`: one command to a running server's admin port.
//!
//! gstatsctl's commands (`stats`, `rtimes PREFIX`, `reset`, `quit`) are
//! mapped onto the admin port's `requests ...` commands and printed as
//! gstatsctl printed them (or as gstats' JSON with `--json`), with its exit
//! codes. Everything else, and anything after `--raw`, goes to the admin
//! port as typed and the reply is printed as received (etsy's `stats` is
//! `statkit ctl --raw stats`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use statkit_encode::gstats;

use super::UsageError;

/// What `statkit ctl` with no command prints, like gstatsctl (exit 1).
const USAGE: &str = "\
Usage: statkit ctl [OPTIONS] <stats|rtimes PREFIX|reset|quit|requests|ADMIN COMMAND...>

Request view (gstatsctl's commands):
  stats           started, finished, in progress, mean and deviation per prefix
  rtimes PREFIX   the recent durations of PREFIX, in ms
  reset           forget every prefix
  quit            stop the server
  requests        the full view as JSON: rates, statuses, workers
Anything else goes to the admin port as typed: help, config, counters, gauges,
timers, sets, delcounters|deltimers|delgauges|delsets NAME..., health [up|down];
--raw sends even the words above as typed (--raw stats is etsy's stats).
";

/// Send a command to the admin port of `statkit serve` (or etsy statsd),
/// or ask for the request view as gstatsctl did: stats, rtimes PREFIX,
/// reset, quit, requests. Run with no command for the list.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The admin address.
    #[arg(
        long,
        env = "STATKIT_ADMIN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8126"
    )]
    admin: String,
    /// Seconds to wait for the reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    timeout: f64,
    /// Print the request view as gstats' JSON instead of gstatsctl's text.
    #[arg(long)]
    json: bool,
    /// Send the command as typed, even gstatsctl's words.
    #[arg(long)]
    raw: bool,
    /// The command and its arguments.
    #[arg(num_args = 0.., value_name = "COMMAND")]
    command: Vec<String>,
}

/// Where to send admin commands, and how long to wait.
#[derive(Clone, Debug)]
pub struct Admin {
    address: std::net::SocketAddr,
    timeout: Duration,
}

impl Admin {
    pub fn new(address: &str, timeout: f64) -> Result<Admin, UsageError> {
        let timeout = Duration::try_from_secs_f64(timeout)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                UsageError(format!(
                    "timeout {timeout} is not a positive number of seconds"
                ))
            })?;
        let address = address
            .to_socket_addrs()
            .map_err(|e| UsageError(format!("admin address {address}: {e}")))?
            .next()
            .ok_or_else(|| UsageError(format!("admin address {address}: no address")))?;
        Ok(Admin { address, timeout })
    }

    /// Sends one command line and returns the whole reply.
    pub fn ask(&self, line: &str) -> anyhow::Result<Vec<u8>> {
        let address = self.address;
        let mut stream = TcpStream::connect_timeout(&address, self.timeout)
            .with_context(|| format!("connecting to the admin port {address}"))?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        stream.write_all(format!("{line}\n").as_bytes())?;
        // Closing our side tells the server this is the last command; it
        // answers and closes, so the reply ends at end of stream.
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut reply = Vec::new();
        stream
            .read_to_end(&mut reply)
            .with_context(|| format!("reading the reply from {address}"))?;
        Ok(reply)
    }

    /// Sends a `requests ...` command and returns its JSON, or the
    /// server's error as an error.
    pub fn requests(&self, query: &str) -> anyhow::Result<Vec<u8>> {
        let reply = self.ask(&format!("requests {query}"))?;
        if reply.starts_with(b"ERROR") {
            anyhow::bail!("{}", String::from_utf8_lossy(&reply).trim_end());
        }
        let json = reply.strip_suffix(b"\nEND\n\n").unwrap_or(&reply);
        Ok(json.to_vec())
    }
}

pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let admin = Admin::new(&args.admin, args.timeout)?;
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    if args.raw {
        return forward(&admin, &words);
    }
    let mut out = std::io::stdout().lock();
    match words.as_slice() {
        [] => {
            out.write_all(USAGE.as_bytes())?;
            return Ok(ExitCode::FAILURE);
        }
        ["stats"] => {
            let json = admin.requests("stats")?;
            let text = if args.json {
                json_line(&json)
            } else {
                gstats::stats_text(&gstats::parse_stats(&json)?)
            };
            out.write_all(text.as_bytes())?;
        }
        ["rtimes", prefix] => {
            let rtimes = gstats::parse_rtimes(&admin.requests("rtimes")?)?;
            let text = if args.json {
                let one: gstats::RtimesReply =
                    rtimes.into_iter().filter(|(p, _)| p == prefix).collect();
                serde_json::to_string(&one)? + "\n"
            } else {
                gstats::rtimes_text(&rtimes, prefix)
            };
            out.write_all(text.as_bytes())?;
        }
        ["reset"] => {
            let json = admin.requests("reset")?;
            if args.json {
                out.write_all(json_line(&json).as_bytes())?;
            }
        }
        ["quit"] => {
            admin.requests("quit")?;
        }
        ["requests"] => out.write_all(json_line(&admin.requests("view")?).as_bytes())?,
        [word @ ("stats" | "rtimes" | "reset" | "quit" | "requests"), ..] => {
            let prefix = if *word == "rtimes" { " <prefix>" } else { "" };
            out.write_all(format!("usage: statkit ctl {word}{prefix}\n").as_bytes())?;
            return Ok(ExitCode::from(2));
        }
        _ => return forward(&admin, &words),
    }
    Ok(ExitCode::SUCCESS)
}

fn json_line(json: &[u8]) -> String {
    format!("{}\n", String::from_utf8_lossy(json))
}

/// Sends `words` as typed and prints the reply as received.
fn forward(admin: &Admin, words: &[&str]) -> anyhow::Result<ExitCode> {
    if words.is_empty() {
        return Err(UsageError("--raw needs a command".into()).into());
    }
    let reply = admin.ask(&words.join(" "))?;
    std::io::stdout().write_all(&reply)?;
    Ok(if reply.starts_with(b"ERROR") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
