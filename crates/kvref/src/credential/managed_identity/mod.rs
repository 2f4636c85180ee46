//! Managed identity: the token endpoint the platform provides, found from the environment.
//!
//! The source is detected in the order the Azure SDKs use:
//!
//! 1. `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` + `IDENTITY_SERVER_THUMBPRINT` → Service Fabric;
//! 2. `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` → App Service (also Functions and Container Apps);
//! 3. `IDENTITY_ENDPOINT` + `IMDS_ENDPOINT` → Azure Arc;
//! 4. `MSI_ENDPOINT` + `MSI_SECRET` → legacy App Service (api-version 2017-09-01);
//! 5. `MSI_ENDPOINT` → Cloud Shell;
//! 6. the Arc agent installed (`/opt/azcmagent/bin/himds`) → Azure Arc on its default port;
//! 7. otherwise IMDS (VMs, scale sets, AKS nodes, Container Instances), at
//!    `http://169.254.169.254` unless `AZURE_POD_IDENTITY_AUTHORITY_HOST` says otherwise.

mod app_service;
mod arc;
mod cloud_shell;
mod imds;
mod legacy_app_service;
mod protocol;
mod service_fabric;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::recheck::RememberedFailure;
use super::retry::{NoResponse, Refused, Reply, RetryOptions};
use super::token_response::parse_token_response;
use super::user_assigned::{IdentitySelection, identity_kind, select_identity};
use super::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest,
    UserAssignedId, traced,
};
use crate::Env;
use crate::transport::{HttpTransport, TransportError};

const CREDENTIAL: &str = "ManagedIdentityCredential";

/// Where the Arc agent is installed on Linux; its presence means "this is an Arc server".
const ARC_AGENT_LINUX: &str = "/opt/azcmagent/bin/himds";
/// The Arc agent's token endpoint when the environment does not name it.
const ARC_DEFAULT_ENDPOINT: &str = "http://localhost:40342/metadata/identity/oauth2/token";

/// The platform endpoint a [`ManagedIdentityCredential`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManagedIdentitySource {
    /// App Service, Functions, Container Apps (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`,
    /// api-version 2019-08-01).
    AppService,
    /// The older App Service protocol (`MSI_ENDPOINT`, `MSI_SECRET`, api-version 2017-09-01).
    LegacyAppService,
    /// Service Fabric (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, `IDENTITY_SERVER_THUMBPRINT`).
    ServiceFabric,
    /// Azure Arc-enabled servers (HIMDS, `IDENTITY_ENDPOINT`, `IMDS_ENDPOINT`).
    AzureArc,
    /// Azure Cloud Shell (`MSI_ENDPOINT` alone).
    CloudShell,
    /// The Azure Instance Metadata Service (VMs, scale sets, AKS nodes).
    Imds,
}

impl ManagedIdentitySource {
    /// The source the environment `env` points to, in the Azure SDKs' order (see the module docs).
    ///
    /// ```
    /// use kvref::Env;
    /// use kvref::credential::ManagedIdentitySource;
    ///
    /// let env = Env::from_pairs([
    ///     ("IDENTITY_ENDPOINT", "http://127.0.0.1:41601/msi/token"),
    ///     ("IDENTITY_HEADER", "853b9a84-5bfa-4b22-a3f3-0b9a43d9ad8a"),
    /// ]);
    /// assert_eq!(ManagedIdentitySource::detect(&env), ManagedIdentitySource::AppService);
    /// ```
    pub fn detect(env: &Env) -> Self {
        Self::detect_with(env, Path::new(ARC_AGENT_LINUX).exists())
    }

    fn detect_with(env: &Env, arc_agent_installed: bool) -> Self {
        if env.contains("IDENTITY_ENDPOINT") {
            if env.contains("IDENTITY_HEADER") {
                return if env.contains("IDENTITY_SERVER_THUMBPRINT") {
                    Self::ServiceFabric
                } else {
                    Self::AppService
                };
            }
            if env.contains("IMDS_ENDPOINT") {
                return Self::AzureArc;
            }
        }
        if env.contains("MSI_ENDPOINT") {
            return if env.contains("MSI_SECRET") {
                Self::LegacyAppService
            } else {
                Self::CloudShell
            };
        }
        if arc_agent_installed {
            return Self::AzureArc;
        }
        Self::Imds
    }

    /// A short name for logs: `app_service`, `legacy_app_service`, `service_fabric`, `arc`,
    /// `cloud_shell`, `imds`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AppService => "app_service",
            Self::LegacyAppService => "legacy_app_service",
            Self::ServiceFabric => "service_fabric",
            Self::AzureArc => "arc",
            Self::CloudShell => "cloud_shell",
            Self::Imds => "imds",
        }
    }

    /// What a refused connection means. Every source but IMDS is an endpoint the environment
    /// names (or, for Arc, an agent that is installed), which may still be starting: retried.
    /// IMDS refusing means there is none here.
    pub(crate) fn refused_means(&self) -> Refused {
        match self {
            Self::Imds => Refused::Final,
            _ => Refused::Retry,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            Self::AppService => "App Service",
            Self::LegacyAppService => "App Service (legacy MSI_ENDPOINT)",
            Self::ServiceFabric => "Service Fabric",
            Self::AzureArc => "Azure Arc",
            Self::CloudShell => "Cloud Shell",
            Self::Imds => "IMDS",
        }
    }
}

impl fmt::Display for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Options for a [`ManagedIdentityCredential`].
///
/// ```
/// use kvref::Env;
/// use kvref::credential::{ManagedIdentityOptions, RetryOptions, UserAssignedId};
/// use kvref::transport::HttpTransport;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let options = ManagedIdentityOptions::new(Env::from_process(), HttpTransport::builder().build()?)
///     .with_user_assigned(UserAssignedId::ClientId("11111111-2222-3333-4444-555555555555".into()))
///     .with_imds_retry(RetryOptions::imds().with_max_elapsed(Duration::from_secs(30)));
/// assert!(options.user_assigned.is_some());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ManagedIdentityOptions {
    /// The user-assigned identity to use. When `None`: `AZURE_CLIENT_ID`, then
    /// `AzureServicesAuthConnectionString` (`RunAs=App;AppId=...`), then the system-assigned identity.
    pub user_assigned: Option<UserAssignedId>,
    /// Where the endpoint variables are read from.
    pub env: Env,
    /// The HTTP clients (the identity client, never through a proxy).
    pub transport: HttpTransport,
    /// Retries for IMDS and Azure Arc.
    pub imds_retry: RetryOptions,
    /// Retries for the other identity endpoints.
    pub retry: RetryOptions,
}

impl ManagedIdentityOptions {
    /// Options reading `env`, talking through `transport`, with the default retries.
    pub fn new(env: Env, transport: HttpTransport) -> Self {
        Self {
            user_assigned: None,
            env,
            transport,
            imds_retry: RetryOptions::imds(),
            retry: RetryOptions::standard(),
        }
    }

    /// Options for the process environment and the shared transport.
    pub fn from_process() -> Result<Self, TransportError> {
        Ok(Self::new(Env::from_process(), HttpTransport::shared()?))
    }

    /// Uses this user-assigned identity (takes precedence over `AZURE_CLIENT_ID`).
    pub fn with_user_assigned(mut self, id: UserAssignedId) -> Self {
        self.user_assigned = Some(id);
        self
    }

    /// Retries for IMDS and Azure Arc.
    pub fn with_imds_retry(mut self, retry: RetryOptions) -> Self {
        self.imds_retry = retry;
        self
    }

    /// Retries for the other identity endpoints.
    pub fn with_retry(mut self, retry: RetryOptions) -> Self {
        self.retry = retry;
        self
    }
}

/// Gets tokens from the platform's managed identity endpoint (see the module docs for how the
/// source is found).
///
/// ```no_run
/// use kvref::credential::{ManagedIdentityCredential, ManagedIdentityOptions, TokenCredential, TokenRequest};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let credential = ManagedIdentityCredential::new(ManagedIdentityOptions::from_process()?)?;
/// println!("using {}", credential.source());
/// let token = credential.get_token(&TokenRequest::new("https://vault.azure.net/.default")).await?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ManagedIdentityCredential {
    source: ManagedIdentitySource,
    endpoint: Endpoint,
    identity: Option<UserAssignedId>,
    selection: IdentitySelection,
    /// Set inside the chain: probe IMDS (1 s, no retries) before the first real request.
    probe: Option<ImdsProbe>,
}

/// The per-source state.
#[derive(Debug)]
enum Endpoint {
    AppService(app_service::AppService),
    LegacyAppService(legacy_app_service::LegacyAppService),
    ServiceFabric(service_fabric::ServiceFabric),
    AzureArc(arc::Arc),
    CloudShell(cloud_shell::CloudShell),
    Imds(imds::Imds),
}

impl ManagedIdentityCredential {
    /// Detects the source and checks that it can serve the chosen identity.
    pub fn new(options: ManagedIdentityOptions) -> Result<Self, CredentialError> {
        let source = ManagedIdentitySource::detect(&options.env);
        Self::for_source(source, options)
    }

    fn for_source(
        source: ManagedIdentitySource,
        options: ManagedIdentityOptions,
    ) -> Result<Self, CredentialError> {
        let (identity, selection) =
            select_identity(options.user_assigned.as_ref(), &options.env, CREDENTIAL)?;
        check_supported(source, identity.as_ref(), selection)?;
        let env = &options.env;
        let endpoint = match source {
            ManagedIdentitySource::AppService => {
                Endpoint::AppService(app_service::AppService::new(
                    env,
                    options.transport.clone(),
                    options.retry.clone(),
                )?)
            }
            ManagedIdentitySource::LegacyAppService => {
                Endpoint::LegacyAppService(legacy_app_service::LegacyAppService::new(
                    env,
                    options.transport.clone(),
                    options.retry.clone(),
                )?)
            }
            ManagedIdentitySource::ServiceFabric => Endpoint::ServiceFabric(
                service_fabric::ServiceFabric::new(env, &options.transport, options.retry.clone())?,
            ),
            ManagedIdentitySource::AzureArc => Endpoint::AzureArc(arc::Arc::new(
                env,
                options.transport.clone(),
                options.imds_retry.clone(),
            )?),
            ManagedIdentitySource::CloudShell => {
                Endpoint::CloudShell(cloud_shell::CloudShell::new(
                    env,
                    options.transport.clone(),
                    options.retry.clone(),
                )?)
            }
            ManagedIdentitySource::Imds => Endpoint::Imds(imds::Imds::new(
                env,
                options.transport.clone(),
                options.imds_retry.clone(),
            )?),
        };
        Ok(Self {
            source,
            endpoint,
            identity,
            selection,
            probe: None,
        })
    }

    /// The detected source.
    pub fn source(&self) -> ManagedIdentitySource {
        self.source
    }

    /// The user-assigned identity in use, or `None` for the system-assigned identity.
    pub fn user_assigned(&self) -> Option<&UserAssignedId> {
        self.identity.as_ref()
    }

    /// What chose the identity (option, `AZURE_CLIENT_ID`, connection string, or none).
    pub fn selection(&self) -> IdentitySelection {
        self.selection
    }

    /// Inside the default chain, IMDS is probed before use so machines without it fail fast.
    pub(crate) fn probe_imds_first(mut self) -> Self {
        if self.source == ManagedIdentitySource::Imds {
            self.probe = Some(ImdsProbe::default());
        }
        self
    }

    async fn request(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        let ctx = Context {
            identity: self.identity.as_ref(),
            selection: self.selection,
        };
        match &self.endpoint {
            Endpoint::AppService(e) => protocol::get_token(e, request, &ctx).await,
            Endpoint::LegacyAppService(e) => protocol::get_token(e, request, &ctx).await,
            Endpoint::ServiceFabric(e) => protocol::get_token(e, request, &ctx).await,
            // Two requests (a challenge, then the token): its own sequence over the same parts.
            Endpoint::AzureArc(e) => e.get_token(request).await,
            Endpoint::CloudShell(e) => protocol::get_token(e, request, &ctx).await,
            Endpoint::Imds(imds) => {
                if let Some(probe) = &self.probe {
                    probe.check(imds).await?;
                }
                protocol::get_token(imds, request, &ctx).await
            }
        }
    }
}

/// The chain's IMDS probe waits this long for any HTTP answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether IMDS answers: once it has, for ever; a failure is remembered only for a back-off,
/// so a blip at start-up does not make IMDS unavailable for the life of the process.
#[derive(Debug, Default)]
struct ImdsProbe {
    passed: std::sync::OnceLock<()>,
    failure: RememberedFailure,
    /// One probe at a time; concurrent callers take its result.
    flight: tokio::sync::Mutex<()>,
}

impl ImdsProbe {
    async fn check(&self, imds: &imds::Imds) -> Result<(), CredentialError> {
        if self.passed.get().is_some() {
            return Ok(());
        }
        let _flight = self.flight.lock().await;
        if self.passed.get().is_some() {
            return Ok(());
        }
        if let Some(error) = self.failure.recent() {
            return Err(error);
        }
        let result = imds.probe(PROBE_TIMEOUT).await;
        match &result {
            Ok(()) => {
                self.failure.passed();
                let _ = self.passed.set(());
            }
            Err(error) => self.failure.failed(error),
        }
        result
    }
}

#[async_trait]
impl TokenCredential for ManagedIdentityCredential {
    fn name(&self) -> &str {
        CREDENTIAL
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(
            CREDENTIAL,
            self.source.as_str(),
            identity_kind(self.identity.as_ref()),
            self.request(request),
        )
        .await
    }
}

/// What every source needs to know about the identity asked for.
pub(super) struct Context<'a> {
    pub(super) identity: Option<&'a UserAssignedId>,
    pub(super) selection: IdentitySelection,
}

impl Context<'_> {
    /// "the system-assigned identity" / "the user-assigned identity with client id X (chosen by AZURE_CLIENT_ID)".
    pub(super) fn describe(&self) -> String {
        match self.identity {
            None => "the system-assigned identity".to_owned(),
            Some(id) => format!("the user-assigned identity with {id} ({})", self.selection),
        }
    }
}

fn check_supported(
    source: ManagedIdentitySource,
    identity: Option<&UserAssignedId>,
    selection: IdentitySelection,
) -> Result<(), CredentialError> {
    let Some(id) = identity else { return Ok(()) };
    let unsupported = match source {
        ManagedIdentitySource::AzureArc
        | ManagedIdentitySource::CloudShell
        | ManagedIdentitySource::ServiceFabric => true,
        ManagedIdentitySource::LegacyAppService => !matches!(id, UserAssignedId::ClientId(_)),
        ManagedIdentitySource::AppService | ManagedIdentitySource::Imds => false,
    };
    if !unsupported {
        return Ok(());
    }
    let (what, fix) = match source {
        ManagedIdentitySource::LegacyAppService => (
            format!(
                "the legacy App Service protocol (MSI_ENDPOINT, api-version 2017-09-01) \
                 selects user-assigned identities by client id only, not by {}",
                id.kind()
            ),
            "select the identity by its client id (UserAssignedId::ClientId or AZURE_CLIENT_ID)"
                .to_owned(),
        ),
        _ => (
            format!("{source} supports only the system-assigned identity"),
            match selection {
                IdentitySelection::AzureClientId => {
                    "unset AZURE_CLIENT_ID for this process (it selects a user-assigned identity)"
                        .to_owned()
                }
                IdentitySelection::ConnectionString => {
                    "remove AppId from AzureServicesAuthConnectionString (use RunAs=App)".to_owned()
                }
                _ => "do not pass a UserAssignedId on this platform".to_owned(),
            },
        ),
    };
    Err(CredentialError::new(
        CredentialErrorKind::InvalidConfiguration,
        CREDENTIAL,
        format!("cannot use the user-assigned identity with {id} ({selection}): {what}"),
    )
    .with_fix(fix))
}

/// A parsed endpoint URL from the environment, or a configuration error naming the variable.
pub(super) fn endpoint_url(env: &Env, variable: &str) -> Result<url::Url, CredentialError> {
    let value = env.get(variable).unwrap_or_default();
    let url = url::Url::parse(value).map_err(|e| {
        CredentialError::new(
            CredentialErrorKind::InvalidConfiguration,
            CREDENTIAL,
            format!("{variable} is not a valid URL ({e})"),
        )
        .with_fix(format!(
            "set {variable} to the endpoint's full URL, or unset it"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CredentialError::new(
            CredentialErrorKind::InvalidConfiguration,
            CREDENTIAL,
            format!(
                "{variable} must be an http or https URL, not {}",
                url.scheme()
            ),
        ));
    }
    Ok(url)
}

/// A secret the platform puts in the environment (an identity header), kept out of Debug.
pub(super) fn secret_header(env: &Env, variable: &'static str) -> SecretHeader {
    SecretHeader {
        variable,
        value: sensitive_header(env.get(variable).unwrap_or_default()),
    }
}

/// A header value built once and marked sensitive, so that neither http's `Debug` nor HTTP/2
/// header compression ever exposes it. `None` when the text cannot be a header value.
pub(super) fn sensitive_header(text: &str) -> Option<reqwest::header::HeaderValue> {
    let mut value = reqwest::header::HeaderValue::from_str(text).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// An identity endpoint's secret from the environment, ready to send as a header.
pub(super) struct SecretHeader {
    variable: &'static str,
    value: Option<reqwest::header::HeaderValue>,
}

impl SecretHeader {
    /// The header value, or an error naming the variable (never its value) when the variable
    /// holds characters a header cannot carry.
    pub(super) fn value(
        &self,
        source: ManagedIdentitySource,
    ) -> Result<reqwest::header::HeaderValue, CredentialError> {
        self.value.clone().ok_or_else(|| {
            error(
                CredentialErrorKind::InvalidConfiguration,
                format!(
                    "the {source} identity secret in {} holds characters an HTTP header cannot carry",
                    self.variable
                ),
            )
            .with_fix(format!(
                "unset {} or set it to the value the platform provides",
                self.variable
            ))
        })
    }
}

/// The query parameters a protocol selects a user-assigned identity with.
pub(super) struct SelectorNames {
    pub(super) client_id: &'static str,
    pub(super) object_id: &'static str,
    pub(super) resource_id: &'static str,
}

impl SelectorNames {
    /// The query pair that selects `identity`; none for the system-assigned identity.
    pub(super) fn pair<'a>(
        &self,
        identity: Option<&'a UserAssignedId>,
    ) -> Option<(&'static str, &'a str)> {
        Some(match identity? {
            UserAssignedId::ClientId(id) => (self.client_id, id.as_str()),
            UserAssignedId::ObjectId(id) => (self.object_id, id.as_str()),
            UserAssignedId::ResourceId(id) => (self.resource_id, id.as_str()),
        })
    }
}

/// `base` with `pairs` appended to its query, in order.
pub(super) fn with_query<'a>(
    base: &url::Url,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> url::Url {
    let mut url = base.clone();
    url.query_pairs_mut().extend_pairs(pairs);
    url
}

pub(super) fn error(kind: CredentialErrorKind, message: impl Into<String>) -> CredentialError {
    CredentialError::new(kind, CREDENTIAL, message)
}

/// A 2xx reply as a token; anything else in it is an invalid response.
pub(super) fn token_from(
    source: ManagedIdentitySource,
    reply: &Reply,
) -> Result<AccessToken, CredentialError> {
    parse_token_response(&reply.body, jiff::Timestamp::now()).map_err(|e| {
        error(
            CredentialErrorKind::InvalidResponse,
            format!(
                "the {source} identity endpoint answered HTTP {} but {}",
                reply.status.as_u16(),
                e.0
            ),
        )
        .with_fix("this is a platform problem; retry later, and report it if it persists")
    })
}

/// "HTTP 400: Identity not found" from a reply.
pub(super) fn status_text(reply: &Reply) -> String {
    match reply.describe() {
        Some(description) => format!("HTTP {}: {description}", reply.status.as_u16()),
        None => format!("HTTP {}", reply.status.as_u16()),
    }
}

/// No response at all from an endpoint the environment names: a real failure.
pub(super) fn unreachable(
    source: ManagedIdentitySource,
    url: &url::Url,
    failure: NoResponse,
) -> CredentialError {
    if let Some(unusable) = failure.unusable {
        return unusable.error(CREDENTIAL, &format!("the {source} identity endpoint"), url);
    }
    let what = if failure.timed_out {
        "did not answer in time"
    } else if failure.refused {
        "refused the connection"
    } else {
        "could not be reached"
    };
    error(
        CredentialErrorKind::Unreachable,
        format!(
            "the {source} identity endpoint {} {what} after {} attempt(s) over {:.1} s: {}",
            redact_query(url),
            failure.attempts,
            failure.elapsed.as_secs_f64(),
            failure.detail
        ),
    )
    .with_fix(concat!(
        "check that the identity endpoint variables belong to this machine or container ",
        "and that the platform's identity service is running"
    ))
}

/// A reply that is still transient after the retry budget.
pub(super) fn gave_up(source: ManagedIdentitySource, reply: &Reply) -> CredentialError {
    error(
        CredentialErrorKind::Unreachable,
        format!(
            "the {source} identity endpoint still answered {} after {} attempt(s) over {:.1} s",
            status_text(reply),
            reply.attempts,
            reply.elapsed.as_secs_f64()
        ),
    )
    .with_fix(concat!(
        "the platform's identity service is unavailable or throttling; retry later, ",
        "or raise the retry budget (RetryOptions::max_elapsed)"
    ))
}

/// An endpoint URL without its query, for messages.
pub(super) fn redact_query(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// The resource and scope checks every source shares.
pub(super) fn resource_of(request: &TokenRequest) -> Result<&str, CredentialError> {
    let resource = request.resource();
    if resource.is_empty() || resource.contains(char::is_whitespace) {
        return Err(error(
            CredentialErrorKind::InvalidConfiguration,
            format!(
                "'{}' is not a usable scope for a managed identity",
                request.scope
            ),
        )
        .with_fix("ask for one scope such as https://vault.azure.net/.default"));
    }
    Ok(resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(pairs: &[(&str, &str)], arc_agent: bool) -> ManagedIdentitySource {
        ManagedIdentitySource::detect_with(&Env::from_pairs(pairs.iter().copied()), arc_agent)
    }

    #[test]
    fn identity_secrets_become_sensitive_header_values() {
        let env = Env::from_pairs([("IDENTITY_HEADER", "HEADER-SECRET")]);
        let header = secret_header(&env, "IDENTITY_HEADER")
            .value(ManagedIdentitySource::AppService)
            .unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "HEADER-SECRET");
        assert!(!format!("{header:?}").contains("HEADER-SECRET"));
        assert!(sensitive_header("Basic key").unwrap().is_sensitive());
    }

    #[test]
    fn a_secret_a_header_cannot_carry_is_a_configuration_error_without_the_value() {
        let env = Env::from_pairs([("IDENTITY_HEADER", "BAD\nSECRET")]);
        let err = secret_header(&env, "IDENTITY_HEADER")
            .value(ManagedIdentitySource::AppService)
            .unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        assert!(err.to_string().contains("IDENTITY_HEADER"), "{err}");
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(!format!("{err:?}").contains("SECRET"), "{err:?}");
    }

    #[test]
    fn detection_follows_the_sdk_order() {
        use ManagedIdentitySource::*;
        let e = ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token");
        let h = ("IDENTITY_HEADER", "h");
        let t = ("IDENTITY_SERVER_THUMBPRINT", "ab");
        let i = ("IMDS_ENDPOINT", "http://localhost:40342");
        let m = ("MSI_ENDPOINT", "http://localhost:50342/oauth2/token");
        let s = ("MSI_SECRET", "s");
        assert_eq!(detect(&[e, h, t, i, m, s], true), ServiceFabric);
        assert_eq!(detect(&[e, h, i, m, s], true), AppService);
        assert_eq!(detect(&[e, i, m, s], false), AzureArc);
        assert_eq!(detect(&[m, s], true), LegacyAppService);
        assert_eq!(detect(&[m], true), CloudShell);
        // IDENTITY_ENDPOINT alone is not enough for anything; fall through.
        assert_eq!(detect(&[e, m], false), CloudShell);
        assert_eq!(detect(&[e], false), Imds);
        assert_eq!(detect(&[], true), AzureArc);
        assert_eq!(detect(&[], false), Imds);
        // Empty values count as unset.
        assert_eq!(
            detect(
                &[("IDENTITY_ENDPOINT", ""), ("IDENTITY_HEADER", "h")],
                false
            ),
            Imds
        );
        assert_eq!(
            detect(
                &[("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")],
                false
            ),
            Imds
        );
    }

    #[test]
    fn unsupported_identity_combinations_are_configuration_errors() {
        use ManagedIdentitySource::*;
        let client = UserAssignedId::ClientId("c".into());
        let object = UserAssignedId::ObjectId("o".into());
        let resource = UserAssignedId::ResourceId("/subscriptions/x".into());
        for source in [AzureArc, CloudShell, ServiceFabric] {
            for id in [&client, &object, &resource] {
                let err = check_supported(source, Some(id), IdentitySelection::AzureClientId)
                    .unwrap_err();
                assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
                assert!(err.fix().unwrap().contains("AZURE_CLIENT_ID"), "{err:?}");
            }
            assert!(check_supported(source, None, IdentitySelection::SystemAssigned).is_ok());
        }
        assert!(
            check_supported(LegacyAppService, Some(&client), IdentitySelection::Explicit).is_ok()
        );
        for id in [&object, &resource] {
            let err = check_supported(LegacyAppService, Some(id), IdentitySelection::Explicit)
                .unwrap_err();
            assert!(err.message().contains("client id only"), "{err}");
        }
        for source in [AppService, Imds] {
            for id in [&client, &object, &resource] {
                assert!(check_supported(source, Some(id), IdentitySelection::Explicit).is_ok());
            }
        }
    }
}
