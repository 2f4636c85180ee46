//! `DefaultCredential`: the credential that works wherever the app runs, tried in the Azure SDKs'
//! order: environment (service principal), workload identity, managed identity, Azure CLI,
//! Azure Developer CLI.
//!
//! A credential that does not apply here (unavailable) passes to the next; a real failure (the
//! identity exists but was refused, a broken configuration) stops the chain, because trying a
//! developer's `az login` after production's identity was refused would hide the problem. The
//! first credential that works is kept for the life of the chain. When none works, that answer
//! is given again without trying them until a back-off has passed (5 s, doubling up to 5
//! minutes), then the chain is tried again: a blip at start-up does not last for ever. `AZURE_TOKEN_CREDENTIALS`
//! narrows the chain as in the Azure SDKs: `dev` (the developer tools), `prod` (environment,
//! workload identity, managed identity) or one credential's name.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;

use super::developer::DEFAULT_TOOL_TIMEOUT;
use super::recheck::RememberedFailure;
use super::{
    AccessToken, AzureCliCredential, AzureDeveloperCliCredential, CredentialError,
    CredentialErrorKind, EnvironmentCredential, ManagedIdentityCredential, ManagedIdentityOptions,
    RetryOptions, TokenCredential, TokenRequest, UserAssignedId, WorkloadIdentityCredential,
};
use crate::Env;
use crate::transport::{HttpTransport, TransportError};

const CREDENTIAL: &str = "DefaultCredential";

/// The environment variable that narrows the chain.
pub const TOKEN_CREDENTIALS_VARIABLE: &str = "AZURE_TOKEN_CREDENTIALS";

/// The members of the chain, in order.
const MEMBERS: [&str; 5] = [
    "EnvironmentCredential",
    "WorkloadIdentityCredential",
    "ManagedIdentityCredential",
    "AzureCliCredential",
    "AzureDeveloperCliCredential",
];
const DEVELOPER: [&str; 2] = ["AzureCliCredential", "AzureDeveloperCliCredential"];

/// Options for a [`DefaultCredential`].
///
/// ```
/// use kvref::Env;
/// use kvref::credential::DefaultCredentialOptions;
/// use kvref::transport::HttpTransport;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Production: never fall back to a developer's login.
/// let options = DefaultCredentialOptions::new(Env::from_process(), HttpTransport::builder().build()?)
///     .exclude_developer_credentials();
/// assert!(options.exclude_developer_credentials);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DefaultCredentialOptions {
    /// The user-assigned managed identity (see [`ManagedIdentityOptions::user_assigned`]).
    pub user_assigned: Option<UserAssignedId>,
    /// Where every member reads its configuration.
    pub env: Env,
    /// The HTTP clients.
    pub transport: HttpTransport,
    /// Leave out the Azure CLI and Azure Developer CLI (for production deployments).
    pub exclude_developer_credentials: bool,
    /// Retries for IMDS and Azure Arc.
    pub imds_retry: RetryOptions,
    /// Time limit for `az` and `azd`.
    pub developer_tool_timeout: Duration,
}

impl DefaultCredentialOptions {
    /// Options reading `env`, talking through `transport`.
    pub fn new(env: Env, transport: HttpTransport) -> Self {
        Self {
            user_assigned: None,
            env,
            transport,
            exclude_developer_credentials: false,
            imds_retry: RetryOptions::imds(),
            developer_tool_timeout: DEFAULT_TOOL_TIMEOUT,
        }
    }

    /// Options for the process environment and the shared transport.
    pub fn from_process() -> Result<Self, TransportError> {
        Ok(Self::new(Env::from_process(), HttpTransport::shared()?))
    }

    /// Uses this user-assigned managed identity.
    pub fn with_user_assigned(mut self, id: UserAssignedId) -> Self {
        self.user_assigned = Some(id);
        self
    }

    /// Leaves out the developer tools.
    pub fn exclude_developer_credentials(mut self) -> Self {
        self.exclude_developer_credentials = true;
        self
    }

    /// Retries for IMDS and Azure Arc.
    pub fn with_imds_retry(mut self, retry: RetryOptions) -> Self {
        self.imds_retry = retry;
        self
    }
}

/// Tries, in order, the environment's service principal, workload identity, managed identity,
/// the Azure CLI and the Azure Developer CLI, and keeps the first that works.
///
/// ```no_run
/// use kvref::credential::{DefaultCredential, DefaultCredentialOptions, TokenCredential, TokenRequest};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let credential = DefaultCredential::new(DefaultCredentialOptions::from_process()?)?;
/// let token = credential.get_token(&TokenRequest::new("https://vault.azure.net/.default")).await?;
/// # let _ = token; Ok(()) }
/// ```
pub struct DefaultCredential {
    members: Vec<Member>,
    selected: OnceLock<usize>,
    /// The last "no credential could get a token", answered again during its back-off.
    unselected: RememberedFailure,
}

enum Member {
    Ready(Box<dyn TokenCredential>),
    /// Could not be built; the error says why (usually "not configured").
    NotBuilt(&'static str, CredentialError),
}

impl Member {
    fn name(&self) -> &str {
        match self {
            Self::Ready(c) => c.name(),
            Self::NotBuilt(name, _) => name,
        }
    }
}

impl DefaultCredential {
    /// Builds the chain. Fails only when `AZURE_TOKEN_CREDENTIALS` is invalid or leaves nothing.
    pub fn new(options: DefaultCredentialOptions) -> Result<Self, CredentialError> {
        let names = selected_members(&options.env, options.exclude_developer_credentials)?;
        let only_one = names.len() == 1;
        let env = &options.env;
        let members = names
            .into_iter()
            .map(|name| {
                let built: Result<Box<dyn TokenCredential>, CredentialError> = match name {
                    "EnvironmentCredential" => {
                        EnvironmentCredential::new(env, options.transport.clone())
                            .map(|c| Box::new(c) as Box<dyn TokenCredential>)
                    }
                    "WorkloadIdentityCredential" => {
                        WorkloadIdentityCredential::new(env, options.transport.clone())
                            .map(|c| Box::new(c) as Box<dyn TokenCredential>)
                    }
                    "ManagedIdentityCredential" => {
                        let mut mi =
                            ManagedIdentityOptions::new(env.clone(), options.transport.clone())
                                .with_imds_retry(options.imds_retry.clone());
                        mi.user_assigned = options.user_assigned.clone();
                        ManagedIdentityCredential::new(mi).map(|c| {
                            // Alone, IMDS is trusted to be there (as the SDKs do); in a chain it
                            // is probed first so machines without it fail fast.
                            let c = if only_one { c } else { c.probe_imds_first() };
                            Box::new(c) as Box<dyn TokenCredential>
                        })
                    }
                    "AzureCliCredential" => Ok(Box::new(
                        AzureCliCredential::new(env).with_timeout(options.developer_tool_timeout),
                    ) as Box<dyn TokenCredential>),
                    _ => Ok(Box::new(
                        AzureDeveloperCliCredential::new(env)
                            .with_timeout(options.developer_tool_timeout),
                    ) as Box<dyn TokenCredential>),
                };
                match built {
                    Ok(credential) => Member::Ready(credential),
                    Err(error) => Member::NotBuilt(name, error),
                }
            })
            .collect();
        Ok(Self {
            members,
            selected: OnceLock::new(),
            unselected: RememberedFailure::default(),
        })
    }

    /// The names of the chain's members, in the order they are tried.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(Member::name)
    }

    /// The member that worked and is now always used, once one has.
    pub fn selected(&self) -> Option<&str> {
        self.selected.get().map(|&i| self.members[i].name())
    }
}

/// The members `AZURE_TOKEN_CREDENTIALS` and the options leave in the chain.
fn selected_members(
    env: &Env,
    exclude_developer: bool,
) -> Result<Vec<&'static str>, CredentialError> {
    let mut names: Vec<&'static str> = match env.get(TOKEN_CREDENTIALS_VARIABLE).map(str::trim) {
        None | Some("") => MEMBERS.to_vec(),
        Some(value) if value.eq_ignore_ascii_case("dev") => DEVELOPER.to_vec(),
        Some(value) if value.eq_ignore_ascii_case("prod") => MEMBERS[..3].to_vec(),
        Some(value) => match MEMBERS.iter().find(|m| m.eq_ignore_ascii_case(value)) {
            Some(name) => vec![*name],
            None => {
                return Err(CredentialError::new(
                    CredentialErrorKind::InvalidConfiguration,
                    CREDENTIAL,
                    format!("{TOKEN_CREDENTIALS_VARIABLE} has an unknown value '{value}'"),
                )
                .with_fix(format!(
                    "set {TOKEN_CREDENTIALS_VARIABLE} to dev, prod or one of {}, or unset it",
                    MEMBERS.join(", ")
                )));
            }
        },
    };
    if exclude_developer {
        names.retain(|n| !DEVELOPER.contains(n));
    }
    if names.is_empty() {
        return Err(CredentialError::new(
            CredentialErrorKind::InvalidConfiguration,
            CREDENTIAL,
            format!(
                "{TOKEN_CREDENTIALS_VARIABLE} selects only developer tools, and the application \
                 excludes them"
            ),
        )
        .with_fix(format!(
            "set {TOKEN_CREDENTIALS_VARIABLE}=prod, or unset it"
        )));
    }
    Ok(names)
}

#[async_trait]
impl TokenCredential for DefaultCredential {
    fn name(&self) -> &str {
        CREDENTIAL
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        if let Some(&index) = self.selected.get()
            && let Member::Ready(credential) = &self.members[index]
        {
            return credential.get_token(request).await;
        }
        if let Some(error) = self.unselected.recent() {
            return Err(error);
        }
        let mut attempts: Vec<CredentialError> = Vec::new();
        for (index, member) in self.members.iter().enumerate() {
            let result = match member {
                Member::Ready(credential) => credential.get_token(request).await,
                Member::NotBuilt(_, error) => Err(error.clone()),
            };
            match result {
                Ok(token) => {
                    self.unselected.passed();
                    if self.selected.set(index).is_ok() {
                        tracing::debug!(credential = member.name(), "DefaultCredential selected");
                    }
                    return Ok(token);
                }
                Err(error) if error.is_unavailable() => {
                    tracing::debug!(
                        credential = member.name(),
                        reason = %error.message(),
                        "credential unavailable; trying the next"
                    );
                    attempts.push(error);
                }
                Err(error) => {
                    tracing::debug!(
                        credential = member.name(),
                        kind = error.kind().as_str(),
                        "credential failed; the chain stops here"
                    );
                    return Err(error);
                }
            }
        }
        let error = combined_error(&attempts);
        self.unselected.failed(&error);
        Err(error)
    }
}

/// One error listing every attempt, why it did not apply, and how to fix it.
fn combined_error(attempts: &[CredentialError]) -> CredentialError {
    let mut message = String::from("no credential could get a token:");
    for attempt in attempts {
        message.push_str(&format!(
            "\n  - {}: {}",
            attempt.credential(),
            attempt.message()
        ));
        if let Some(fix) = attempt.fix() {
            message.push_str(&format!(" (fix: {fix})"));
        }
    }
    CredentialError::new(CredentialErrorKind::Unavailable, CREDENTIAL, message).with_fix(concat!(
        "on Azure, enable a managed identity for the app ",
        "(`az webapp identity assign --name <app> --resource-group <group>`, ",
        "or `az vm identity assign` for a VM) and grant it access to the vault; ",
        "on a developer machine, run `az login` (or `azd auth login`)"
    ))
}

impl fmt::Debug for DefaultCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(CREDENTIAL)
            .field("members", &self.members().collect::<Vec<_>>())
            .field("selected", &self.selected())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(
        pairs: &[(&str, &str)],
        exclude: bool,
    ) -> Result<Vec<&'static str>, CredentialError> {
        selected_members(&Env::from_pairs(pairs.iter().copied()), exclude)
    }

    #[test]
    fn token_credentials_variable_narrows_the_chain() {
        assert_eq!(members(&[], false).unwrap(), MEMBERS);
        assert_eq!(members(&[], true).unwrap(), MEMBERS[..3]);
        let v = TOKEN_CREDENTIALS_VARIABLE;
        assert_eq!(members(&[(v, "dev")], false).unwrap(), DEVELOPER);
        assert_eq!(members(&[(v, " PROD ")], false).unwrap(), MEMBERS[..3]);
        assert_eq!(
            members(&[(v, "managedidentitycredential")], false).unwrap(),
            ["ManagedIdentityCredential"]
        );
        assert_eq!(
            members(&[(v, "AzureCliCredential")], false).unwrap(),
            ["AzureCliCredential"]
        );
        let err = members(&[(v, "dev")], true).unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        let err = members(&[(v, "laptop")], false).unwrap_err();
        assert!(err.message().contains("laptop"));
        assert!(err.fix().unwrap().contains("prod"));
    }

    #[test]
    fn combined_error_lists_each_attempt_and_fix() {
        let err = combined_error(&[
            CredentialError::new(CredentialErrorKind::Unavailable, "A", "not here")
                .with_fix("do a"),
            CredentialError::new(CredentialErrorKind::IdentityNotFound, "B", "no identity"),
        ]);
        assert!(err.is_unavailable());
        assert_eq!(err.credential(), CREDENTIAL);
        assert!(err.message().contains("A: not here (fix: do a)"));
        assert!(err.message().contains("B: no identity"));
        assert!(err.fix().unwrap().contains("az login"));
    }
}
