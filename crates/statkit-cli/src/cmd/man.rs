//! `statkit man [SUBCOMMAND]`: the manual page in roff, made from the clap
//! command, so it says what `--help` says.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::UsageError;

/// Print the manual page (roff) to stdout: `statkit man | man -l -` reads
/// it, `statkit man > /usr/local/share/man/man1/statkit.1` installs it.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// A subcommand's page (statkit-serve(1) for `serve`) instead of
    /// statkit(1).
    #[arg(value_name = "SUBCOMMAND")]
    subcommand: Option<String>,
}

pub fn run(args: ManArgs, command: clap::Command) -> anyhow::Result<ExitCode> {
    // Built, the subcommands know their display names (`statkit-serve`);
    // clap's own `help` subcommand has no page.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let page = match &args.subcommand {
        None => command,
        Some(name) => command.find_subcommand(name).cloned().ok_or_else(|| {
            let names: Vec<&str> = command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(clap::Command::get_name)
                .collect();
            UsageError(format!(
                "no subcommand {name:?}; pages: {}",
                names.join(", ")
            ))
        })?,
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&roff)
        .and_then(|()| out.flush())
        .context("writing the manual page")?;
    Ok(ExitCode::SUCCESS)
}
