//! `statkit ctl`: one command to a running server's admin port.
//!
//! gstatsctl's commands (`stats`, `rtimes PREFIX`, `reset`, `quit`) are
//! mapped onto the admin port's `requests ...` commands and printed as
//! gstatsctl printed them (or as gstats' JSON with `--json`), with its exit
//! codes. Everything else, and anything after `--raw`, goes to the admin
//! port as typed and the reply is printed as received (etsy's `stats` is
//! `statkit ctl --raw stats`).
//!
//! Standard output stays exactly what gstatsctl or the admin port printed,
//! so scripts keep working; what a person needs besides (which stats these
//! are, why a reply is empty, the valid commands after an `ERROR`) goes to
//! standard error. `--raw` adds nothing anywhere. `quit` stops the server,
//! unlike etsy's `quit`, so it asks for `--yes`.

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
  quit --yes      stop the server (etsy's quit, --raw quit, only closes the connection)
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
    /// Confirm `quit`, which stops the server.
    #[arg(long)]
    yes: bool,
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
        let mut stream = TcpStream::connect_timeout(&address, self.timeout).with_context(|| {
            format!(
                "connecting to the admin port {address} (is `statkit serve` running? \
                     --admin or STATKIT_ADMIN says where it listens)"
            )
        })?;
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

/// The request view's names, said wherever the view is empty.
const VIEW_NAMES: &str = "the request view counts statkit.requests.* and gunicorn.* names";

/// gstatsctl's words, listed after an `ERROR` next to the admin port's.
const VIEW_COMMANDS: &str = "stats, rtimes PREFIX, reset, quit --yes, requests";

pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let admin = Admin::new(&args.admin, args.timeout)?;
    let words: Vec<&str> = args.command.iter().map(String::as_str).collect();
    if args.raw {
        let (code, _) = forward(&admin, &words)?;
        return Ok(code);
    }
    let mut out = std::io::stdout().lock();
    match words.as_slice() {
        [] => {
            out.write_all(USAGE.as_bytes())?;
            return Ok(ExitCode::FAILURE);
        }
        ["stats"] => {
            let json = admin.requests("stats")?;
            if args.json {
                out.write_all(json_line(&json).as_bytes())?;
            } else {
                let stats = gstats::parse_stats(&json)?;
                out.write_all(gstats::stats_text(&stats).as_bytes())?;
                let what = if stats.is_empty() {
                    format!("no requests seen yet ({VIEW_NAMES})")
                } else {
                    "the request view's stats (gstats', per prefix)".to_owned()
                };
                note(&format!(
                    "{what}; `statkit ctl --raw stats` shows the server's own stats (etsy's)"
                ));
            }
        }
        ["rtimes", prefix] => {
            let rtimes = gstats::parse_rtimes(&admin.requests("rtimes")?)?;
            let durations = rtimes.get(*prefix).map_or(0, Vec::len);
            let text = if args.json {
                let one: gstats::RtimesReply = rtimes
                    .iter()
                    .filter(|(p, _)| p == prefix)
                    .map(|(p, d)| (p.clone(), d.clone()))
                    .collect();
                serde_json::to_string(&one)? + "\n"
            } else {
                gstats::rtimes_text(&rtimes, prefix)
            };
            out.write_all(text.as_bytes())?;
            if !args.json && durations == 0 {
                note(&no_durations(prefix, &rtimes));
            }
        }
        ["reset"] => {
            let json = admin.requests("reset")?;
            if args.json {
                out.write_all(json_line(&json).as_bytes())?;
            } else {
                note("the request view forgot every prefix");
            }
        }
        ["quit"] if !args.yes => {
            note(&format!(
                "`quit` stops the server at {}; run `statkit ctl quit --yes` to stop it \
                 (`statkit ctl --raw quit`, etsy's quit, only closes the connection)",
                admin.address
            ));
            return Ok(ExitCode::from(2));
        }
        ["quit"] => {
            admin.requests("quit")?;
            if !args.json {
                note(&format!("asked the server at {} to stop", admin.address));
            }
        }
        ["requests"] => {
            let json = admin.requests("view")?;
            out.write_all(json_line(&json).as_bytes())?;
            if !args.json && view_is_empty(&json) {
                note(&format!("no requests seen yet ({VIEW_NAMES})"));
            }
        }
        [word @ ("stats" | "rtimes" | "reset" | "quit" | "requests"), ..] => {
            let prefix = if *word == "rtimes" { " <prefix>" } else { "" };
            out.write_all(format!("usage: statkit ctl {word}{prefix}\n").as_bytes())?;
            return Ok(ExitCode::from(2));
        }
        _ => {
            let (code, reply) = forward(&admin, &words)?;
            drop(out);
            explain(&admin, &words, &reply);
            return Ok(code);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A line for the person at the terminal, on standard error so that
/// standard output stays what scripts parse.
fn note(text: &str) {
    eprintln!("statkit ctl: {text}");
}

/// Why `rtimes PREFIX` printed an empty line.
fn no_durations(prefix: &str, rtimes: &gstats::RtimesReply) -> String {
    if rtimes.is_empty() {
        return format!("no requests seen yet ({VIEW_NAMES})");
    }
    let known: Vec<&str> = rtimes.keys().map(String::as_str).collect();
    if rtimes.contains_key(prefix) {
        format!("no recent durations for {prefix} (its requests have not finished)")
    } else {
        format!(
            "no prefix {prefix} in the request view; it has: {}",
            known.join(", ")
        )
    }
}

/// Whether the request view (`requests view`) has no prefix.
fn view_is_empty(json: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|view| {
            view.get("prefixes")
                .and_then(|p| p.as_object().map(|o| o.is_empty()))
        })
        .unwrap_or(false)
}

/// Says on standard error what an admin port reply that shows nothing
/// means: an `ERROR` gets the valid commands, an empty listing why.
fn explain(admin: &Admin, words: &[&str], reply: &[u8]) {
    let line = words.join(" ");
    if reply.starts_with(b"ERROR") {
        // The server's own list, so that etsy statsd's admin port gets its
        // own; the request view's words are statkit ctl's.
        let listed = admin
            .ask("help")
            .ok()
            .map(|help| String::from_utf8_lossy(&help).trim().to_owned())
            .and_then(|help| help.strip_prefix("Commands: ").map(str::to_owned));
        let server = listed.map_or_else(String::new, |list| format!("; the admin port's: {list}"));
        note(&format!(
            "the server at {} answered ERROR to `{line}` (a command it does not know, or arguments it does not take). \
             Commands: the request view's {VIEW_COMMANDS}{server}",
            admin.address
        ));
        return;
    }
    if reply == b"{}\nEND\n\n" {
        let why = match words.first() {
            Some(&"timers") => {
                "no timers: none arrived since the last flush (timers are cleared at each flush)"
            }
            Some(&"sets") => {
                "no sets: none arrived since the last flush (sets are cleared at each flush)"
            }
            Some(&"gauges") => "no gauges: none arrived yet, or they were deleted",
            Some(&"counters") => {
                "no counters: none arrived since the last flush, or they were deleted"
            }
            _ => "the server holds nothing to list",
        };
        note(why);
    }
}

fn json_line(json: &[u8]) -> String {
    format!("{}\n", String::from_utf8_lossy(json))
}

/// Sends `words` as typed and prints the reply as received; returns the
/// exit code and the reply.
fn forward(admin: &Admin, words: &[&str]) -> anyhow::Result<(ExitCode, Vec<u8>)> {
    if words.is_empty() {
        return Err(UsageError("--raw needs a command".into()).into());
    }
    let reply = admin.ask(&words.join(" "))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&reply)?;
    out.flush()?;
    let code = if reply.starts_with(b"ERROR") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, reply))
}
