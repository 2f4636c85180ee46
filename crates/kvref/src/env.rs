//! A snapshot of environment variables, so that the library never reads the process environment
//! behind the caller's back.
//!
//! Credentials, the local development mode and the CLI read settings such as `IDENTITY_ENDPOINT`
//! or `AZURE_CLIENT_ID` from an [`Env`]. In production that is [`Env::from_process`]; in tests and
//! tools it is any map, which keeps tests free of `std::env::set_var` (unsound with threads).

use std::collections::BTreeMap;
use std::fmt;

/// Environment variables captured at one moment.
///
/// Values are never printed by `Debug`: some of them (`IDENTITY_HEADER`, `AZURE_CLIENT_SECRET`)
/// are secrets. `Debug` lists the variable names only.
///
/// ```
/// use kvref::Env;
///
/// let env = Env::from_pairs([("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")]);
/// assert_eq!(env.get("AZURE_CLIENT_ID"), Some("11111111-2222-3333-4444-555555555555"));
/// assert_eq!(env.get("IDENTITY_ENDPOINT"), None);
/// assert!(!format!("{env:?}").contains("1111"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// The current process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment holding exactly these variables.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, treating an empty value as unset (as the Azure SDKs do).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Whether `name` is set to a non-empty value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets `name` to `value`, replacing any earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// Returns this environment with `other`'s variables added on top.
    pub fn overlay(mut self, other: &Env) -> Self {
        self.vars
            .extend(other.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        self
    }

    /// The names of the variables that are set, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.keys().map(String::as_str)
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}
