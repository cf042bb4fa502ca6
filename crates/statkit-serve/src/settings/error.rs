//! Why a configuration cannot be used. Every message names the setting and
//! where the value came from, so the user can find it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A key, flag or section nobody declared.
    #[error("{origin}: unknown setting `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        origin: String,
        key: String,
        suggestion: Option<String>,
    },
    /// A value that does not read as the setting's type.
    #[error("{origin}: {message}")]
    Value { origin: String, message: String },
    #[error("{setting}: cannot resolve address {value:?}: {reason}")]
    Address {
        setting: &'static str,
        value: String,
        reason: String,
    },
    /// A value of the right type that the setting cannot take.
    #[error("{setting}: {message}")]
    Invalid {
        setting: &'static str,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(setting: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting,
            message: message.into(),
        }
    }
}
