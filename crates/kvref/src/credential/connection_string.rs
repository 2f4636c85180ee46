//! `AzureServicesAuthConnectionString`: the connection strings of the legacy .NET library
//! `Microsoft.Azure.Services.AppAuthentication`, parsed by that library's rules.
//!
//! Apps migrating from .NET often still carry `AzureServicesAuthConnectionString=RunAs=App;AppId=<client id>`
//! to pick a user-assigned identity; kvref honours it (after the explicit option and
//! `AZURE_CLIENT_ID`). The rules are those of `DbConnectionStringBuilder`, which the final version
//! of that library used: keys are case-insensitive, whitespace around keys, values, `=` and `;` is
//! ignored, values may be quoted with `"` or `'` (a doubled quote inside is a literal quote), `==`
//! in a key is a literal `=`, a repeated key is an error, and `RunAs` is required.

use std::collections::BTreeMap;
use std::fmt;

/// The environment variable the legacy .NET library reads.
pub const CONNECTION_STRING_VARIABLE: &str = "AzureServicesAuthConnectionString";

/// A parsed `AzureServicesAuthConnectionString`. `Debug` shows the keys only: values such as
/// `AppKey` are secrets.
///
/// ```
/// use kvref::credential::ServicesAuthConnectionString;
///
/// let parsed = ServicesAuthConnectionString::parse(
///     " runas = App ; AppId = '11111111-2222-3333-4444-555555555555' ",
/// )
/// .unwrap();
/// assert_eq!(parsed.run_as(), "App");
/// assert_eq!(parsed.managed_identity_client_id(), Some("11111111-2222-3333-4444-555555555555"));
/// assert!(ServicesAuthConnectionString::parse("RunAs=App;RunAs=Developer").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ServicesAuthConnectionString {
    /// Lower-cased key → value.
    values: BTreeMap<String, String>,
}

/// Why a connection string could not be parsed. Never contains a value from the string.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectionStringError(String);

impl ServicesAuthConnectionString {
    /// Parses `text` by the rules of `Microsoft.Azure.Services.AppAuthentication`.
    pub fn parse(text: &str) -> Result<Self, ConnectionStringError> {
        let pairs = split_pairs(text)?;
        let mut values = BTreeMap::new();
        for (key, value) in pairs {
            let lower = key.to_ascii_lowercase();
            if values.contains_key(&lower) {
                return Err(ConnectionStringError(format!(
                    "the key '{key}' appears more than once"
                )));
            }
            values.insert(lower, value);
        }
        match values.get("runas") {
            Some(run_as) if !run_as.is_empty() => {}
            _ => {
                return Err(ConnectionStringError(
                    "RunAs is missing or empty (expected RunAs=App, RunAs=Developer or RunAs=CurrentUser)"
                        .into(),
                ));
            }
        }
        Ok(Self { values })
    }

    /// The value of `key` (compared case-insensitively).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `RunAs` value (`App`, `Developer`, `CurrentUser`).
    pub fn run_as(&self) -> &str {
        self.get("RunAs").unwrap_or_default()
    }

    /// Whether the string asks for a managed identity: `RunAs=App` without a secret, certificate
    /// or tenant of a service principal.
    pub fn is_managed_identity(&self) -> bool {
        self.run_as().eq_ignore_ascii_case("App")
            && [
                "AppKey",
                "CertificateThumbprint",
                "CertificateSubjectName",
                "KeyVaultCertificateSecretIdentifier",
                "TenantId",
            ]
            .iter()
            .all(|key| self.get(key).is_none())
    }

    /// The client id of the user-assigned identity that `RunAs=App;AppId=...` selects.
    pub fn managed_identity_client_id(&self) -> Option<&str> {
        if self.is_managed_identity() {
            self.get("AppId").filter(|id| !id.is_empty())
        } else {
            None
        }
    }
}

impl fmt::Debug for ServicesAuthConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.values.keys()).finish()
    }
}

fn split_pairs(text: &str) -> Result<Vec<(String, String)>, ConnectionStringError> {
    let chars: Vec<char> = text.chars().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ';') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        // Key: up to a single '='; "==" is a literal '='.
        let key_start = i;
        let mut key = String::new();
        loop {
            match chars.get(i) {
                None | Some(';') => {
                    return Err(ConnectionStringError(format!(
                        "the part starting at character {} has no '=' (expected Key=Value pairs separated by ';')",
                        key_start + 1
                    )));
                }
                Some('=') if chars.get(i + 1) == Some(&'=') => {
                    key.push('=');
                    i += 2;
                }
                Some('=') => {
                    i += 1;
                    break;
                }
                Some(c) => {
                    key.push(*c);
                    i += 1;
                }
            }
        }
        let key = key.trim().to_owned();
        if key.is_empty() {
            return Err(ConnectionStringError(format!(
                "empty key at character {}",
                key_start + 1
            )));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let value = match chars.get(i) {
            Some(&quote @ ('"' | '\'')) => {
                i += 1;
                let mut value = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ConnectionStringError(format!(
                                "the quoted value of '{key}' is not closed"
                            )));
                        }
                        Some(&c) if c == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                value.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&c) => {
                            value.push(c);
                            i += 1;
                        }
                    }
                }
                while i < chars.len() && chars[i].is_whitespace() {
                    i += 1;
                }
                if i < chars.len() && chars[i] != ';' {
                    return Err(ConnectionStringError(format!(
                        "unexpected text after the quoted value of '{key}'"
                    )));
                }
                value
            }
            _ => {
                let start = i;
                while i < chars.len() && chars[i] != ';' {
                    i += 1;
                }
                let value: String = chars[start..i].iter().collect();
                let value = value.trim().to_owned();
                if value.contains('"') || value.contains('\'') {
                    return Err(ConnectionStringError(format!(
                        "the value of '{key}' contains a quote but is not quoted"
                    )));
                }
                value
            }
        };
        pairs.push((key, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_forms_parse() {
        let cs = ServicesAuthConnectionString::parse("RunAs=App").unwrap();
        assert!(cs.is_managed_identity());
        assert_eq!(cs.managed_identity_client_id(), None);

        let cs = ServicesAuthConnectionString::parse(
            "RunAs=App;AppId=11111111-2222-3333-4444-555555555555",
        )
        .unwrap();
        assert_eq!(
            cs.managed_identity_client_id(),
            Some("11111111-2222-3333-4444-555555555555")
        );

        let cs =
            ServicesAuthConnectionString::parse("RunAs=Developer; DeveloperTool=AzureCli").unwrap();
        assert_eq!(cs.run_as(), "Developer");
        assert_eq!(cs.get("developertool"), Some("AzureCli"));
        assert!(!cs.is_managed_identity());

        // A service principal with a secret is not a managed identity selection.
        let cs = ServicesAuthConnectionString::parse("RunAs=App;AppId=a;TenantId=t;AppKey=secret")
            .unwrap();
        assert!(!cs.is_managed_identity());
        assert_eq!(cs.managed_identity_client_id(), None);
    }

    #[test]
    fn keys_are_case_insensitive_and_whitespace_is_ignored() {
        let cs = ServicesAuthConnectionString::parse("  runas =  app ;\tAPPID= abc ;; ").unwrap();
        assert_eq!(cs.run_as(), "app");
        assert_eq!(cs.managed_identity_client_id(), Some("abc"));
    }

    #[test]
    fn quoted_values_and_escapes() {
        let cs = ServicesAuthConnectionString::parse(
            r#"RunAs="App"; AppId='a;b'; Note="say ""hi"""; Other='it''s'; Key==Eq=x"#,
        )
        .unwrap();
        assert_eq!(cs.run_as(), "App");
        assert_eq!(cs.get("appid"), Some("a;b"));
        assert_eq!(cs.get("note"), Some(r#"say "hi""#));
        assert_eq!(cs.get("other"), Some("it's"));
        assert_eq!(cs.get("key=eq"), Some("x"));
    }

    #[test]
    fn errors_name_keys_but_never_values() {
        for (text, needle) in [
            ("RunAs=App;runas=Developer", "more than once"),
            ("AppId=x", "RunAs"),
            ("RunAs=", "RunAs"),
            ("RunAs=App;AppKey", "no '='"),
            ("RunAs=App;=x", "empty key"),
            ("RunAs=App;AppKey=\"s3cr3t", "not closed"),
            ("RunAs=App;AppKey=\"s3cr3t\" more", "after the quoted"),
            ("RunAs=App;AppKey=s3\"cr3t", "not quoted"),
        ] {
            let err = ServicesAuthConnectionString::parse(text).unwrap_err();
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(!err.to_string().contains("s3cr3t"), "{text}: {err}");
        }
    }

    #[test]
    fn debug_hides_values() {
        let cs = ServicesAuthConnectionString::parse("RunAs=App;AppId=a;TenantId=t;AppKey=s3cr3t")
            .unwrap();
        let debug = format!("{cs:?}");
        assert!(debug.contains("appkey"));
        assert!(!debug.contains("s3cr3t"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Writes `value` the way a careful author would: quoted, doubled quotes inside.
        fn quoted(value: &str) -> String {
            format!("\"{}\"", value.replace('"', "\"\""))
        }

        proptest! {
            #[test]
            fn never_panics(text in ".{0,200}") {
                let _ = ServicesAuthConnectionString::parse(&text);
            }

            #[test]
            fn quoted_values_round_trip(
                app_id in "[^\\x00]{0,40}",
                other in "[^\\x00]{0,40}",
                spaces in " {0,3}",
            ) {
                let text = format!(
                    "RunAs{spaces}={spaces}App;{spaces}AppId={}; Extra = {} ;",
                    quoted(&app_id),
                    quoted(&other)
                );
                let parsed = ServicesAuthConnectionString::parse(&text).unwrap();
                prop_assert_eq!(parsed.get("appid"), Some(app_id.as_str()));
                prop_assert_eq!(parsed.get("EXTRA"), Some(other.as_str()));
            }

            #[test]
            fn errors_never_contain_values(secret in "[a-z]{12,20}") {
                for text in [
                    format!("RunAs=App;AppKey=\"{secret}"),
                    format!("RunAs=App;AppKey={secret}\""),
                    format!("AppKey={secret}"),
                    format!("RunAs=App;AppKey={secret};appkey={secret}"),
                ] {
                    let err = ServicesAuthConnectionString::parse(&text).unwrap_err();
                    prop_assert!(!err.to_string().contains(&secret));
                }
            }
        }
    }
}
