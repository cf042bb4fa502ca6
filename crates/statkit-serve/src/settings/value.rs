//! The types a setting can have, and how each reads from a flag or an
//! environment variable (text) and from a TOML file, and how it prints.
//!
//! Every value is kept in its TOML form once read, whatever it came from,
//! so the layers merge alike and `--print-config` prints what the server
//! runs with.

use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use super::duration;

/// A type a setting can hold.
pub trait SettingType: Sized + Default {
    /// What `--help` shows for the value.
    const VALUE_NAME: &'static str;
    /// A switch: its flag may be given without a value (`--console`).
    const IS_SWITCH: bool = false;
    /// Takes several values: the flag repeats, the environment variable
    /// separates them with commas.
    const IS_LIST: bool = false;
    /// Only a configuration file can say it (no flag or variable).
    const FILE_ONLY: bool = false;

    /// Reads a flag's or an environment variable's text.
    fn from_text(text: &str) -> Result<Self, String>;
    /// Reads several values of a repeated flag or a comma-separated
    /// variable; only lists take more than one.
    fn from_texts(texts: &[String]) -> Result<Self, String> {
        match texts {
            [one] => Self::from_text(one),
            _ => Err("takes one value".into()),
        }
    }
    fn from_toml(value: &Value) -> Result<Self, String>;
    fn to_toml(&self) -> Value;
    /// Whether this is the "not set" value of an optional setting.
    fn is_unset(&self) -> bool {
        false
    }
}

fn expected(what: &str, value: &Value) -> String {
    format!("expected {what}, found {}", value.type_str())
}

impl SettingType for bool {
    const VALUE_NAME: &'static str = "BOOL";
    const IS_SWITCH: bool = true;

    fn from_text(text: &str) -> Result<Self, String> {
        match text {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(format!("{other:?} is neither true nor false")),
        }
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        value
            .as_bool()
            .ok_or_else(|| expected("true or false", value))
    }

    fn to_toml(&self) -> Value {
        Value::Boolean(*self)
    }
}

impl SettingType for usize {
    const VALUE_NAME: &'static str = "N";

    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a whole number at least 0"))
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        value
            .as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| expected("a whole number at least 0", value))
    }

    fn to_toml(&self) -> Value {
        Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl SettingType for f64 {
    const VALUE_NAME: &'static str = "NUMBER";

    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map_err(|_| format!("{text:?} is not a number"))
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        match value {
            Value::Float(x) => Ok(*x),
            Value::Integer(n) => Ok(*n as f64),
            other => Err(expected("a number", other)),
        }
    }

    fn to_toml(&self) -> Value {
        Value::Float(*self)
    }
}

impl SettingType for Duration {
    const VALUE_NAME: &'static str = "DURATION";

    fn from_text(text: &str) -> Result<Self, String> {
        duration::parse(text)
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(text) => duration::parse(text),
            Value::Float(seconds) => duration::from_seconds(*seconds),
            Value::Integer(seconds) => duration::from_seconds(*seconds as f64),
            other => Err(expected("a duration (10, \"10s\", \"500ms\")", other)),
        }
    }

    fn to_toml(&self) -> Value {
        duration::to_seconds(*self)
    }
}

impl SettingType for String {
    const VALUE_NAME: &'static str = "TEXT";

    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| expected("a string", value))
    }

    fn to_toml(&self) -> Value {
        Value::String(self.clone())
    }
}

impl SettingType for PathBuf {
    const VALUE_NAME: &'static str = "PATH";

    fn from_text(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("an empty path".into());
        }
        Ok(PathBuf::from(text))
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        Self::from_text(value.as_str().ok_or_else(|| expected("a path", value))?)
    }

    fn to_toml(&self) -> Value {
        Value::String(self.to_string_lossy().into_owned())
    }
}

/// Lists: a flag given several times (or once with commas), an array in
/// TOML.
impl<T: SettingType> SettingType for Vec<T> {
    const VALUE_NAME: &'static str = T::VALUE_NAME;
    const IS_LIST: bool = true;
    const FILE_ONLY: bool = T::FILE_ONLY;

    fn from_text(text: &str) -> Result<Self, String> {
        Self::from_texts(&[text.to_owned()])
    }

    fn from_texts(texts: &[String]) -> Result<Self, String> {
        texts
            .iter()
            .flat_map(|text| text.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(T::from_text)
            .collect()
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        let items = value
            .as_array()
            .ok_or_else(|| expected("an array", value))?;
        items.iter().map(T::from_toml).collect()
    }

    fn to_toml(&self) -> Value {
        Value::Array(self.iter().map(T::to_toml).collect())
    }
}

/// Settings that may be left unset (an empty default). An empty text sets
/// nothing either.
impl<T: SettingType> SettingType for Option<T> {
    const VALUE_NAME: &'static str = T::VALUE_NAME;
    const IS_SWITCH: bool = T::IS_SWITCH;
    const IS_LIST: bool = T::IS_LIST;
    const FILE_ONLY: bool = T::FILE_ONLY;

    fn from_text(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(None);
        }
        T::from_text(text).map(Some)
    }

    fn from_texts(texts: &[String]) -> Result<Self, String> {
        T::from_texts(texts).map(Some)
    }

    fn from_toml(value: &Value) -> Result<Self, String> {
        T::from_toml(value).map(Some)
    }

    /// Never called for `None` ([`SettingType::is_unset`]): an unset
    /// setting has no value to print.
    fn to_toml(&self) -> Value {
        match self {
            Some(value) => value.to_toml(),
            None => Value::String(String::new()),
        }
    }

    fn is_unset(&self) -> bool {
        self.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_repeats_and_commas() {
        let texts = ["a:1,b:2".to_owned(), "c:3".to_owned()];
        assert_eq!(
            Vec::<String>::from_texts(&texts).unwrap(),
            ["a:1", "b:2", "c:3"]
        );
        assert_eq!(Vec::<f64>::from_text("90, -10").unwrap(), [90.0, -10.0]);
        assert!(Vec::<f64>::from_text("90,x").is_err());
    }

    #[test]
    fn toml_types_are_checked() {
        assert_eq!(usize::from_toml(&Value::Integer(3)), Ok(3));
        assert!(usize::from_toml(&Value::Integer(-3)).is_err());
        assert!(usize::from_toml(&Value::Float(3.0)).is_err());
        assert_eq!(f64::from_toml(&Value::Integer(3)), Ok(3.0));
        let soon = Value::String("soon".into());
        assert!(Duration::from_toml(&soon).unwrap_err().contains("soon"));
        assert!(bool::from_toml(&soon)
            .unwrap_err()
            .contains("expected true or false, found string"));
    }
}
