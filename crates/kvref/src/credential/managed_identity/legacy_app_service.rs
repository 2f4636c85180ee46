//! The older App Service protocol (api-version 2017-09-01, `MSI_ENDPOINT` + `MSI_SECRET`).
//!
//! `GET {MSI_ENDPOINT}?resource=…&api-version=2017-09-01[&clientid=…]` with `secret:
//! {MSI_SECRET}`. Only a client id can select a user-assigned identity (checked when the
//! credential is built); Azure Machine Learning's `DEFAULT_IDENTITY_CLIENT_ID` is the default.
//! `expires_on` comes as a date string such as `1/16/2020 5:24:12 AM +00:00`.

use super::app_service::{Protocol, refusal};
use super::protocol::{Call, Target};
use super::{
    Context, ManagedIdentitySource, SecretHeader, endpoint_url, secret_header, with_query,
};
use crate::Env;
use crate::credential::retry::{Reply, RetryOptions};
use crate::credential::{CredentialError, UserAssignedId};
use crate::transport::HttpTransport;

const API_VERSION: &str = "2017-09-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::LegacyAppService;
const PROTOCOL: Protocol = Protocol {
    endpoint: "legacy App Service",
    secret: "MSI_SECRET",
    variable: "MSI_SECRET",
};

pub(super) struct LegacyAppService {
    target: Target,
    header: SecretHeader,
    /// Azure Machine Learning compute names its identity in `DEFAULT_IDENTITY_CLIENT_ID`; it is
    /// used when nothing else chose one (as the Azure SDKs do for this protocol).
    default_client_id: Option<String>,
}

impl std::fmt::Debug for LegacyAppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyAppService")
            .field("url", &self.target.url.as_str())
            .finish_non_exhaustive()
    }
}

impl LegacyAppService {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        Ok(Self {
            target: Target::new(endpoint_url(env, "MSI_ENDPOINT")?, &transport, retry),
            header: secret_header(env, PROTOCOL.variable),
            default_client_id: env.get("DEFAULT_IDENTITY_CLIENT_ID").map(str::to_owned),
        })
    }
}

impl super::protocol::Protocol for LegacyAppService {
    const SOURCE: ManagedIdentitySource = SOURCE;

    fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, resource: &str, ctx: &Context<'_>) -> Result<Call, CredentialError> {
        // Object and resource ids were refused when the credential was built.
        let client_id = match ctx.identity {
            Some(UserAssignedId::ClientId(id)) => Some(id.as_str()),
            _ => self.default_client_id.as_deref(),
        };
        let query = [("resource", resource), ("api-version", API_VERSION)];
        let url = with_query(
            &self.target.url,
            query
                .into_iter()
                .chain(client_id.map(|id| ("clientid", id))),
        );
        Ok(Call::get(url).header("secret", self.header.value(SOURCE)?))
    }

    fn refusal(&self, reply: &Reply, _: &str, ctx: &Context<'_>) -> CredentialError {
        refusal(&PROTOCOL, reply, ctx)
    }
}
