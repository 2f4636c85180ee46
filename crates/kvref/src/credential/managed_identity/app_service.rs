//! App Service, Azure Functions and Container Apps (api-version 2019-08-01).
//!
//! `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…` with `X-IDENTITY-HEADER:
//! {IDENTITY_HEADER}`. A user-assigned identity is selected by `client_id`, `principal_id` or
//! `mi_res_id`. Errors come as `{"statusCode":400,"message":"…","correlationId":"…"}`.

use reqwest::StatusCode;

use super::protocol::{Call, Target};
use super::{
    Context, ManagedIdentitySource, SecretHeader, SelectorNames, endpoint_url, error,
    secret_header, status_text, with_query,
};
use crate::Env;
use crate::credential::retry::{Reply, RetryOptions};
use crate::credential::{CredentialError, CredentialErrorKind};
use crate::transport::HttpTransport;

const API_VERSION: &str = "2019-08-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AppService;
const SELECTORS: SelectorNames = SelectorNames {
    client_id: "client_id",
    object_id: "principal_id",
    resource_id: "mi_res_id",
};
const PROTOCOL: Protocol = Protocol {
    endpoint: "App Service",
    secret: "X-IDENTITY-HEADER",
    variable: "IDENTITY_HEADER",
};

const ENABLE_SYSTEM_IDENTITY: &str = concat!(
    "enable the system-assigned identity: ",
    "`az webapp identity assign --name <app> --resource-group <group>` ",
    "(Functions: `az functionapp identity assign`, ",
    "Container Apps: `az containerapp identity assign --system-assigned`), ",
    "or select a user-assigned identity with AZURE_CLIENT_ID"
);
const ASSIGN_USER_IDENTITY: &str = concat!(
    "assign the identity to the app (`az webapp identity assign --name <app> ",
    "--resource-group <group> --identities <identity resource id>`)"
);

pub(super) struct AppService {
    target: Target,
    header: SecretHeader,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService")
            .field("url", &self.target.url.as_str())
            .finish_non_exhaustive()
    }
}

impl AppService {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        Ok(Self {
            target: Target::new(endpoint_url(env, "IDENTITY_ENDPOINT")?, &transport, retry),
            header: secret_header(env, PROTOCOL.variable),
        })
    }
}

impl super::protocol::Protocol for AppService {
    const SOURCE: ManagedIdentitySource = SOURCE;

    fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, resource: &str, ctx: &Context<'_>) -> Result<Call, CredentialError> {
        let query = [("api-version", API_VERSION), ("resource", resource)];
        let url = with_query(
            &self.target.url,
            query.into_iter().chain(SELECTORS.pair(ctx.identity)),
        );
        Ok(Call::get(url).header(PROTOCOL.secret, self.header.value(SOURCE)?))
    }

    fn refusal(&self, reply: &Reply, _: &str, ctx: &Context<'_>) -> CredentialError {
        refusal(&PROTOCOL, reply, ctx)
    }
}

/// How one version of the App Service protocol names its endpoint and its secret in errors.
pub(super) struct Protocol {
    /// The endpoint, as in "the App Service identity endpoint".
    pub(super) endpoint: &'static str,
    /// What carries the secret, as a refusal names it.
    pub(super) secret: &'static str,
    /// The environment variable the platform puts the secret in.
    pub(super) variable: &'static str,
}

/// What a final, non-token App Service reply means; both protocol versions answer alike.
pub(super) fn refusal(protocol: &Protocol, reply: &Reply, ctx: &Context<'_>) -> CredentialError {
    let text = status_text(reply);
    match reply.status {
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
            if text.to_ascii_lowercase().contains("managed identity") =>
        {
            let fix = match ctx.identity {
                None => ENABLE_SYSTEM_IDENTITY.to_owned(),
                Some(id) => format!("{ASSIGN_USER_IDENTITY}, or correct the {}", id.kind()),
            };
            error(
                CredentialErrorKind::IdentityNotFound,
                format!("App Service could not load {} ({text})", ctx.describe()),
            )
            .with_fix(fix)
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => error(
            CredentialErrorKind::Refused,
            format!(
                "the {} identity endpoint refused the {} ({text})",
                protocol.endpoint, protocol.secret
            ),
        )
        .with_fix(format!(
            "{} is rotated by the platform: read it from the process environment at start-up \
             (restart the app), never copy it from elsewhere",
            protocol.variable
        )),
        _ => error(
            CredentialErrorKind::Refused,
            format!(
                "App Service refused the token request for {} ({text})",
                ctx.describe()
            ),
        )
        .with_fix("check the requested scope and the identity; the service's message says which"),
    }
}
