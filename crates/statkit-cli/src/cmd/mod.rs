//! One module per subcommand: its arguments and a `run` that calls into the
//! library crates. Nothing here is more than glue.

pub mod bench;
pub mod clean;
pub mod conformance;
pub mod ctl;
pub mod demo;
mod folders;
pub mod munin;
mod munin_metrics;
pub mod poll;
pub mod send;
pub mod serve;
pub mod slurp;

/// Marks an error as the user's: bad arguments or configuration (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// 2 for usage errors anywhere in the chain, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<UsageError>()) {
        2
    } else {
        1
    }
}
