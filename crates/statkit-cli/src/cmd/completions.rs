//! `statkit completions SHELL`: the shell's completion script for every
//! subcommand and flag, made from the same clap command that parses them,
//! so it cannot fall behind.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap_complete::Shell;

/// Print a shell completion script. Load it in the current shell with e.g.
/// `source <(statkit completions bash)`, or install it where the shell
/// looks: docs/install.md lists the places.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: CompletionsArgs, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    // Generated into memory first: clap_complete panics on a failed write,
    // and a closed stdout (`| head`) is not a crash.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "statkit", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing the completion script")?;
    Ok(ExitCode::SUCCESS)
}
