//! One module per subcommand: its arguments and a `run` that calls into the
//! library crates. Nothing here is more than glue.

pub mod bench;
pub mod clean;
pub mod completions;
pub mod conformance;
pub mod ctl;
pub mod demo;
mod folders;
pub mod man;
pub mod mapping;
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

/// An error and what the user can do about it: the error prints as it
/// would alone, and `statkit` adds the hint on a line of its own.
#[derive(Debug)]
pub struct Hinted {
    error: Box<dyn std::error::Error + Send + Sync>,
    pub hint: String,
}

impl Hinted {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static, hint: String) -> Self {
        Hinted {
            error: Box::new(error),
            hint,
        }
    }
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// 2 for usage errors anywhere in the chain, 1 otherwise.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<UsageError>()) {
        2
    } else {
        1
    }
}
