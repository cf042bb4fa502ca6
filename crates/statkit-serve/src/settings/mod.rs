//! Every setting of `statkit serve` is declared once, here or in the module
//! of the feature it belongs to: its key, type, default and help. The flag
//! (`--key-name`), the environment variable (`STATKIT_KEY_NAME`), the TOML
//! key (sections for dotted keys: `http.allow` is `allow` in `[http]`), the
//! `--help` text, `--print-config`, the admin port's `config` and the table
//! in docs/serve.md all come from that declaration, so they cannot
//! disagree.
//!
//! Values arrive in layers: defaults, the configuration file, the
//! environment, then flags, each replacing what the one before said.
//! [`Layers`] reads each layer, refusing unknown keys (with a suggestion)
//! and values of the wrong type, and [`Layers::resolve`] gives the
//! [`Settings`] the server's [`Config`](crate::Config) is validated from.

pub mod check;
mod duration;
mod error;
mod layers;
mod render;
mod value;

use std::borrow::Cow;
use std::marker::PhantomData;

pub use error::ConfigError;
pub use layers::{Layers, Origin, Settings};
pub use render::{docs_table, plain_lines, print_toml};
pub use value::SettingType;

/// A setting's former key, still read (its flag and variable too) so that
/// files and scripts written for an older statkit keep working.
#[derive(Clone, Copy, Debug)]
pub struct Alias {
    pub key: &'static str,
    /// Bare numbers given under this name are milliseconds (the former
    /// `receive_coalesce_ms`), not the seconds the setting takes.
    pub millis: bool,
}

impl Alias {
    pub const fn new(key: &'static str) -> Self {
        Self { key, millis: false }
    }

    pub const fn millis(key: &'static str) -> Self {
        Self { key, millis: true }
    }
}

/// Environment variables of the tools statkit replaces that also set a
/// setting.
#[derive(Clone, Copy, Debug)]
pub enum Legacy {
    /// The first of these variables that is set, with the path suffix
    /// beside it added (`("XDG_STATE_HOME", "statkit")`; `""` for none),
    /// gives the default.
    Default(&'static [(&'static str, &'static str)]),
    /// This variable's entries, separated by the character, are added to
    /// what the environment and flags give (gstats' `GSTATS_ALLOWED_IPS`).
    Extend(&'static str, char),
}

/// One setting of type `T`, declared as a constant.
#[derive(Debug)]
pub struct Setting<T> {
    key: &'static str,
    /// The default as text, read like a flag's value; empty for an unset
    /// `Option`.
    default: &'static str,
    /// What help shows as the default when it is not `default` itself
    /// (derived from other settings, or from the environment).
    shown: Option<&'static str>,
    help: &'static str,
    aliases: &'static [Alias],
    legacy: Option<Legacy>,
    value_name: Option<&'static str>,
    kind: PhantomData<fn() -> T>,
}

impl<T> Setting<T> {
    pub const fn new(key: &'static str, default: &'static str, help: &'static str) -> Self {
        Self {
            key,
            default,
            shown: None,
            help,
            aliases: &[],
            legacy: None,
            value_name: None,
            kind: PhantomData,
        }
    }

    pub const fn shown(mut self, shown: &'static str) -> Self {
        self.shown = Some(shown);
        self
    }

    pub const fn aliases(mut self, aliases: &'static [Alias]) -> Self {
        self.aliases = aliases;
        self
    }

    pub const fn legacy(mut self, legacy: Legacy) -> Self {
        self.legacy = Some(legacy);
        self
    }

    pub const fn value_name(mut self, name: &'static str) -> Self {
        self.value_name = Some(name);
        self
    }

    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The default as declared (empty for none).
    pub fn default_text(&self) -> &'static str {
        self.default
    }
}

/// A setting with its type erased: what the layers, the command line and
/// the docs need to know about it.
pub trait Declared: Sync {
    /// `flush_interval`, `http.allow`.
    fn key(&self) -> &'static str;
    fn help(&self) -> &'static str;
    fn value_name(&self) -> &'static str;
    fn is_switch(&self) -> bool;
    fn is_list(&self) -> bool;
    fn is_file_only(&self) -> bool;
    /// The default as help and the docs show it.
    fn default_shown(&self) -> Cow<'static, str>;
    /// The default in TOML form; `None` when unset.
    fn default_value(&self) -> Option<toml::Value>;
    /// Whether the declared default reads as the setting's type.
    fn default_reads(&self) -> bool;
    /// Whether the default is decided where the server runs (from other
    /// settings or the environment) rather than fixed.
    fn is_derived(&self) -> bool;
    fn aliases(&self) -> &'static [Alias];
    fn legacy(&self) -> Option<Legacy>;
    /// Reads flag or environment texts into the TOML form.
    fn read_texts(&self, texts: &[String]) -> Result<Option<toml::Value>, String>;
    /// Checks a file's value and gives it in the canonical TOML form.
    fn read_toml(&self, value: &toml::Value) -> Result<toml::Value, String>;

    /// `--flush-interval`, from the key.
    fn flag(&self) -> String {
        flag_of(self.key())
    }

    /// `STATKIT_FLUSH_INTERVAL`, from the key.
    fn env(&self) -> String {
        env_of(self.key())
    }
}

/// The flag a key gives: dots and underscores become dashes.
pub fn flag_of(key: &str) -> String {
    format!("--{}", key.replace(['.', '_'], "-"))
}

/// The environment variable a key gives.
pub fn env_of(key: &str) -> String {
    format!("STATKIT_{}", key.replace('.', "_").to_ascii_uppercase())
}

impl<T: SettingType> Declared for Setting<T> {
    fn key(&self) -> &'static str {
        self.key
    }

    fn help(&self) -> &'static str {
        self.help
    }

    fn value_name(&self) -> &'static str {
        self.value_name.unwrap_or(T::VALUE_NAME)
    }

    fn is_switch(&self) -> bool {
        T::IS_SWITCH
    }

    fn is_list(&self) -> bool {
        T::IS_LIST
    }

    fn is_file_only(&self) -> bool {
        T::FILE_ONLY
    }

    fn default_shown(&self) -> Cow<'static, str> {
        match (self.shown, self.default) {
            (Some(shown), _) => Cow::Borrowed(shown),
            (None, "") => Cow::Borrowed("none"),
            (None, default) => Cow::Borrowed(default),
        }
    }

    fn default_value(&self) -> Option<toml::Value> {
        // A default that does not read is a bug the registry's tests
        // catch; at run time the setting is left unset.
        let value = T::from_text(self.default).ok()?;
        (!value.is_unset()).then(|| value.to_toml())
    }

    fn default_reads(&self) -> bool {
        self.default.is_empty() || T::from_text(self.default).is_ok()
    }

    fn is_derived(&self) -> bool {
        self.legacy.is_some_and(|l| matches!(l, Legacy::Default(_)))
    }

    fn aliases(&self) -> &'static [Alias] {
        self.aliases
    }

    fn legacy(&self) -> Option<Legacy> {
        self.legacy
    }

    fn read_texts(&self, texts: &[String]) -> Result<Option<toml::Value>, String> {
        let value = T::from_texts(texts)?;
        Ok((!value.is_unset()).then(|| value.to_toml()))
    }

    fn read_toml(&self, value: &toml::Value) -> Result<toml::Value, String> {
        T::from_toml(value).map(|value| value.to_toml())
    }
}

/// Declares settings as constants and lists them in `SETTINGS`, so a
/// setting cannot be declared without being registered.
macro_rules! declare {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $setting:expr;)*) => {
        $($(#[$doc])* pub const $name: $crate::settings::Setting<$ty> = $setting;)*
        /// Every setting declared here, for the registry.
        pub const SETTINGS: &[&dyn $crate::settings::Declared] = &[$(&$name),*];
    };
}
pub(crate) use declare;
