//! `statkit ctl`: one command to a running server's admin port, the reply
//! printed as received.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::UsageError;

/// Send a command to the admin port of `statkit serve` (or etsy statsd):
/// help, config, stats, counters, gauges, timers, sets,
/// delcounters|deltimers|delgauges|delsets NAME..., health [up|down].
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
    /// The command and its arguments.
    #[arg(required = true, num_args = 1.., value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| {
            UsageError(format!(
                "--timeout {} is not a positive number of seconds",
                args.timeout
            ))
        })?;
    let address = args
        .admin
        .to_socket_addrs()
        .map_err(|e| UsageError(format!("--admin {}: {e}", args.admin)))?
        .next()
        .ok_or_else(|| UsageError(format!("--admin {}: no address", args.admin)))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("connecting to the admin port {address}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(format!("{}\n", args.command.join(" ")).as_bytes())?;
    // Closing our side tells the server this is the last command; it
    // answers and closes, so the reply ends at end of stream.
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .with_context(|| format!("reading the reply from {address}"))?;
    std::io::stdout().write_all(&reply)?;
    Ok(if reply.starts_with(b"ERROR") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
