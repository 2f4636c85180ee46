//! IMDS, the Azure Instance Metadata Service (VMs, scale sets, AKS nodes, Container Instances).
//!
//! `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…`
//! with `Metadata: true`, never through a proxy. `AZURE_POD_IDENTITY_AUTHORITY_HOST` replaces
//! the address (as in the Python and .NET SDKs). A user-assigned identity is selected by
//! `client_id`, `object_id` or `msi_res_id`.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderValue;

use super::protocol::{Call, Target};
use super::{
    Context, ManagedIdentitySource, SelectorNames, endpoint_url, error, status_text, unreachable,
    with_query,
};
use crate::Env;
use crate::credential::retry::{NoResponse, Reply, RetryOptions, imds_transient};
use crate::credential::{CredentialError, CredentialErrorKind};
use crate::transport::HttpTransport;

const DEFAULT_HOST: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::Imds;
const SELECTORS: SelectorNames = SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "msi_res_id",
};

const ENABLE_SYSTEM_IDENTITY: &str = concat!(
    "enable the system-assigned identity: ",
    "`az vm identity assign --name <vm> --resource-group <group>` ",
    "(scale sets: `az vmss identity assign`), ",
    "or select a user-assigned identity with AZURE_CLIENT_ID"
);
const ASSIGN_USER_IDENTITY: &str = concat!(
    "assign the identity to this resource (`az vm identity assign --name <vm> ",
    "--resource-group <group> --identities <identity resource id>`)"
);

#[derive(Debug)]
pub(super) struct Imds {
    target: Target,
}

impl Imds {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        let url = match env.get("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            Some(host) => {
                let joined = format!("{}{TOKEN_PATH}", host.trim().trim_end_matches('/'));
                let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", joined)]);
                endpoint_url(&env, "AZURE_POD_IDENTITY_AUTHORITY_HOST")?
            }
            None => url::Url::parse(&format!("{DEFAULT_HOST}{TOKEN_PATH}"))
                .map_err(|e| error(CredentialErrorKind::InvalidConfiguration, e.to_string()))?,
        };
        Ok(Self {
            target: Target::new(url, &transport, retry),
        })
    }

    /// The chain's probe: the token URL without query or `Metadata` header, one attempt, a short
    /// timeout. Any HTTP answer (IMDS says 400 "Required metadata header not specified") means
    /// IMDS is there.
    pub(super) async fn probe(&self, timeout: Duration) -> Result<(), CredentialError> {
        let attempt = tokio::time::timeout(
            timeout,
            self.target
                .client
                .get(self.target.url.clone())
                .timeout(timeout)
                .send(),
        )
        .await;
        let silent = || {
            self.absent(&format!(
                "it did not answer within {} ms",
                timeout.as_millis()
            ))
        };
        match attempt {
            Ok(Ok(_response)) => Ok(()),
            Ok(Err(e)) if e.is_timeout() => Err(silent()),
            Ok(Err(e)) => Err(self.absent(&format!(
                "it could not be reached ({})",
                crate::transport::error_chain(&e.without_url())
            ))),
            Err(_) => Err(silent()),
        }
    }

    fn absent(&self, why: &str) -> CredentialError {
        error(
            CredentialErrorKind::Unavailable,
            format!(
                "no managed identity endpoint in the environment, and IMDS at {} is not \
                 available: {why}",
                super::redact_query(&self.target.url)
            ),
        )
        .with_fix(concat!(
            "on Azure, enable a managed identity for this resource ",
            "(App Service: `az webapp identity assign --name <app> --resource-group <group>`; ",
            "VM: `az vm identity assign --name <vm> --resource-group <group>`); ",
            "on a developer machine, log in with `az login`"
        ))
    }
}

impl super::protocol::Protocol for Imds {
    const SOURCE: ManagedIdentitySource = SOURCE;

    const TRANSIENT: fn(StatusCode) -> bool = imds_transient;

    fn target(&self) -> &Target {
        &self.target
    }

    fn call(&self, resource: &str, ctx: &Context<'_>) -> Result<Call, CredentialError> {
        let query = [("api-version", API_VERSION), ("resource", resource)];
        let url = with_query(
            &self.target.url,
            query.into_iter().chain(SELECTORS.pair(ctx.identity)),
        );
        Ok(Call::get(url).header("Metadata", HeaderValue::from_static("true")))
    }

    fn refusal(&self, reply: &Reply, _: &str, ctx: &Context<'_>) -> CredentialError {
        refusal(reply, ctx)
    }

    fn no_response(&self, failure: NoResponse) -> CredentialError {
        if failure.refused {
            // Nothing listens there: there is no IMDS here.
            self.absent("the connection was refused")
        } else {
            unreachable(SOURCE, &self.target.url, failure)
        }
    }
}

/// What a final, non-token IMDS reply means.
fn refusal(reply: &Reply, ctx: &Context<'_>) -> CredentialError {
    let text = status_text(reply);
    let lower = text.to_ascii_lowercase();
    match reply.status {
        StatusCode::BAD_REQUEST if lower.contains("identity not found") => {
            let fix = match ctx.identity {
                None => ENABLE_SYSTEM_IDENTITY.to_owned(),
                Some(id) => format!("{ASSIGN_USER_IDENTITY}, or correct the {}", id.kind()),
            };
            error(
                CredentialErrorKind::IdentityNotFound,
                format!("IMDS has no {} for this resource ({text})", ctx.describe()),
            )
            .with_fix(fix)
        }
        StatusCode::BAD_REQUEST if lower.contains("multiple user assigned identities") => error(
            CredentialErrorKind::InvalidConfiguration,
            format!(
                "IMDS cannot choose an identity: this resource has several user-assigned \
                 identities and no system-assigned one ({text})"
            ),
        )
        .with_fix("choose one: set AZURE_CLIENT_ID to its client id, or pass a UserAssignedId"),
        StatusCode::FORBIDDEN if lower.contains("unreachable") => error(
            CredentialErrorKind::Unavailable,
            format!("IMDS is not reachable from here ({text})"),
        )
        .with_fix(concat!(
            "run on an Azure resource with a managed identity, ",
            "or log in with `az login` for local development"
        )),
        _ => error(
            CredentialErrorKind::Refused,
            format!(
                "IMDS refused the token request for {} ({text})",
                ctx.describe()
            ),
        )
        .with_fix("check the requested scope and the identity; the service's message says which"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_identity_host_overrides_the_address_with_or_without_slash() {
        let transport = HttpTransport::builder().build().unwrap();
        for host in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/"] {
            let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", host)]);
            let imds = Imds::new(&env, transport.clone(), RetryOptions::imds()).unwrap();
            assert_eq!(
                imds.target.url.as_str(),
                "http://127.0.0.1:8080/metadata/identity/oauth2/token"
            );
        }
        let imds = Imds::new(&Env::default(), transport.clone(), RetryOptions::imds()).unwrap();
        assert_eq!(
            imds.target.url.as_str(),
            "http://169.254.169.254/metadata/identity/oauth2/token"
        );
        let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "not a url")]);
        let err = Imds::new(&env, transport, RetryOptions::imds()).unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        assert!(err.message().contains("AZURE_POD_IDENTITY_AUTHORITY_HOST"));
    }
}
