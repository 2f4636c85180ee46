//! A secret as Key Vault returned it, with its attributes, and the checks that the answer is
//! the secret asked for.

use jiff::Timestamp;
use secrecy::SecretString;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{VaultError, VaultErrorKind};
use crate::reference::Reference;
use crate::transport::sanitize::printable;

/// A secret as Key Vault returned it. The value never appears in `Debug`.
#[derive(Clone, Debug)]
pub struct Secret {
    value: SecretString,
    id: String,
    version: Option<String>,
    content_type: Option<String>,
    attributes: SecretAttributes,
}

/// The attributes Key Vault returns with a secret (its `attributes` object): whether it is
/// enabled, its validity window and when it was created and last updated. Key Vault serves a
/// secret outside its `nbf`/`exp` window all the same ("informational" for secrets), so these
/// say when to rotate, not whether the value works. Absent or malformed fields are `None`:
/// they never make a secret fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretAttributes {
    /// `enabled`: Key Vault serves disabled versions to nobody, so a served one says `true`.
    pub enabled: Option<bool>,
    /// `nbf`: not valid before this instant.
    pub not_before: Option<Timestamp>,
    /// `exp`: not valid after this instant; rotate before it.
    pub expires: Option<Timestamp>,
    /// `created`: when the version was created.
    pub created: Option<Timestamp>,
    /// `updated`: when the version's attributes last changed.
    pub updated: Option<Timestamp>,
}

/// A JSON value as the attributes read it: a bool, epoch seconds (a number, or a string of
/// digits; `None` when out of range or not digits), an object read as attributes, or anything
/// else, skipped. Typed rather than a `serde_json::Value`, which would build a map of every
/// field for each secret fetched.
enum Loose {
    Bool(bool),
    Seconds(Option<i64>),
    Object(SecretAttributes),
    Other,
}

impl Loose {
    fn seconds(self) -> Option<Timestamp> {
        match self {
            Loose::Seconds(Some(seconds)) => Timestamp::from_second(seconds).ok(),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

/// An `attributes` field Key Vault documents; the others are skipped.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    Enabled,
    Nbf,
    Exp,
    Created,
    Updated,
    #[serde(other)]
    Other,
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Loose, E> {
        Ok(Loose::Seconds(Some(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Loose, E> {
        Ok(Loose::Seconds(i64::try_from(value).ok()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Loose, E> {
        // Saturating: a huge value becomes an instant out of range, left out.
        Ok(Loose::Seconds(Some(value as i64)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Loose, E> {
        Ok(Loose::Seconds(value.trim().parse().ok()))
    }

    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }

    /// Key Vault's `attributes` object; a field of an odd shape is left out, never an error.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        let mut attributes = SecretAttributes::default();
        while let Some(field) = map.next_key::<Field>()? {
            if let Field::Other = field {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = map.next_value::<Loose>()?;
            match field {
                Field::Enabled => {
                    attributes.enabled = match value {
                        Loose::Bool(enabled) => Some(enabled),
                        _ => None,
                    };
                }
                Field::Nbf => attributes.not_before = value.seconds(),
                Field::Exp => attributes.expires = value.seconds(),
                Field::Created => attributes.created = value.seconds(),
                Field::Updated => attributes.updated = value.seconds(),
                Field::Other => {}
            }
        }
        Ok(Loose::Object(attributes))
    }
}

impl Secret {
    /// The secret value.
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// The full, versioned id: `https://myvault.vault.azure.net/secrets/Db/{version}`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The version Key Vault served (taken from the id), also for versionless requests.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The content type set on the secret, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The version's attributes: enabled, `nbf`, `exp`, created, updated.
    pub fn attributes(&self) -> &SecretAttributes {
        &self.attributes
    }
}

#[derive(Deserialize)]
struct SecretBundle {
    value: Option<SecretString>,
    id: Option<String>,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    attributes: Option<Loose>,
}

/// Reads a 200 answer's `SecretBundle`; the version comes from the versioned `id`.
pub(crate) fn parse_secret(body: &[u8], reference: &Reference) -> Result<Secret, VaultError> {
    let bundle: SecretBundle = serde_json::from_slice(body).map_err(|e| {
        // serde's message could quote the body: keep only where it went wrong.
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            format!(
                "Key Vault's answer is not a secret (invalid JSON at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let value = bundle.value.ok_or_else(|| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            "Key Vault's answer has no `value`",
        )
    })?;
    let id = bundle.id.ok_or_else(|| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            "Key Vault's answer has no `id`, so it cannot be told to be the secret asked for",
        )
    })?;
    let version = check_id(&id, reference)?;
    Ok(Secret {
        value,
        id,
        version,
        content_type: bundle.content_type,
        attributes: match bundle.attributes {
            Some(Loose::Object(attributes)) => attributes,
            _ => SecretAttributes::default(),
        },
    })
}

/// Checks that the answer's `id` is the secret asked for: `https://{vault}/secrets/{name}/{version}`
/// on the same vault host, the same name (case-insensitively, as Key Vault compares names) and
/// the pinned version when one was asked for. Returns the version the id names.
fn check_id(id: &str, reference: &Reference) -> Result<Option<String>, VaultError> {
    let mismatch = |what: &str| {
        VaultError::new(
            VaultErrorKind::InvalidResponse,
            format!(
                "Key Vault's answer for {}/{}@{} is not that secret: its id {what}; the answer \
                 was refused",
                reference.vault_host(),
                reference.secret_name(),
                reference.version().unwrap_or("latest")
            ),
        )
    };
    let url = url::Url::parse(id).map_err(|_| mismatch("is not a URL"))?;
    if url.scheme() != "https" || url.port().is_some() || url.query().is_some() {
        return Err(mismatch("is not an https URL of a vault"));
    }
    let host = url.host_str().unwrap_or_default();
    if !host.eq_ignore_ascii_case(reference.vault_host()) {
        return Err(mismatch(&format!(
            "names another vault ({})",
            printable(&truncate_chars(host, 100))
        )));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    let (name, served) = match segments.as_slice() {
        ["secrets", name] => (*name, None),
        ["secrets", name, version] => (*name, Some(*version)),
        _ => return Err(mismatch("is not a secret id (`/secrets/{name}/{version}`)")),
    };
    if !name.eq_ignore_ascii_case(reference.secret_name()) {
        return Err(mismatch(&format!(
            "names another secret ({})",
            printable(&truncate_chars(name, 127))
        )));
    }
    if let Some(pinned) = reference.version()
        && !served.is_some_and(|v| v.eq_ignore_ascii_case(pinned))
    {
        return Err(mismatch(&format!(
            "names another version ({})",
            printable(&truncate_chars(served.unwrap_or("none"), 64))
        )));
    }
    Ok(served
        .filter(|v| v.len() == 32 && v.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase))
}

/// At most `max` characters of `text`.
fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn reference() -> Reference {
        Reference::parse("@KeyVault(VaultName=keyvaultname;SecretName=x)")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn parses_recorded_secret_bundles() {
        // keyvault-get-secret-200.json and keyvault-get-secret-2025-07-01.json
        let s = parse_secret(br#"{"value":"SECRET_VALUE","id":"https://keyvaultname.vault.azure.net/secrets/X/41cce6796d81438f9dad0d96bf85d50d","attributes":{"enabled":true,"created":1668124872,"updated":1668124872,"recoveryLevel":"CustomizedRecoverable+Purgeable","recoverableDays":7}}"#, &reference()).unwrap();
        assert_eq!(s.value().expose_secret(), "SECRET_VALUE");
        assert_eq!(s.version(), Some("41cce6796d81438f9dad0d96bf85d50d"));
        assert!(!format!("{s:?}").contains("SECRET_VALUE"));
        let s = parse_secret(br#"{"value":"secret_value","id":"https://keyvaultname.vault.azure.net/secrets/x/d12c341818474828855cb7df698afdb6","attributes":{"enabled":true}}"#, &reference()).unwrap();
        assert_eq!(s.version(), Some("d12c341818474828855cb7df698afdb6"));
        // Certificate-backed (Verbatim 4): content type kept.
        let s = parse_secret(br#"{"value":"YmFzZTY0","contentType":"application/x-pkcs12","id":"https://keyvaultname.vault.azure.net/secrets/x/08be22f5f85a42809d2df03cef6908c4","managed":true,"kid":"https://k.vault.azure.net/keys/c/08be22f5f85a42809d2df03cef6908c4"}"#, &reference()).unwrap();
        assert_eq!(s.content_type(), Some("application/x-pkcs12"));
        assert_eq!(s.attributes(), &SecretAttributes::default());
    }

    #[test]
    fn reads_the_attributes_key_vault_returns() {
        // keyvault-get-secret-200.json, with the `nbf` and `exp` the specification documents.
        let s = parse_secret(br#"{"value":"v","id":"https://keyvaultname.vault.azure.net/secrets/X/41cce6796d81438f9dad0d96bf85d50d","attributes":{"enabled":true,"nbf":1668124000,"exp":1699660872,"created":1668124872,"updated":1668124873,"recoveryLevel":"CustomizedRecoverable+Purgeable","recoverableDays":7}}"#, &reference()).unwrap();
        let a = s.attributes();
        assert_eq!(a.enabled, Some(true));
        assert_eq!(a.not_before.map(|t| t.as_second()), Some(1668124000));
        assert_eq!(a.expires.map(|t| t.as_second()), Some(1699660872));
        assert_eq!(a.created.map(|t| t.as_second()), Some(1668124872));
        assert_eq!(a.updated.map(|t| t.as_second()), Some(1668124873));
        // Odd shapes are left out, never an error.
        for attributes in [
            r#""attributes":{"exp":"soon","enabled":"yes","nbf":null}"#,
            r#""attributes":[1,2]"#,
            r#""attributes":{"exp":1e300}"#,
            r#""attributes":{"other":{"exp":1699660872,"enabled":true}}"#,
            r#""attributes":"enabled""#,
        ] {
            let body = format!(
                r#"{{"value":"v","id":"https://keyvaultname.vault.azure.net/secrets/x",{attributes}}}"#
            );
            let s = parse_secret(body.as_bytes(), &reference()).unwrap();
            assert_eq!(s.attributes().expires, None, "{attributes}");
            assert_eq!(s.attributes().enabled, None, "{attributes}");
        }
        let body = br#"{"value":"v","id":"https://keyvaultname.vault.azure.net/secrets/x","attributes":{"exp":"1699660872"}}"#;
        let s = parse_secret(body, &reference()).unwrap();
        assert_eq!(
            s.attributes().expires.map(|t| t.as_second()),
            Some(1699660872)
        );
    }

    #[test]
    fn refuses_an_id_that_is_not_the_secret_asked_for() {
        let pinned = Reference::parse(
            "@KeyVault(VaultName=keyvaultname;SecretName=Db;SecretVersion=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa)",
        )
        .unwrap()
        .unwrap();
        let body = |id: &str| format!(r#"{{"value":"v","id":"{id}"}}"#);
        for (id, reference, says) in [
            (
                "https://othervault.vault.azure.net/secrets/x/0123456789abcdef0123456789abcdef",
                reference(),
                "another vault",
            ),
            (
                "https://evil.example/secrets/x/0123456789abcdef0123456789abcdef",
                reference(),
                "another vault",
            ),
            (
                "http://keyvaultname.vault.azure.net/secrets/x",
                reference(),
                "https",
            ),
            (
                "https://keyvaultname.vault.azure.net:8443/secrets/x",
                reference(),
                "https",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Other/0123456789abcdef0123456789abcdef",
                reference(),
                "another secret",
            ),
            (
                "https://keyvaultname.vault.azure.net/keys/x/0123456789abcdef0123456789abcdef",
                reference(),
                "not a secret id",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Db/0123456789abcdef0123456789abcdef",
                pinned.clone(),
                "another version",
            ),
            (
                "https://keyvaultname.vault.azure.net/secrets/Db",
                pinned.clone(),
                "another version",
            ),
            ("not a url", reference(), "not a URL"),
        ] {
            let e = parse_secret(body(id).as_bytes(), &reference).unwrap_err();
            assert_eq!(e.kind(), VaultErrorKind::InvalidResponse, "{id}");
            assert!(e.to_string().contains(says), "{id}: {e}");
        }
        // Names compare case-insensitively, versions too.
        let ok = parse_secret(
            body(
                "https://KeyVaultName.vault.azure.net/secrets/DB/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )
            .as_bytes(),
            &pinned,
        )
        .unwrap();
        assert_eq!(ok.version(), Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(parse_secret(br#"{"value":"v"}"#, &reference()).is_err());
    }

    #[test]
    fn refuses_answers_that_are_not_secrets_without_quoting_them() {
        for body in [
            &br#"{"id":"x"}"#[..],
            b"<html>sign in</html>",
            br#"{"value": 42}"#,
        ] {
            let e = parse_secret(body, &reference()).unwrap_err();
            assert_eq!(e.kind(), VaultErrorKind::InvalidResponse);
            assert!(
                !e.to_string().contains("sign in") && !e.to_string().contains("42"),
                "{e}"
            );
        }
    }
}
