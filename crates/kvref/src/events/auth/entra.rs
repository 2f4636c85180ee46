//! Microsoft Entra protected delivery: Event Grid sends `Authorization: Bearer <JWT>`, a token
//! it got for the webhook's application. It is accepted when its RS256 signature verifies
//! against the tenant's published keys (the JWKS named by the tenant's discovery document,
//! fetched through kvref's transport and cached), its `aud` is the configured application id
//! or URI, its `iss` the tenant's v1 or v2 issuer, it is within `nbf`..`exp`, its `tid` (when
//! present) the tenant, and its caller (`appid` in v1 tokens, `azp` in v2) Event Grid's
//! application.

use std::fmt;
use std::time::Duration;

use http::HeaderMap;
use http::header::AUTHORIZATION;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::Verdict;
use crate::Resolver;
use crate::transport::{BODY_LIMIT, HttpTransport, read_bounded};

/// Event Grid's application id in the public Azure cloud: the caller of its deliveries.
pub const EVENT_GRID_APP_ID: &str = "4962773b-9cdb-44cf-a8bf-237846a00ab7";
/// Event Grid's application id in Azure Government.
pub const EVENT_GRID_APP_ID_US_GOV: &str = "54316b56-3481-47f9-8f30-0300f5542a7b";

/// The public cloud's Entra authority.
const PUBLIC_AUTHORITY: &str = "https://login.microsoftonline.com";
/// Clock skew tolerated on `exp` and `nbf`, as Microsoft's own libraries do.
const LEEWAY_SECS: u64 = 300;
/// How soon an unknown key id may make the keys be fetched again: signing keys rotate rarely,
/// and a forged `kid` must not turn every request into a fetch.
const REFETCH_AFTER: Duration = Duration::from_secs(5 * 60);
/// How long fetched keys are used before they are fetched again (the stale ones stay in use if
/// that fails).
const KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Configures an [`EntraAuth`]; made by [`EntraAuth::builder`].
#[derive(Debug)]
pub struct EntraAuthBuilder {
    tenant: String,
    audiences: Vec<String>,
    callers: Vec<String>,
    authority: String,
    issuers: Option<Vec<String>>,
    transport: Option<HttpTransport>,
}

impl EntraAuthBuilder {
    /// Accepts tokens for this audience too (the application id and its App ID URI, say).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The callers accepted, replacing the default [`EVENT_GRID_APP_ID`] (for Azure Government,
    /// [`EVENT_GRID_APP_ID_US_GOV`]).
    pub fn callers(mut self, callers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.callers = callers.into_iter().map(Into::into).collect();
        self
    }

    /// The Entra authority (default `https://login.microsoftonline.com`; for Azure Government
    /// `https://login.microsoftonline.us`): where the discovery document and keys are read, and
    /// the v2 issuer's origin.
    pub fn authority(mut self, authority: impl Into<String>) -> Self {
        self.authority = authority.into().trim_end_matches('/').to_owned();
        self
    }

    /// The issuers accepted, replacing the defaults `https://sts.windows.net/{tenant}/` (v1)
    /// and `{authority}/{tenant}/v2.0` (v2).
    pub fn issuers(mut self, issuers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.issuers = Some(issuers.into_iter().map(Into::into).collect());
        self
    }

    /// The transport the keys are fetched with (default: the process's shared one). Pass the
    /// resolver's ([`Resolver::transport`](crate::Resolver::transport)) to share its settings.
    pub fn transport(mut self, transport: HttpTransport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Checks the settings and builds.
    pub fn build(self) -> Result<EntraAuth, String> {
        if self.tenant.trim().is_empty() || self.tenant.contains(['/', '?', '#']) {
            return Err("the Entra tenant id is empty or not an id; set the tenant (GUID) that issues the webhook's tokens".into());
        }
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err("the Entra audience is empty; set the webhook application's id or App ID URI (the subscription's azureActiveDirectoryApplicationIdOrUri)".into());
        }
        if self.callers.is_empty() {
            return Err("no Entra caller is accepted; keep the default (Event Grid's application id) or name one".into());
        }
        let authority = url::Url::parse(&self.authority)
            .ok()
            .filter(|u| u.scheme() == "https" && u.host_str().is_some())
            .ok_or_else(|| {
                format!(
                    "the Entra authority {} is not an https:// URL",
                    self.authority
                )
            })?;
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err("jsonwebtoken has no crypto provider: enable exactly one of its aws_lc_rs and rust_crypto features".into());
        }
        let transport = match self.transport {
            Some(t) => t,
            None => HttpTransport::shared().map_err(|e| e.to_string())?,
        };
        let issuers = self.issuers.unwrap_or_else(|| {
            vec![
                format!("https://sts.windows.net/{}/", self.tenant),
                format!("{}/{}/v2.0", self.authority, self.tenant),
            ]
        });
        Ok(EntraAuth {
            discovery: format!(
                "{}/{}/v2.0/.well-known/openid-configuration",
                self.authority, self.tenant
            ),
            authority_host: authority.host_str().unwrap_or_default().to_owned(),
            tenant: self.tenant,
            audiences: self.audiences,
            callers: self.callers,
            issuers,
            transport,
            keys: Mutex::new(KeyCache::default()),
        })
    }
}

/// Validates Entra bearer tokens of Event Grid deliveries. Build one per webhook and keep it:
/// it caches the tenant's signing keys.
pub struct EntraAuth {
    tenant: String,
    audiences: Vec<String>,
    callers: Vec<String>,
    issuers: Vec<String>,
    discovery: String,
    authority_host: String,
    transport: HttpTransport,
    keys: Mutex<KeyCache>,
}

impl fmt::Debug for EntraAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraAuth")
            .field("tenant", &self.tenant)
            .field("audiences", &self.audiences)
            .field("callers", &self.callers)
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

/// The signing keys last fetched, and when fetching was last tried.
#[derive(Default)]
struct KeyCache {
    keys: Vec<Jwk>,
    fetched: Option<Instant>,
    tried: Option<(Instant, String)>,
}

impl KeyCache {
    fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid))
    }
}

/// The claims checked beyond those jsonwebtoken checks.
#[derive(Deserialize)]
struct Caller {
    appid: Option<String>,
    azp: Option<String>,
    tid: Option<String>,
}

impl EntraAuth {
    /// Tokens of `tenant` for `audience` (the webhook application's id or App ID URI), from
    /// Event Grid in the public cloud unless [`callers`](EntraAuthBuilder::callers) says
    /// otherwise.
    pub fn builder(tenant: impl Into<String>, audience: impl Into<String>) -> EntraAuthBuilder {
        EntraAuthBuilder {
            tenant: tenant.into(),
            audiences: vec![audience.into()],
            callers: vec![EVENT_GRID_APP_ID.to_owned()],
            authority: PUBLIC_AUTHORITY.to_owned(),
            issuers: None,
            transport: None,
        }
    }

    /// The Entra check for a webhook of the app that `resolver` serves, so that the same code
    /// runs on Azure and against the emulator: tokens of `tenant` for `audience`, keys fetched
    /// through the resolver's transport; in local mode (`KVREF_EMULATOR`), tokens of the
    /// emulator's tenant from its Entra endpoint, whatever `tenant` says. Refused when not in
    /// local mode and `tenant` is missing or empty.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let emulator = kvref_emulator::Emulator::start(kvref_emulator::EmulatorConfig::sample()).await.unwrap();
    /// # let env = kvref::Env::from_pairs([("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))]);
    /// # let resolver = kvref::Resolver::builder().connect(&env).await.unwrap();
    /// # /*
    /// let resolver = kvref::Resolver::from_env().await?;
    /// # */
    /// let tenant = std::env::var("AZURE_TENANT_ID").ok();
    /// let entra = kvref::events::EntraAuth::for_resolver(&resolver, tenant.as_deref(), "my-app-id")?
    ///     .build()?;
    /// # let _ = entra; Ok::<(), String>(()) }).unwrap();
    /// ```
    pub fn for_resolver(
        resolver: &Resolver,
        tenant: Option<&str>,
        audience: impl Into<String>,
    ) -> Result<EntraAuthBuilder, String> {
        let builder = match resolver.local_entra() {
            Some(local) => EntraAuth::builder(&local.tenant, audience).authority(&local.authority),
            None => {
                let tenant = tenant.map(str::trim).filter(|t| !t.is_empty()).ok_or(
                    "the webhook's Entra tenant is not set: give the tenant (GUID) of the \
                     application Event Grid gets tokens for (AZURE_TENANT_ID, say)",
                )?;
                EntraAuth::builder(tenant, audience)
            }
        };
        Ok(builder.transport(resolver.transport().clone()))
    }

    pub(super) async fn check(&self, headers: &HeaderMap) -> Verdict {
        let Some(token) = headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
        else {
            return Verdict::Rejected("no bearer token".into());
        };
        let header = match jsonwebtoken::decode_header(token) {
            Ok(header) => header,
            Err(_) => return Verdict::Rejected("the bearer token is not a JWT".into()),
        };
        if header.alg != Algorithm::RS256 {
            return Verdict::Rejected(format!(
                "the bearer token is signed with {:?}, not RS256",
                header.alg
            ));
        }
        let Some(kid) = header.kid else {
            return Verdict::Rejected("the bearer token names no signing key (kid)".into());
        };
        let key = match self.key(&kid).await {
            Ok(Some(key)) => key,
            Ok(None) => {
                return Verdict::Rejected(format!("the tenant publishes no signing key {kid}"));
            }
            Err(reason) => return Verdict::Unavailable(reason),
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_audience(&self.audiences);
        validation.set_issuer(&self.issuers);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let claims = match jsonwebtoken::decode::<Caller>(token, &key, &validation) {
            Ok(data) => data.claims,
            Err(e) => return Verdict::Rejected(format!("the bearer token is refused: {e}")),
        };
        if let Some(tid) = &claims.tid
            && !tid.eq_ignore_ascii_case(&self.tenant)
        {
            return Verdict::Rejected(format!("the bearer token is of tenant {tid}"));
        }
        let caller = claims.appid.or(claims.azp).unwrap_or_default();
        if !self.callers.iter().any(|c| c.eq_ignore_ascii_case(&caller)) {
            return Verdict::Rejected(format!(
                "the bearer token's caller {caller:?} is not Event Grid's application"
            ));
        }
        Verdict::Accepted
    }

    /// The key `kid`, fetching the keys when it is unknown (at most once per
    /// [`REFETCH_AFTER`]) or the cache is old. `Err` when the keys cannot be had now.
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, String> {
        let mut cache = self.keys.lock().await;
        let now = Instant::now();
        let fresh = cache
            .fetched
            .is_some_and(|at| now.duration_since(at) < KEYS_MAX_AGE);
        if fresh && let Some(jwk) = cache.find(kid) {
            return decoding_key(jwk);
        }
        let recently_tried = cache
            .tried
            .as_ref()
            .is_some_and(|(at, _)| now.duration_since(*at) < REFETCH_AFTER);
        if recently_tried {
            return match (cache.find(kid), &cache.tried) {
                (Some(jwk), _) => decoding_key(jwk),
                (None, Some((_, error))) if !error.is_empty() => Err(error.clone()),
                (None, _) => Ok(None),
            };
        }
        match self.fetch().await {
            Ok(keys) => {
                cache.keys = keys;
                cache.fetched = Some(now);
                cache.tried = Some((now, String::new()));
            }
            Err(error) => {
                tracing::warn!(%error, "kvref events: Entra signing keys could not be fetched");
                cache.tried = Some((now, error.clone()));
                if cache.find(kid).is_none() {
                    return Err(error);
                }
            }
        }
        cache.find(kid).map_or(Ok(None), decoding_key)
    }

    /// The discovery document, then the keys it names (which must be on the authority's host).
    async fn fetch(&self) -> Result<Vec<Jwk>, String> {
        let document = self.get_json(&self.discovery).await?;
        let jwks_uri = document
            .get("jwks_uri")
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("{} names no jwks_uri", self.discovery))?;
        let same_host = url::Url::parse(jwks_uri).ok().is_some_and(|u| {
            u.scheme() == "https"
                && u.host_str()
                    .is_some_and(|h| h.eq_ignore_ascii_case(&self.authority_host))
        });
        if !same_host {
            return Err(format!(
                "{} names keys at {jwks_uri}, not on https://{}",
                self.discovery, self.authority_host
            ));
        }
        let set = self.get_json(jwks_uri).await?;
        let keys = set
            .get("keys")
            .and_then(|k| k.as_array())
            .ok_or_else(|| format!("{jwks_uri} holds no keys array"))?;
        // Keys of a type this version cannot read are skipped, not fatal.
        Ok(keys
            .iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect())
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let response = self
            .transport
            .client()
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", crate::transport::error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        let body = read_bounded(response, BODY_LIMIT)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("{url} sent no JSON: {e}"))
    }
}

fn decoding_key(jwk: &Jwk) -> Result<Option<DecodingKey>, String> {
    // A published key that cannot be read verifies nothing; tokens signed with it are refused.
    Ok(DecodingKey::from_jwk(jwk).ok())
}
