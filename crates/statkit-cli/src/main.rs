//! The `statkit` command. Parses arguments, hands each subcommand to the
//! crate that does the work, and turns the outcome into an exit code: 0 on
//! success, 1 when a command ran and failed, 2 for unusable arguments or
//! configuration.

mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// statkit: application metrics. A statsd-compatible server, a client, and
/// the tools around them.
#[derive(Debug, Parser)]
#[command(name = "statkit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: statsd ingest, aggregation, sinks, admin port.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Send a command to a running server's admin port.
    Ctl(cmd::ctl::CtlArgs),
    /// Send statsd lines to a server, from the shell.
    Send(cmd::send::SendArgs),
    /// Load-test a statsd server and check what it flushed.
    Bench(Box<cmd::bench::BenchArgs>),
    /// Act as a munin plug-in: the request view, or any series.
    Munin(cmd::munin::MuninArgs),
    /// Print every shared-memory stats file's values (statkit and mmstats).
    Slurp(cmd::slurp::SlurpArgs),
    /// A live table of per-interval changes summed over every process.
    Poll(cmd::poll::PollArgs),
    /// Remove dead processes' stats files, keeping their totals.
    Clean(cmd::clean::CleanArgs),
    /// Play the statsd conformance suite in process or against a server.
    Conformance(cmd::conformance::ConformanceArgs),
    /// Publish a simulated app's metrics (a stats file and a pipe) to try
    /// slurp, poll and /stats on.
    Demo(cmd::demo::DemoArgs),
    /// Check a statsd_exporter mapping file, or see what lines become
    /// through it.
    Mapping(cmd::mapping::MappingArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::CompletionsArgs),
    /// Print the manual page (roff), statkit's or a subcommand's.
    Man(cmd::man::ManArgs),
}

fn main() -> ExitCode {
    // Linked as a munin plug-in: munin passes only the action.
    if let Some(name) = cmd::munin::link_name() {
        let action = std::env::args().nth(1);
        return finish(cmd::munin::run_as(&name, action.as_deref()));
    }
    let cli = Cli::parse();
    finish(match cli.command {
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Ctl(args) => cmd::ctl::run(args),
        Command::Send(args) => cmd::send::run(args),
        Command::Bench(args) => cmd::bench::run(*args),
        Command::Slurp(args) => cmd::slurp::run(args),
        Command::Poll(args) => cmd::poll::run(args),
        Command::Clean(args) => cmd::clean::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Munin(args) => cmd::munin::run(args),
        Command::Conformance(args) => cmd::conformance::run(args),
        Command::Mapping(args) => cmd::mapping::run(args),
        Command::Completions(args) => cmd::completions::run(args, Cli::command()),
        Command::Man(args) => cmd::man::run(args, Cli::command()),
    })
}

/// The exit code for a command's outcome, its error printed.
fn finish(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("statkit: {}", message(&error));
            if let Some(hinted) = error.chain().find_map(|e| e.downcast_ref::<cmd::Hinted>()) {
                eprintln!("hint: {}", hinted.hint);
            }
            ExitCode::from(cmd::exit_code(&error))
        }
    }
}

/// The error and its causes, outermost first, separated by `: `, each said
/// once: many errors of the libraries include their source in their own
/// message (it is all that `to_string()` gives), and anyhow's `{:#}` would
/// print that source a second time.
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        // Their pattern is `{message}: {source}`.
        if text == part || text.ends_with(&format!(": {part}")) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Output piped into `head` that closes early is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
