//! `statkit send`: statsd lines from the shell, through the library client.
//!
//! Every line is checked with statkit's own parser before anything is sent,
//! so a typo is reported (exit 2) instead of silently counted as a bad line
//! by the server. The lines then go out exactly as given, packed into
//! datagrams (UDP) or written to one connection (TCP).

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use statkit::client::{check_line, DEFAULT_MAX_DATAGRAM};
use statkit::Client;

use crate::cmd::UsageError;

/// A person at a shell can wait longer for a connection than an
/// application thread can.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The statsd server to send to (the address `statkit serve --statsd`
    /// listens on). `--server` is the old name, still accepted.
    #[arg(
        long,
        env = "STATKIT_STATSD",
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8125",
        alias = "server"
    )]
    statsd: String,

    /// Send over one TCP connection, each line ending in a newline, instead
    /// of UDP datagrams.
    #[arg(long)]
    tcp: bool,

    /// The largest datagram (or TCP write), in bytes; lines are packed up to
    /// it. A longer line is sent on its own.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_DATAGRAM)]
    max_datagram: usize,

    /// statsd lines such as 'requests:1|c' or 'latency:12|ms|#route:/a'.
    /// `-` reads lines from standard input (blank lines are skipped).
    #[arg(value_name = "LINE", required = true)]
    lines: Vec<String>,
}

/// A line and where it came from, for error messages.
struct Line {
    text: String,
    origin: String,
}

pub fn run(args: SendArgs) -> anyhow::Result<ExitCode> {
    let lines = gather(&args.lines)?;
    for line in &lines {
        if let Err(error) = check_line(&line.text) {
            return Err(usage(format!(
                "{} {:?} is not a valid statsd line: {error}",
                line.origin, line.text
            )));
        }
    }

    let builder = Client::builder(args.statsd.as_str()).max_datagram(args.max_datagram);
    let builder = if args.tcp {
        builder.tcp().connect_timeout(CONNECT_TIMEOUT)
    } else {
        builder
    };
    let client = builder
        .build()
        .map_err(|error| usage(format!("--statsd: {}", chain(&error))))?;
    for line in &lines {
        client
            .send_line(&line.text)
            .with_context(|| format!("sending {}", line.origin))?;
    }
    client.flush();

    let stats = client.stats();
    if stats.dropped > 0 {
        let cause = stats
            .last_error
            .map_or_else(|| "unknown error".to_owned(), |kind| kind.to_string());
        anyhow::bail!(
            "{} of {} {} to {} could not be sent: {cause}",
            stats.dropped,
            stats.sent + stats.dropped,
            if args.tcp { "writes" } else { "datagrams" },
            args.statsd,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The arguments in order, with `-` replaced by the lines of standard input.
fn gather(arguments: &[String]) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for (index, argument) in arguments.iter().enumerate() {
        if argument != "-" {
            lines.push(Line {
                text: argument.clone(),
                origin: format!("argument {}", index + 1),
            });
            continue;
        }
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|error| usage(format!("reading lines from standard input: {error}")))?;
        for (number, text) in input.lines().enumerate() {
            if !text.is_empty() {
                let origin = format!("standard input line {}", number + 1);
                lines.push(Line {
                    text: text.to_owned(),
                    origin,
                });
            }
        }
    }
    if lines.is_empty() {
        return Err(usage(
            "no lines to send (standard input was empty)".to_owned(),
        ));
    }
    Ok(lines)
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

/// An error and its sources on one line, for a message that has to carry
/// them inside a [`UsageError`].
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
