//! What reading a mapping file found wrong, each with its line.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is not loaded.
    Error,
    /// The file loads; something in it is ignored.
    Warning,
}

/// One finding, at a line of the file (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "line {}: {what}: {}", self.line, self.message)
    }
}

/// Why a mapping file could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// Not YAML.
    #[error("line {line}, column {column}: not valid YAML: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// YAML, but not a valid mapping file: every finding, errors and
    /// warnings, in line order.
    #[error("{}", list(.0))]
    Invalid(Vec<Diagnostic>),
}

fn list(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(Diagnostic::to_string)
        .collect();
    lines.join("\n")
}
