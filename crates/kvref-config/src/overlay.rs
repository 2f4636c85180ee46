//! The `config::Source` layered on top of the user's `Config`: one value per resolved (or
//! dropped) setting, each with an origin naming the Key Vault secret.

use std::fmt;

use config::{ConfigError, Map, Source, Value, ValueKind};
use kvref::secrecy::{ExposeSecret, SecretString};

use crate::tree::Path;

/// What the overlay puts at one path.
#[derive(Clone)]
pub(crate) enum Replacement {
    /// The resolved secret.
    Secret(SecretString),
    /// Nil, for a setting the [`kvref::UnresolvedPolicy::Drop`] policy leaves out: an overlay
    /// cannot delete a key, so `Option` fields read `None` and others fail naming the key.
    Nil,
}

/// One overlaid setting: where, from which secret (the origin `config` reports), and what.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) path: Path,
    pub(crate) origin: String,
    pub(crate) replacement: Replacement,
}

impl Entry {
    fn value(&self) -> Value {
        let kind = match &self.replacement {
            Replacement::Secret(secret) => ValueKind::String(secret.expose_secret().to_owned()),
            Replacement::Nil => ValueKind::Nil,
        };
        Value::new(Some(&self.origin), kind)
    }
}

/// The overlay source. Its `Debug` names the paths and origins only, never a value.
#[derive(Clone)]
pub(crate) struct Overlay(pub(crate) Vec<Entry>);

impl fmt::Debug for Overlay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|e| (e.path.to_string(), &e.origin)))
            .finish()
    }
}

impl Source for Overlay {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    /// The values keyed by path expression (`a.b[0]`), as config's own sources give them.
    fn collect(&self) -> Result<Map<String, Value>, ConfigError> {
        Ok(self
            .0
            .iter()
            .map(|entry| (entry.path.to_string(), entry.value()))
            .collect())
    }

    /// Replaces each leaf in place, step by step, rather than through config's path parser: a
    /// key with a dot or a space in it (JSON allows both) still lands where it was found, and an
    /// array keeps its other elements and their types.
    fn collect_to(&self, cache: &mut Value) -> Result<(), ConfigError> {
        for entry in &self.0 {
            match entry.path.get_mut(cache) {
                Some(leaf) => *leaf = entry.value(),
                None => {
                    return Err(ConfigError::Message(format!(
                        "kvref-config: the setting `{}` is no longer in the settings it was found in",
                        entry.path
                    )));
                }
            }
        }
        Ok(())
    }
}
