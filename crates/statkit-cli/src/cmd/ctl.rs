//! `statkit ctl` (in progress).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct CtlArgs {}

pub fn run(_args: CtlArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("statkit ctl: not built yet")
}
