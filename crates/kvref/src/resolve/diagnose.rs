//! Turning what went wrong into what an operator needs: a status, the service's code, a message
//! and a fix with the vault and secret filled in (never a value).

use std::time::Duration;

use crate::allow_list::AllowedHosts;
use crate::credential::CredentialErrorKind;
use crate::reference::{Reference, SyntaxError};
use crate::status::ResolveStatus;
use crate::vault::{VaultError, VaultErrorKind};

use super::outcome::Outcome;

/// The fix for a vault host outside the allow-list. A host that contains an allowed suffix
/// without ending in it imitates a real vault (`myvault.vault.azure.net.evil.example`): never
/// advise allowing that one.
pub(super) fn not_allowed_fix(host: &str, allowed: &AllowedHosts) -> String {
    let lower = host.to_ascii_lowercase();
    match allowed
        .suffixes()
        .find(|suffix| lower.contains(&suffix.to_ascii_lowercase()))
    {
        Some(suffix) => format!(
            "correct the reference: {host} only looks like a vault under {suffix}; a setting that \
             points there may have been tampered with, so do not allow this host"
        ),
        None => {
            let domain = host.split_once('.').map_or(host, |(_, d)| d);
            format!(
                "point the reference at your vault (`https://<vault>.vault.azure.net/...`); if {host} \
                 really is your vault, allow its domain with `Resolver::builder().allow_vault_suffix(\".{domain}\")` \
                 (`--allow-vault-suffix .{domain}` for the kvref command)"
            )
        }
    }
}

pub(super) fn syntax_outcome(
    index: usize,
    key: String,
    literal: String,
    error: &SyntaxError,
) -> Outcome {
    Outcome {
        status: ResolveStatus::InvalidSyntax,
        message: Some(error.to_string()),
        fix: Some(
            "write the reference as `@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>[/<version>])` \
             or `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>])`"
                .into(),
        ),
        ..Outcome::pending(index, key, literal, None)
    }
}

/// A vault that answered before and no longer does may have been deleted: its host name stops
/// resolving at once (the emulator answers `VaultNotFound` instead).
const DELETED_VAULT: &str = "If the vault was deleted, its name stops resolving: find it with \
     `az keyvault list-deleted` and recover it within its retention with `az keyvault recover --name <vault>`, \
     or point the reference at the vault that replaces it";

/// Fills in status, code, message and fix for a failed fetch.
pub(super) fn describe_failure(
    outcome: &mut Outcome,
    error: &VaultError,
    budget: Duration,
    allowed: &AllowedHosts,
) {
    let Some(reference) = outcome.reference.clone() else {
        return;
    };
    let vault = reference.vault_name();
    let host = reference.vault_host();
    // Key Vault's own words say most about its refusals; for everything else, ours do.
    let message = match (error.kind(), error.service_message()) {
        (VaultErrorKind::Service | VaultErrorKind::Throttled, Some(service)) => service.to_owned(),
        _ => error.to_string(),
    };
    let code = error.inner_code().or(error.code()).map(str::to_owned);
    let (status, fix) = match error.kind() {
        VaultErrorKind::NotAllowed => (
            ResolveStatus::VaultNotAllowed,
            not_allowed_fix(host, allowed),
        ),
        VaultErrorKind::ChallengeRefused => (
            ResolveStatus::VaultNotAllowed,
            format!(
                "check that https://{host} really is your vault: whatever answered there asked for a token for \
                 another audience, so no token was sent (a wrong DNS entry or proxy can cause this)"
            ),
        ),
        VaultErrorKind::Credential => credential_failure(error, vault),
        VaultErrorKind::Throttled => (
            ResolveStatus::Throttled,
            format!(
                "Key Vault throttled the requests to {vault} (about 4,000 requests per 10 s per vault); lower \
                 concurrency_per_vault, spread secrets over vaults, or retry later"
            ),
        ),
        VaultErrorKind::TimedOut => (
            ResolveStatus::FetchTimedOut,
            format!(
                "Key Vault at {host} did not answer within the budget ({} s); check the network path to the vault \
                 (firewall, proxy, private endpoint DNS) or raise the budget",
                budget.as_secs()
            ),
        ),
        VaultErrorKind::Unreachable => (
            ResolveStatus::VaultNotFound,
            format!(
                "check the vault name `{vault}` in the reference and that {host} resolves and is reachable from \
                 here (`nslookup {host}`); a vault behind a private endpoint needs the privatelink DNS zone. \
                 {DELETED_VAULT}"
            ),
        ),
        VaultErrorKind::ConnectionFailed => (
            ResolveStatus::OtherReasons,
            format!(
                "connections to {host} were opened but kept failing mid-request; check proxies, TLS-inspecting \
                 firewalls and the network path to the vault"
            ),
        ),
        VaultErrorKind::InvalidResponse => (
            ResolveStatus::OtherReasons,
            format!("check that https://{host} is a Key Vault and not a proxy or captive portal"),
        ),
        _ => service_failure(error, &reference),
    };
    outcome.status = status;
    outcome.error_code = code;
    outcome.message = Some(message);
    outcome.fix = Some(fix);
}

fn credential_failure(error: &VaultError, vault: &str) -> (ResolveStatus, String) {
    let own_fix = error
        .credential_error()
        .and_then(|e| e.fix())
        .map(str::to_owned);
    match error.credential_kind() {
        Some(CredentialErrorKind::Unavailable) | None => (
            ResolveStatus::MSINotEnabled,
            own_fix.unwrap_or_else(|| {
                format!(
                    "enable a managed identity for the app (`az webapp identity assign --name <app> --resource-group <rg>`, \
                     or the equivalent for your host) and grant it the Key Vault Secrets User role on {vault}"
                )
            }),
        ),
        // The identity asked for is not assigned to the app: for App Service that is
        // "MSINotEnabled" too (system identity off, or the user-assigned one not attached).
        Some(CredentialErrorKind::IdentityNotFound) => (
            ResolveStatus::MSINotEnabled,
            own_fix.unwrap_or_else(|| {
                format!(
                    "enable the app's system-assigned identity (`az webapp identity assign --name <app> --resource-group <rg>`) \
                     or attach the user-assigned one it names (`--identities <identity resource id>`; check AZURE_CLIENT_ID), \
                     then grant it the Key Vault Secrets User role on {vault}"
                )
            }),
        ),
        Some(CredentialErrorKind::Refused) => (
            ResolveStatus::UnauthorizedClient,
            own_fix.unwrap_or_else(|| "check the identity's configuration in Entra ID".into()),
        ),
        Some(CredentialErrorKind::Unreachable) => (
            ResolveStatus::FetchTimedOut,
            own_fix.unwrap_or_else(|| "check that the identity endpoint is reachable".into()),
        ),
        Some(_) => (
            ResolveStatus::OtherReasons,
            own_fix.unwrap_or_else(|| "check the credential configuration".into()),
        ),
    }
}

fn service_failure(error: &VaultError, reference: &Reference) -> (ResolveStatus, String) {
    let vault = reference.vault_name();
    let secret = reference.secret_name();
    let code = error.inner_code().or(error.code()).unwrap_or_default();
    match (error.http_status(), code) {
        (Some(404), "VaultNotFound") => (
            ResolveStatus::VaultNotFound,
            format!(
                "check the vault name `{vault}` in the reference (`az keyvault show --name {vault}`) and that {} \
                 resolves from here. {DELETED_VAULT}",
                reference.vault_host()
            ),
        ),
        (Some(404), _) | (_, "SecretNotFound") => match reference.version() {
            Some(version) => (
                ResolveStatus::SecretVersionNotFound,
                format!(
                    "check the version {version} of {secret} (`az keyvault secret list-versions --vault-name {vault} \
                     --name {secret} -o table`), or leave SecretVersion out to follow the latest"
                ),
            ),
            None => (
                ResolveStatus::SecretNotFound,
                format!(
                    "check the vault URL and the secret name (`az keyvault secret show --vault-name {vault} --name {secret}`); \
                     a recently deleted secret can be recovered with `az keyvault secret recover --vault-name {vault} --name {secret}`"
                ),
            ),
        },
        (Some(403), "SecretDisabled") => {
            let version = reference.version().unwrap_or("<version>");
            (
                ResolveStatus::SecretDisabled,
                format!(
                    "enable it (`az keyvault secret set-attributes --vault-name {vault} --name {secret} --version {version} \
                     --enabled true`) or pin another, enabled version with SecretVersion"
                ),
            )
        }
        (Some(403), "ForbiddenByFirewall") => (
            ResolveStatus::AccessToKeyVaultDenied,
            format!(
                "allow the app's outbound addresses or virtual network in the firewall of {vault} \
                 (`az keyvault network-rule add --name {vault} --ip-address <address>`), or reach it through a private endpoint"
            ),
        ),
        (Some(403), "AccessDenied") => {
            let principal = principal_of(error).unwrap_or_else(|| "<principal-id>".into());
            (
                ResolveStatus::AccessToKeyVaultDenied,
                format!(
                    "give the app's identity `get` permission on secrets (`az keyvault set-policy --name {vault} \
                     --object-id {principal} --secret-permissions get`), or move the vault to Azure RBAC"
                ),
            )
        }
        (Some(403), _) => {
            let principal = principal_of(error).unwrap_or_else(|| "<principal-id>".into());
            (
                ResolveStatus::AccessToKeyVaultDenied,
                format!(
                    "grant the app's identity the Key Vault Secrets User role on the vault: `az role assignment create \
                     --role \"Key Vault Secrets User\" --assignee {principal} --scope $(az keyvault show --name {vault} \
                     --query id -o tsv)` (new assignments can take a few minutes to apply)"
                ),
            )
        }
        (Some(401), _)
            if error
                .service_message()
                .is_some_and(|m| m.contains("expired")) =>
        {
            (
                ResolveStatus::UnauthorizedClient,
                format!(
                    "{vault} refused the identity's token as expired, a freshly fetched one too: check this \
                 machine's clock (`timedatectl`, or the host's time sync) and the identity endpoint's; the \
                 token is fetched again on the next attempt"
                ),
            )
        }
        (Some(401), _) => (
            ResolveStatus::UnauthorizedClient,
            format!(
                "the vault refused the identity's token; check that the identity belongs to the vault's tenant and that \
                 {vault} accepts tokens for its audience"
            ),
        ),
        (Some(status), _) if status >= 500 => (
            ResolveStatus::OtherReasons,
            format!(
                "Key Vault kept failing with HTTP {status}; retry later or check Azure status for {vault}"
            ),
        ),
        (status, _) => (
            ResolveStatus::OtherReasons,
            format!(
                "Key Vault answered HTTP {}; check the reference to {secret} in {vault}",
                status.map_or_else(|| "?".to_owned(), |s| s.to_string())
            ),
        ),
    }
}

/// The caller's object id from a 403 message (`Caller: appid=…;oid=…;iss=…`), to fill in the fix.
fn principal_of(error: &VaultError) -> Option<String> {
    let message = error.service_message()?;
    let start = message.find("oid=")? + 4;
    let id: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    (id.len() >= 32).then_some(id)
}

/// The outcome of a reference to a host outside the allow-list: settled before any connection.
pub(super) fn not_allowed_outcome(
    index: usize,
    key: String,
    literal: String,
    reference: Reference,
    allowed: &AllowedHosts,
) -> Outcome {
    let suffixes: Vec<&str> = allowed.suffixes().collect();
    let host = reference.vault_host().to_owned();
    let fix = not_allowed_fix(&host, allowed);
    Outcome {
        status: ResolveStatus::VaultNotAllowed,
        message: Some(format!(
            "the vault host {host} is not under an allowed vault suffix ({}); no connection was made",
            suffixes.join(", ")
        )),
        fix: Some(fix),
        ..Outcome::pending(index, key, literal, Some(reference))
    }
}
