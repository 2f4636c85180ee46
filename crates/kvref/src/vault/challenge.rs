//! Key Vault's authentication challenge: parsing `WWW-Authenticate: Bearer …` and checking that
//! the audience it names belongs to the vault we asked, before any token is requested.
//!
//! A vault answers an unauthenticated request with
//! `401` and `WWW-Authenticate: Bearer authorization="https://login.windows.net/{tenant}", resource="https://vault.azure.net"`.
//! From it we learn the scope to ask a token for and the tenant. Because anyone answering at the
//! vault's address could name any audience, the audience's host must be a parent domain of the
//! vault host (`myvault.vault.azure.net` ends with `.vault.azure.net`), as every Azure SDK checks.

use url::Url;

/// What a vault's challenge says: the scope to request a token for, and the tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scope: String,
    tenant_id: Option<String>,
    /// The audience's host (`vault.azure.net`), when the resource is a plain https origin.
    resource_host: Option<String>,
}

/// Why a challenge was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The response has no `Bearer` challenge with a `resource` or `scope`.
    #[error("the vault answered 401 without a usable Bearer challenge ({0})")]
    Malformed(String),
    /// The challenge names an audience that is not a parent domain of the vault host.
    #[error(
        "the vault's challenge names the resource {resource:?}, which does not match the vault host {host:?}; \
         no token was requested or sent (see https://aka.ms/azsdk/blog/vault-uri)"
    )]
    ResourceMismatch {
        /// The audience the challenge named.
        resource: String,
        /// The vault host that was asked.
        host: String,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` header value, taking the first `Bearer` challenge.
    ///
    /// ```
    /// use kvref::vault::Challenge;
    /// let c = Challenge::parse(
    ///     r#"Bearer authorization="https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#,
    /// )
    /// .unwrap();
    /// assert_eq!(c.scope(), "https://vault.azure.net/.default");
    /// assert_eq!(c.tenant_id(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    /// assert!(c.verify("myvault.vault.azure.net").is_ok());
    /// assert!(c.verify("myvault.vault.azure.net.evil.example").is_err());
    /// ```
    pub fn parse(header: &str) -> Result<Challenge, ChallengeError> {
        let params = bearer_params(header)
            .ok_or_else(|| ChallengeError::Malformed("no Bearer challenge".into()))?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let resource = if let Some(scope) = get("scope") {
            scope.strip_suffix("/.default").unwrap_or(scope)
        } else if let Some(resource) = get("resource") {
            resource
        } else {
            return Err(ChallengeError::Malformed(
                "neither `resource` nor `scope` is given".into(),
            ));
        };
        // The scope asked for is rebuilt from the parsed host alone, so nothing else the vault
        // wrote (user info, a port, a query, a path, a backslash) reaches the identity endpoint.
        // A resource that is not a plain https origin keeps its text for the error message and
        // has no host, so `verify` refuses it.
        let resource_host = plain_https_host(resource);
        let scope = match &resource_host {
            Some(host) => format!("https://{host}/.default"),
            None => format!("{}/.default", resource.trim_end_matches('/')),
        };
        let tenant_id = get("authorization")
            .or_else(|| get("authorization_uri"))
            .and_then(tenant_from_authority);
        Ok(Challenge {
            scope,
            tenant_id,
            resource_host,
        })
    }

    /// The scope to request a token for, such as `https://vault.azure.net/.default`.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The tenant named by the challenge's authority, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// Checks that `vault_host` is a strict sub-domain of the challenge's resource host.
    pub fn verify(&self, vault_host: &str) -> Result<(), ChallengeError> {
        let mismatch = || ChallengeError::ResourceMismatch {
            resource: self.scope.trim_end_matches("/.default").to_owned(),
            host: vault_host.to_owned(),
        };
        let resource_host = self.resource_host.as_deref().ok_or_else(mismatch)?;
        let host = vault_host.to_ascii_lowercase();
        let suffix = format!(".{resource_host}");
        if resource_host.is_empty()
            || host.ends_with('.')
            || host.len() <= suffix.len()
            || !host.ends_with(&suffix)
        {
            return Err(mismatch());
        }
        Ok(())
    }
}

/// The lower-cased host of `resource` when it is `https://host` or `https://host/` and nothing
/// more: no user info, port, query, fragment, path or backslash, and a domain name (not an IP).
fn plain_https_host(resource: &str) -> Option<String> {
    if resource.contains('\\') {
        return None;
    }
    let url = Url::parse(resource).ok()?;
    let plain = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.path() == "/";
    match url.host()? {
        url::Host::Domain(host) if plain => Some(host.to_ascii_lowercase()),
        _ => None,
    }
}

/// The tenant is the authority URL's last non-empty path segment.
fn tenant_from_authority(authority: &str) -> Option<String> {
    let url = Url::parse(authority).ok()?;
    url.path_segments()?
        .rev()
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The parameters of the first `Bearer` challenge in a `WWW-Authenticate` value.
fn bearer_params(header: &str) -> Option<Vec<(String, String)>> {
    let mut tokens = Tokenizer {
        rest: header.trim(),
    };
    let mut in_bearer = false;
    let mut params = Vec::new();
    while let Some(token) = tokens.next_token() {
        match token {
            Token::Scheme(scheme) => {
                if in_bearer {
                    break; // the next challenge begins
                }
                in_bearer = scheme.eq_ignore_ascii_case("bearer");
            }
            Token::Param(name, value) => {
                if in_bearer {
                    params.push((name, value));
                }
            }
        }
    }
    in_bearer.then_some(params)
}

enum Token {
    Scheme(String),
    Param(String, String),
}

struct Tokenizer<'a> {
    rest: &'a str,
}

impl Tokenizer<'_> {
    fn next_token(&mut self) -> Option<Token> {
        self.rest = self.rest.trim_start_matches([' ', '\t', ',']);
        if self.rest.is_empty() {
            return None;
        }
        let word_end = self
            .rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(self.rest.len());
        let word = self.rest[..word_end].to_owned();
        let after = self.rest[word_end..].trim_start_matches([' ', '\t']);
        if let Some(value_part) = after.strip_prefix('=') {
            let value_part = value_part.trim_start_matches([' ', '\t']);
            if let Some(quoted) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let mut end = quoted.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, escaped)) = chars.next() {
                                value.push(escaped);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                self.rest = &quoted[end.min(quoted.len())..];
                Some(Token::Param(word, value))
            } else {
                let value_end = value_part
                    .find(|c: char| c == ',' || c.is_whitespace())
                    .unwrap_or(value_part.len());
                let value = value_part[..value_end].to_owned();
                self.rest = &value_part[value_end..];
                Some(Token::Param(word, value))
            }
        } else {
            self.rest = after;
            if word.is_empty() {
                // A stray `=` or similar: skip one character to make progress.
                let mut chars = self.rest.chars();
                chars.next();
                self.rest = chars.as_str();
                return self.next_token();
            }
            Some(Token::Scheme(word))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"Bearer authorization="https://login.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;

    #[test]
    fn parses_the_recorded_header() {
        let c = Challenge::parse(REAL).unwrap();
        assert_eq!(c.scope(), "https://vault.azure.net/.default");
        assert_eq!(c.tenant_id(), Some("72f988bf-86f1-41af-91ab-2d7cd011db47"));
    }

    #[test]
    fn parses_variants() {
        let c = Challenge::parse(
            r#"Bearer authorization_uri="https://login.microsoftonline.com/tid/", scope="https://vault.azure.net/.default""#,
        )
        .unwrap();
        assert_eq!(c.scope(), "https://vault.azure.net/.default");
        assert_eq!(c.tenant_id(), Some("tid"));
        let c = Challenge::parse(r#"bearer resource=https://vault.azure.cn/,authorization=https://login.chinacloudapi.cn/t2"#)
            .unwrap();
        assert_eq!(c.scope(), "https://vault.azure.cn/.default");
        assert_eq!(c.tenant_id(), Some("t2"));
        let c = Challenge::parse(
            r#"Basic realm="x", Bearer resource="https://vault.azure.net", PoP nonce="n""#,
        )
        .unwrap();
        assert_eq!(c.scope(), "https://vault.azure.net/.default");
        assert_eq!(c.tenant_id(), None);
    }

    #[test]
    fn refuses_unusable_challenges() {
        for header in [
            "",
            "Basic realm=\"x\"",
            "Bearer",
            r#"Bearer authorization="https://login.windows.net/t""#,
            r#"Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="e30=""#,
            "Bearer resource=\"",
            "=,=,\"",
        ] {
            assert!(Challenge::parse(header).is_err(), "{header:?}");
        }
    }

    #[test]
    fn verifies_the_resource_against_the_vault_host() {
        let c = Challenge::parse(REAL).unwrap();
        assert!(c.verify("myvault.vault.azure.net").is_ok());
        assert!(c.verify("MyVault.Vault.Azure.Net").is_ok());
        for host in [
            "vault.azure.net",
            "hostvault.azure.net",
            "vault.evil.com",
            "myvault.vault.azure.net.",
            "myvault.vault.azure.net.evil.example",
        ] {
            assert!(c.verify(host).is_err(), "{host}");
        }
        let evil = Challenge::parse(r#"Bearer authorization="https://login.windows.net/t", resource="https://evil.example""#).unwrap();
        assert!(matches!(
            evil.verify("myvault.vault.azure.net"),
            Err(ChallengeError::ResourceMismatch { .. })
        ));
        let plain = Challenge::parse(r#"Bearer resource="http://vault.azure.net""#).unwrap();
        assert!(plain.verify("myvault.vault.azure.net").is_err());
    }

    #[test]
    fn the_scope_is_rebuilt_from_the_host_and_anything_more_is_refused() {
        let upper = Challenge::parse(r#"Bearer resource="https://Vault.Azure.Net/""#).unwrap();
        assert_eq!(upper.scope(), "https://vault.azure.net/.default");
        assert!(upper.verify("myvault.vault.azure.net").is_ok());
        for resource in [
            "https://evil.example@vault.azure.net",
            "https://user:pw@vault.azure.net",
            "https://vault.azure.net\\@evil.example",
            "https://vault.azure.net?x=1",
            "https://vault.azure.net#f",
            "https://vault.azure.net:8443",
            "https://vault.azure.net/../x",
            "https://vault.azure.net/path",
            "https://127.0.0.1",
        ] {
            let header = format!(r#"Bearer resource="{resource}""#);
            let c = Challenge::parse(&header).unwrap();
            assert!(
                matches!(
                    c.verify("myvault.vault.azure.net"),
                    Err(ChallengeError::ResourceMismatch { .. })
                ),
                "{resource}"
            );
        }
    }
}
