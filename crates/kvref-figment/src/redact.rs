//! Secret-safe figment errors: every value a figment holds from an "Azure Key Vault" overlay is
//! replaced, in every part of an error, by `<redacted: vault/secret@version>`.

use std::borrow::Cow;

use figment::error::{Actual, Kind};
use figment::value::Value;
use figment::{Figment, Provider};

use crate::overlay::METADATA_NAME;
use crate::walk::for_each_leaf;

/// The secret values of one figment, each with the label that replaces it.
pub(crate) struct Redactions(kvref::redact::Redactions);

impl Redactions {
    /// Finds the secrets by their tags: every string leaf whose metadata is a Key Vault overlay's.
    pub(crate) fn of(figment: &Figment) -> Redactions {
        let mut pairs = Vec::new();
        if let Ok(data) = figment.data() {
            for_each_leaf(&data, &mut |_, _, value| {
                let Value::String(tag, secret) = value else {
                    return;
                };
                let Some(metadata) = figment.get_metadata(*tag) else {
                    return;
                };
                if metadata.name != METADATA_NAME {
                    return;
                }
                let id = metadata.source.as_ref().and_then(|s| s.custom());
                pairs.push((id.map_or("secret".into(), short_id), secret.clone()));
            });
        }
        Redactions(kvref::redact::Redactions::new(pairs))
    }

    fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.0.apply(text)
    }

    fn owned(&self, text: String) -> String {
        match self.text(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(redacted) => redacted,
        }
    }

    fn actual(&self, actual: Actual) -> Actual {
        let shown = actual.to_string();
        match self.text(&shown) {
            Cow::Borrowed(_) => actual,
            Cow::Owned(redacted) => Actual::Other(redacted),
        }
    }

    fn kind(&self, kind: Kind) -> Kind {
        match kind {
            Kind::Message(message) => Kind::Message(self.owned(message)),
            Kind::InvalidType(actual, expected) => {
                Kind::InvalidType(self.actual(actual), self.owned(expected))
            }
            Kind::InvalidValue(actual, expected) => {
                Kind::InvalidValue(self.actual(actual), self.owned(expected))
            }
            Kind::UnknownVariant(found, expected) => {
                Kind::UnknownVariant(self.owned(found), expected)
            }
            Kind::UnknownField(found, expected) => Kind::UnknownField(self.owned(found), expected),
            Kind::Unsupported(actual) => Kind::Unsupported(self.actual(actual)),
            Kind::UnsupportedKey(actual, expected) => {
                Kind::UnsupportedKey(self.actual(actual), expected)
            }
            other => other,
        }
    }

    /// The same error chain, with every secret replaced in each error's kind and path, so that
    /// its `Display` and `Debug` are safe.
    pub(crate) fn error(&self, error: figment::Error) -> figment::Error {
        let chain: Vec<figment::Error> = error
            .into_iter()
            .map(|mut e| {
                e.kind = self.kind(e.kind);
                e.path = e.path.into_iter().map(|p| self.owned(p)).collect();
                e
            })
            .collect();
        // `a.chain(b)` puts `a` behind `b`: rebuild from the last error forwards.
        chain
            .into_iter()
            .rev()
            .reduce(|behind, error| behind.chain(error))
            .unwrap_or_else(|| figment::Error::from("figment reported an empty error chain"))
    }
}

/// `https://myvault.vault.azure.net/secrets/DbPassword/abc` as `myvault/DbPassword@abc`, the
/// core's provenance form; anything else as it is.
fn short_id(id: &str) -> String {
    let Some(rest) = id.strip_prefix("https://") else {
        return id.to_owned();
    };
    let mut parts = rest.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(host), Some("secrets"), Some(name), version) => {
            let vault = host.split('.').next().unwrap_or(host);
            match version {
                Some(version) if !version.is_empty() => format!("{vault}/{name}@{version}"),
                _ => format!("{vault}/{name}"),
            }
        }
        _ => id.to_owned(),
    }
}
