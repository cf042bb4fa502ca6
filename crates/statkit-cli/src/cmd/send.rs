//! `statkit send` (in progress).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SendArgs {}

pub fn run(_args: SendArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("statkit send: not built yet")
}
