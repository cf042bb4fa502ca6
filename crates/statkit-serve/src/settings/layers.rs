//! Reading the layers of settings: the configuration file, the
//! environment, the flags; and the resolved [`Settings`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use toml::Value;

use super::{env_of, flag_of, Alias, ConfigError, Declared, Legacy, Setting, SettingType};

/// Where a value came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// A value and where it came from.
#[derive(Clone, Debug)]
struct Entry {
    value: Value,
    origin: Origin,
}

/// The layers read so far; each replaces the values the one before gave.
#[derive(Debug)]
pub struct Layers {
    registry: Vec<&'static dyn Declared>,
    values: BTreeMap<&'static str, Entry>,
    /// The environment, kept for the legacy variables read at resolution.
    env: BTreeMap<String, String>,
}

impl fmt::Debug for dyn Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl Layers {
    /// No layer yet: every setting at its default.
    pub fn new(registry: Vec<&'static dyn Declared>) -> Self {
        Self {
            registry,
            values: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    pub fn registry(&self) -> &[&'static dyn Declared] {
        &self.registry
    }

    /// The setting `key` names, as declared or by a former name.
    fn find(&self, key: &str) -> Option<(&'static dyn Declared, Option<Alias>)> {
        self.registry.iter().find_map(|setting| {
            if setting.key() == key {
                return Some((*setting, None));
            }
            let alias = setting.aliases().iter().find(|a| a.key == key)?;
            Some((*setting, Some(*alias)))
        })
    }

    /// Sections (`http`, `graphite_names`) and their parents.
    fn is_section(&self, key: &str) -> bool {
        self.registry.iter().any(|setting| {
            setting
                .key()
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// Reads a TOML configuration file.
    pub fn file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        self.toml(&text, path)
    }

    /// Reads a configuration file's text (`path` names it in messages).
    pub fn toml(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        // The full message names the line, shows it, and says what was
        // expected there.
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.into(),
                message: e.to_string().trim_end().to_owned(),
            })?;
        self.table(&table, "", &Origin::File(path.into()))
    }

    fn table(
        &mut self,
        table: &toml::Table,
        prefix: &str,
        origin: &Origin,
    ) -> Result<(), ConfigError> {
        for (name, value) in table {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            // `http = "addr"` is the former `http.listen`; `[http]` the
            // section.
            let section = value.is_table() && self.is_section(&key);
            match self.find(&key) {
                Some((setting, alias)) if !section => {
                    let value = scale(value, alias);
                    let value =
                        setting
                            .read_toml(&value)
                            .map_err(|message| ConfigError::Value {
                                origin: origin.to_string(),
                                message: format!("{key}: {message}"),
                            })?;
                    self.set(setting, value, origin.clone());
                }
                _ if section => {
                    if let Value::Table(inner) = value {
                        self.table(inner, &key, origin)?;
                    }
                }
                _ => {
                    return Err(ConfigError::Unknown {
                        origin: origin.to_string(),
                        suggestion: self.suggest(&key, |s| s.key().to_owned()),
                        key,
                    })
                }
            }
        }
        Ok(())
    }

    /// The closest declared name to `wrong`, as `name_of` writes names.
    fn suggest(&self, wrong: &str, name_of: impl Fn(&dyn Declared) -> String) -> Option<String> {
        self.registry
            .iter()
            .map(|setting| name_of(*setting))
            .map(|name| (strsim::jaro_winkler(wrong, &name), name))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, name)| name)
    }

    /// Reads `STATKIT_*` variables (and former names). A variable set to
    /// nothing is taken as not set.
    pub fn env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        self.env = vars.into_iter().collect();
        for setting in self.registry.clone() {
            if setting.is_file_only() {
                continue;
            }
            let names = std::iter::once((setting.key(), None))
                .chain(setting.aliases().iter().map(|a| (a.key, Some(*a))));
            // The declared name wins over a former one.
            let found = names
                .map(|(key, alias)| (env_of(key), alias))
                .find_map(|(name, alias)| {
                    let text = self.env.get(&name).filter(|v| !v.is_empty())?;
                    Some((name, text.clone(), alias))
                });
            if let Some((name, text, alias)) = found {
                self.texts(setting, alias, &[text], Origin::Env(name))?;
            }
        }
        Ok(())
    }

    /// Reads a flag's values: `name` is the setting's key or former key.
    pub fn flag(&mut self, name: &str, texts: &[String]) -> Result<(), ConfigError> {
        let Some((setting, alias)) = self.find(name) else {
            return Err(ConfigError::Unknown {
                origin: "command line".into(),
                suggestion: self.suggest(&flag_of(name), |s| s.flag()),
                key: flag_of(name),
            });
        };
        self.texts(setting, alias, texts, Origin::Flag(flag_of(name)))
    }

    fn texts(
        &mut self,
        setting: &'static dyn Declared,
        alias: Option<Alias>,
        texts: &[String],
        origin: Origin,
    ) -> Result<(), ConfigError> {
        let texts: Vec<String> = match alias {
            Some(Alias { millis: true, .. }) => texts.iter().map(|t| millis(t)).collect(),
            _ => texts.to_vec(),
        };
        match setting.read_texts(&texts) {
            Ok(Some(value)) => self.set(setting, value, origin),
            Ok(None) => {
                self.values.remove(setting.key());
            }
            Err(message) => {
                return Err(ConfigError::Value {
                    origin: origin.to_string(),
                    message,
                })
            }
        }
        Ok(())
    }

    fn set(&mut self, setting: &'static dyn Declared, value: Value, origin: Origin) {
        self.values.insert(setting.key(), Entry { value, origin });
    }

    /// The settings as the layers leave them, with defaults for the rest
    /// (from the tools statkit replaces' variables where declared).
    pub fn resolve(mut self) -> Result<Settings, ConfigError> {
        for setting in self.registry.clone() {
            match setting.legacy() {
                Some(Legacy::Default(names)) if !self.values.contains_key(setting.key()) => {
                    let found = names.iter().find_map(|(name, suffix)| {
                        let text = self.env.get(*name).filter(|v| !v.is_empty())?;
                        let text = match *suffix {
                            "" => text.clone(),
                            suffix => format!("{}/{suffix}", text.trim_end_matches('/')),
                        };
                        Some((*name, text))
                    });
                    if let Some((name, text)) = found {
                        self.texts(setting, None, &[text], Origin::Env(name.into()))?;
                    }
                }
                Some(Legacy::Extend(name, separator)) => self.extend(setting, name, separator)?,
                _ => {}
            }
        }
        let mut values = BTreeMap::new();
        for setting in &self.registry {
            let entry = match self.values.remove(setting.key()) {
                Some(entry) => entry,
                None => match setting.default_value() {
                    Some(value) => Entry {
                        value,
                        origin: Origin::Default,
                    },
                    None => continue,
                },
            };
            values.insert(setting.key(), entry);
        }
        Ok(Settings {
            registry: self.registry,
            values,
        })
    }

    /// Adds the entries of the variable `name` to what the environment or
    /// flags gave `setting`, or makes them its value.
    fn extend(
        &mut self,
        setting: &'static dyn Declared,
        name: &str,
        separator: char,
    ) -> Result<(), ConfigError> {
        let Some(text) = self.env.get(name).filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        let mut texts: Vec<String> = text
            .split(separator)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(entry) = self.values.get(setting.key()) {
            if matches!(entry.origin, Origin::Env(_) | Origin::Flag(_)) {
                let given = entry.value.as_array().into_iter().flatten();
                texts.extend(given.filter_map(Value::as_str).map(str::to_owned));
            }
        }
        self.texts(setting, None, &texts, Origin::Env(name.into()))
    }
}

/// A former name's bare millisecond numbers in the seconds the setting
/// takes.
fn scale(value: &Value, alias: Option<Alias>) -> Value {
    match (alias, value) {
        (Some(Alias { millis: true, .. }), Value::Integer(ms)) => Value::Float(*ms as f64 / 1000.0),
        (Some(Alias { millis: true, .. }), Value::Float(ms)) => Value::Float(ms / 1000.0),
        _ => value.clone(),
    }
}

fn millis(text: &str) -> String {
    if text.trim().parse::<f64>().is_ok() {
        format!("{}ms", text.trim())
    } else {
        text.to_owned()
    }
}

/// The settings the server runs with: every layer applied, defaults for
/// the rest.
#[derive(Debug, Clone)]
pub struct Settings {
    registry: Vec<&'static dyn Declared>,
    values: BTreeMap<&'static str, Entry>,
}

impl Settings {
    /// The value of `setting` (its default when no layer set it, or when
    /// the value could not be read, which the layers already refused).
    pub fn get<T: SettingType>(&self, setting: &Setting<T>) -> T {
        self.values
            .get(setting.key())
            .and_then(|entry| T::from_toml(&entry.value).ok())
            .or_else(|| T::from_text(setting.default).ok())
            .unwrap_or_default()
    }

    /// The value in TOML form, `None` when unset.
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.values.get(key).map(|entry| &entry.value)
    }

    /// Where the value of `key` came from.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        self.values.get(key).map(|entry| &entry.origin)
    }

    pub fn registry(&self) -> &[&'static dyn Declared] {
        &self.registry
    }
}
