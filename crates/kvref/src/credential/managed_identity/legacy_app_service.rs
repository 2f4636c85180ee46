//! The older App Service protocol (api-version 2017-09-01, `MSI_ENDPOINT` + `MSI_SECRET`).
//!
//! `GET {MSI_ENDPOINT}?resource=…&api-version=2017-09-01[&clientid=…]` with `secret:
//! {MSI_SECRET}`. Only a client id can select a user-assigned identity (checked when the
//! credential is built); Azure Machine Learning's `DEFAULT_IDENTITY_CLIENT_ID` is the default.
//! `expires_on` comes as a date string such as `1/16/2020 5:24:12 AM +00:00`.

use super::app_service::{Protocol, refusal};
use super::{
    Context, ManagedIdentitySource, SecretHeader, endpoint_url, fetch, secret_header, unreachable,
    with_query,
};
use crate::Env;
use crate::credential::retry::RetryOptions;
use crate::credential::{AccessToken, CredentialError, TokenRequest, UserAssignedId};
use crate::retry::is_transient_status;
use crate::transport::HttpTransport;

const API_VERSION: &str = "2017-09-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::LegacyAppService;
const PROTOCOL: Protocol = Protocol {
    endpoint: "legacy App Service",
    secret: "MSI_SECRET",
    variable: "MSI_SECRET",
};

pub(super) struct LegacyAppService {
    url: url::Url,
    header: SecretHeader,
    /// Azure Machine Learning compute names its identity in `DEFAULT_IDENTITY_CLIENT_ID`; it is
    /// used when nothing else chose one (as the Azure SDKs do for this protocol).
    default_client_id: Option<String>,
    transport: HttpTransport,
    retry: RetryOptions,
}

impl std::fmt::Debug for LegacyAppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyAppService")
            .field("url", &self.url.as_str())
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
            url: endpoint_url(env, "MSI_ENDPOINT")?,
            header: secret_header(env, PROTOCOL.variable),
            default_client_id: env.get("DEFAULT_IDENTITY_CLIENT_ID").map(str::to_owned),
            transport,
            retry,
        })
    }

    pub(super) async fn get_token(
        &self,
        request: &TokenRequest,
        ctx: &Context<'_>,
    ) -> Result<AccessToken, CredentialError> {
        let resource = super::resource_of(request)?;
        // Object and resource ids were refused when the credential was built.
        let client_id = match ctx.identity {
            Some(UserAssignedId::ClientId(id)) => Some(id.as_str()),
            _ => self.default_client_id.as_deref(),
        };
        let query = [("resource", resource), ("api-version", API_VERSION)];
        let url = with_query(
            &self.url,
            query
                .into_iter()
                .chain(client_id.map(|id| ("clientid", id))),
        );
        let client = self.transport.identity_client();
        let header = self.header.value(SOURCE)?;
        fetch(
            SOURCE,
            &self.retry,
            is_transient_status,
            || client.get(url.clone()).header("secret", header.clone()),
            |failure| unreachable(SOURCE, &self.url, failure),
        )
        .await?
        .map_err(|reply| refusal(&PROTOCOL, &reply, ctx))
    }
}
