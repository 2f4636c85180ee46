//! The older App Service protocol (api-version 2017-09-01, `MSI_ENDPOINT` + `MSI_SECRET`).
//!
//! `GET {MSI_ENDPOINT}?resource=…&api-version=2017-09-01[&clientid=…]` with `secret:
//! {MSI_SECRET}`. Only a client id can select a user-assigned identity (checked when the
//! credential is built); Azure Machine Learning's `DEFAULT_IDENTITY_CLIENT_ID` is the default. `expires_on` comes as a date string such as `1/16/2020 5:24:12 AM +00:00`.

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};

use super::{
    Context, ManagedIdentitySource, endpoint_url, error, gave_up, status_text, token_from,
    unreachable,
};
use crate::Env;
use crate::credential::retry::{RetryOptions, send_with_retry, standard_transient};
use crate::credential::{
    AccessToken, CredentialError, CredentialErrorKind, TokenRequest, UserAssignedId,
};
use crate::transport::HttpTransport;

const API_VERSION: &str = "2017-09-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::LegacyAppService;

pub(super) struct LegacyAppService {
    url: url::Url,
    header: SecretString,
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
            header: SecretString::from(env.get("MSI_SECRET").unwrap_or_default().to_owned()),
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
        let mut url = self.url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("resource", resource)
                .append_pair("api-version", API_VERSION);
            // Object and resource ids were refused when the credential was built.
            let client_id = match ctx.identity {
                Some(UserAssignedId::ClientId(id)) => Some(id.as_str()),
                _ => self.default_client_id.as_deref(),
            };
            if let Some(id) = client_id {
                query.append_pair("clientid", id);
            }
        }
        let client = self.transport.identity_client();
        let reply = send_with_retry(&self.retry, standard_transient, || {
            client
                .get(url.clone())
                .header("secret", self.header.expose_secret())
        })
        .await
        .map_err(|failure| unreachable(SOURCE, &self.url, failure))?;
        if reply.status.is_success() {
            return token_from(SOURCE, &reply);
        }
        if standard_transient(reply.status) {
            return Err(gave_up(SOURCE, &reply));
        }
        let text = status_text(&reply);
        Err(match reply.status {
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
                if text.to_ascii_lowercase().contains("managed identity") =>
            {
                error(
                CredentialErrorKind::IdentityNotFound,
                format!("App Service could not load {} ({text})", ctx.describe()),
            )
            .with_fix(match ctx.identity {
                None => "enable the system-assigned identity: `az webapp identity assign --name <app> --resource-group <group>` (Functions: `az functionapp identity assign`, Container Apps: `az containerapp identity assign --system-assigned`), or select a user-assigned identity with AZURE_CLIENT_ID".to_owned(),
                Some(id) => format!(
                    "assign the identity to the app (`az webapp identity assign --name <app> --resource-group <group> --identities <identity resource id>`), or correct the {}",
                    id.kind()
                ),
            })
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => error(
                CredentialErrorKind::Refused,
                format!("the legacy App Service identity endpoint refused the MSI_SECRET ({text})"),
            )
            .with_fix("MSI_SECRET is rotated by the platform: read it from the process environment at start-up (restart the app), never copy it from elsewhere"),
            _ => error(
                CredentialErrorKind::Refused,
                format!("App Service refused the token request for {} ({text})", ctx.describe()),
            )
            .with_fix("check the requested scope and the identity; the service's message says which"),
        })
    }
}
