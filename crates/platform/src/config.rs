//! Configuration: a file, then environment variables (`C9PAY_<TARGET>__<FIELD>`), with
//! unknown keys rejected by `#[serde(deny_unknown_fields)]` on every config struct.

use std::{fmt, path::Path};

use serde::{Deserialize, Deserializer, de::DeserializeOwned};

/// Loads a target's configuration from an optional TOML file and then from environment
/// variables that start with `env_prefix` (for example `C9PAY_AUTH`); nested fields are
/// separated by a double underscore: `C9PAY_AUTH__DATABASE__URL`.
pub fn load<T: DeserializeOwned>(file: Option<&Path>, env_prefix: &str) -> anyhow::Result<T> {
    let mut builder = ::config::Config::builder();
    if let Some(file) = file {
        builder = builder.add_source(::config::File::from(file).required(true));
    }
    builder = builder.add_source(
        ::config::Environment::with_prefix(env_prefix)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true),
    );
    let loaded = builder.build()?;
    Ok(loaded.try_deserialize()?)
}

/// A value that must never appear in logs or error messages (database URLs with passwords,
/// private keys). `Debug` and `Display` print a placeholder; `expose` reads it on purpose.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("[redacted]")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret = Secret::new("postgres://user:hunter2@db/auth".to_string());
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        assert_eq!(secret.expose(), "postgres://user:hunter2@db/auth");
    }
}
