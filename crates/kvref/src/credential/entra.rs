//! The Entra ID (Azure AD) v2 token endpoint, shared by the workload identity and environment
//! credentials: `POST {authority}/{tenant}/oauth2/v2.0/token` with a client-credentials form.
//!
//! The authority host comes from `AZURE_AUTHORITY_HOST` (the workload identity webhook sets it
//! with a trailing slash, people set it without) or defaults to the public cloud; it must be
//! https. The tenant id is checked to be a plain name (`[A-Za-z0-9.-]+`) before it becomes part
//! of a URL path.

use secrecy::{ExposeSecret, SecretString};

use super::certificate::ClientCertificate;
use super::retry::{Refused, RetryOptions, send_with_retry};
use super::token_response::parse_token_response;
use super::{AccessToken, CredentialError, CredentialErrorKind, TokenRequest};
use crate::Env;
use crate::retry::is_transient_status;
use crate::transport::HttpTransport;

/// The public cloud's authority host.
pub(crate) const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// The authority host from `AZURE_AUTHORITY_HOST` or the default, as an https URL whose path
/// ends with `/` (so joining keeps any path it has).
pub(crate) fn authority_host(env: &Env, credential: &str) -> Result<url::Url, CredentialError> {
    let text = env
        .get("AZURE_AUTHORITY_HOST")
        .unwrap_or(DEFAULT_AUTHORITY_HOST)
        .trim();
    let mut url = url::Url::parse(text).map_err(|e| {
        CredentialError::new(
            CredentialErrorKind::InvalidConfiguration,
            credential,
            format!("AZURE_AUTHORITY_HOST is not a valid URL ({e})"),
        )
        .with_fix(concat!(
            "set AZURE_AUTHORITY_HOST to https://login.microsoftonline.com ",
            "(or your cloud's authority), or unset it"
        ))
    })?;
    if url.scheme() != "https" {
        return Err(CredentialError::new(
            CredentialErrorKind::InvalidConfiguration,
            credential,
            format!("AZURE_AUTHORITY_HOST must use https, not {}", url.scheme()),
        )
        .with_fix("use an https authority such as https://login.microsoftonline.com"));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Whether `tenant` is safe to put in a URL path: `[A-Za-z0-9.-]+`.
pub(crate) fn is_valid_tenant(tenant: &str) -> bool {
    !tenant.is_empty()
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub(crate) fn token_url(authority: &url::Url, tenant: &str) -> Option<url::Url> {
    if !is_valid_tenant(tenant) {
        return None;
    }
    authority.join(&format!("{tenant}/oauth2/v2.0/token")).ok()
}

/// A confidential client of one app registration (or managed identity) in one tenant.
#[derive(Clone)]
pub(crate) struct EntraClient {
    pub(crate) credential: &'static str,
    authority: url::Url,
    tenant_id: String,
    pub(crate) client_id: String,
    additionally_allowed_tenants: Vec<String>,
    transport: HttpTransport,
    retry: RetryOptions,
}

impl std::fmt::Debug for EntraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraClient")
            .field("authority", &self.authority.as_str())
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// What the client proves itself with.
pub(crate) enum ClientProof {
    Secret(SecretString),
    Assertion(SecretString),
    /// Signs a fresh assertion for every request.
    Certificate(std::sync::Arc<ClientCertificate>),
}

impl EntraClient {
    pub(crate) fn new(
        credential: &'static str,
        env: &Env,
        tenant_id: &str,
        client_id: &str,
        transport: HttpTransport,
    ) -> Result<Self, CredentialError> {
        if !is_valid_tenant(tenant_id) {
            return Err(CredentialError::new(
                CredentialErrorKind::InvalidConfiguration,
                credential,
                "AZURE_TENANT_ID is not a valid tenant id (letters, digits, '.' and '-' only)",
            )
            .with_fix("set AZURE_TENANT_ID to the directory (tenant) id, a GUID"));
        }
        let additionally_allowed_tenants = env
            .get("AZURE_ADDITIONALLY_ALLOWED_TENANTS")
            .map(|list| {
                list.split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            credential,
            authority: authority_host(env, credential)?,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            additionally_allowed_tenants,
            transport,
            retry: RetryOptions::standard(),
        })
    }

    fn error(&self, kind: CredentialErrorKind, message: impl Into<String>) -> CredentialError {
        CredentialError::new(kind, self.credential, message)
    }

    /// The tenant to ask: the configured one, or the request's if it is allowed.
    fn tenant_for<'a>(&'a self, request: &'a TokenRequest) -> Result<&'a str, CredentialError> {
        match request.tenant_id.as_deref() {
            None => Ok(&self.tenant_id),
            Some(t) if t.eq_ignore_ascii_case(&self.tenant_id) => Ok(&self.tenant_id),
            Some(t)
                if self
                    .additionally_allowed_tenants
                    .iter()
                    .any(|a| a == "*" || a.eq_ignore_ascii_case(t)) =>
            {
                Ok(t)
            }
            Some(t) => Err(self
                .error(
                    CredentialErrorKind::InvalidConfiguration,
                    format!(
                        "the token is wanted from tenant {t}, but this credential belongs to \
                         tenant {}",
                        self.tenant_id
                    ),
                )
                .with_fix(format!(
                    "if the app registration is multi-tenant, add {t} to \
                     AZURE_ADDITIONALLY_ALLOWED_TENANTS (';'-separated, or *)"
                ))),
        }
    }

    pub(crate) async fn get_token(
        &self,
        request: &TokenRequest,
        proof: &ClientProof,
        refused_fix: &str,
    ) -> Result<AccessToken, CredentialError> {
        let tenant = self.tenant_for(request)?;
        let url = token_url(&self.authority, tenant).ok_or_else(|| {
            self.error(
                CredentialErrorKind::InvalidConfiguration,
                "the requested tenant id is not valid (letters, digits, '.' and '-' only)",
            )
        })?;
        if !request.scope.ends_with("/.default") {
            return Err(self
                .error(
                    CredentialErrorKind::InvalidConfiguration,
                    format!(
                        "'{}' is not an application scope \
                         (client credentials need a scope ending in /.default)",
                        request.scope
                    ),
                )
                .with_fix("ask for https://vault.azure.net/.default"));
        }
        let signed;
        let proof = match proof {
            ClientProof::Certificate(certificate) => {
                let assertion = certificate
                    .assertion(&self.client_id, url.as_str(), jiff::Timestamp::now())
                    .map_err(|e| {
                        self.error(
                            CredentialErrorKind::InvalidConfiguration,
                            format!("cannot sign the client assertion: {e}"),
                        )
                    })?;
                signed = ClientProof::Assertion(assertion);
                &signed
            }
            other => other,
        };
        let client = self.transport.client();
        let reply = send_with_retry(&self.retry, is_transient_status, Refused::Final, || {
            let mut form = vec![
                ("client_id", self.client_id.as_str()),
                ("grant_type", "client_credentials"),
                ("scope", request.scope.as_str()),
            ];
            match proof {
                ClientProof::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
                ClientProof::Certificate(_) => {}
                ClientProof::Assertion(assertion) => {
                    form.push((
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ));
                    form.push(("client_assertion", assertion.expose_secret()));
                }
            }
            client.post(url.clone()).form(&form)
        })
        .await
        .map_err(|failure| {
            if let Some(unusable) = failure.unusable {
                return unusable.error(self.credential, "Entra ID", &url);
            }
            self.error(
                CredentialErrorKind::Unreachable,
                format!(
                    "Entra ID at {} could not be reached after {} attempt(s): {}",
                    self.authority, failure.attempts, failure.detail
                ),
            )
            .with_fix(concat!(
                "check network access to the authority host ",
                "(and AZURE_AUTHORITY_HOST, HTTPS_PROXY)"
            ))
        })?;
        let description = reply
            .describe()
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        if reply.status.is_success() {
            return parse_token_response(&reply.body, jiff::Timestamp::now()).map_err(|e| {
                self.error(
                    CredentialErrorKind::InvalidResponse,
                    format!(
                        "Entra ID answered HTTP {} but {}",
                        reply.status.as_u16(),
                        e.0
                    ),
                )
            });
        }
        if is_transient_status(reply.status) {
            return Err(self
                .error(
                    CredentialErrorKind::Unreachable,
                    format!(
                        "Entra ID still answered HTTP {}{description} after {} attempt(s)",
                        reply.status.as_u16(),
                        reply.attempts
                    ),
                )
                .with_fix("Entra ID is unavailable or throttling; retry later"));
        }
        Err(self
            .error(
                CredentialErrorKind::Refused,
                format!(
                    "Entra ID refused client {} in tenant {tenant}: HTTP {}{description}",
                    self.client_id,
                    reply.status.as_u16()
                ),
            )
            .with_fix(refused_fix.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: Option<&str>) -> Result<url::Url, CredentialError> {
        let env = match value {
            Some(v) => Env::from_pairs([("AZURE_AUTHORITY_HOST", v)]),
            None => Env::default(),
        };
        authority_host(&env, "test")
    }

    #[test]
    fn authority_host_joins_with_or_without_trailing_slash() {
        for value in [
            None,
            Some("https://login.microsoftonline.com"),
            Some("https://login.microsoftonline.com/"),
            Some(" https://login.microsoftonline.com/ "),
        ] {
            let url = token_url(
                &host(value).unwrap(),
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
            )
            .unwrap();
            assert_eq!(
                url.as_str(),
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token",
                "{value:?}"
            );
        }
        // A path on the host is kept either way.
        for value in [
            "https://login.example/prefix",
            "https://login.example/prefix/",
        ] {
            let url = token_url(&host(Some(value)).unwrap(), "contoso.onmicrosoft.com").unwrap();
            assert_eq!(
                url.as_str(),
                "https://login.example/prefix/contoso.onmicrosoft.com/oauth2/v2.0/token"
            );
        }
        let url = token_url(&host(Some("https://127.0.0.1:8443")).unwrap(), "t").unwrap();
        assert_eq!(url.as_str(), "https://127.0.0.1:8443/t/oauth2/v2.0/token");
    }

    #[test]
    fn authority_host_must_be_https() {
        for bad in [
            "http://login.microsoftonline.com",
            "login.microsoftonline.com",
            "ftp://x",
        ] {
            let err = host(Some(bad)).unwrap_err();
            assert_eq!(
                err.kind(),
                CredentialErrorKind::InvalidConfiguration,
                "{bad}"
            );
            assert!(err.message().contains("AZURE_AUTHORITY_HOST"));
        }
    }

    #[test]
    fn tenant_ids_are_checked() {
        for good in [
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "contoso.onmicrosoft.com",
            "organizations",
        ] {
            assert!(is_valid_tenant(good), "{good}");
        }
        for bad in ["", "../x", "a/b", "a?b", "a b", "a#b", "ténant", "a%2fb"] {
            assert!(!is_valid_tenant(bad), "{bad}");
            assert!(token_url(&host(None).unwrap(), bad).is_none());
        }
    }
}
