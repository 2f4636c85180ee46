//! The Azure CLI and Azure Developer CLI credentials, and the chain's behaviour with them,
//! against small scripts named `az` and `azd` that answer as the real tools do.
#![cfg(unix)]

use crate::support::cred_emulator::SCOPE;
use crate::support::cred_support::{
    AZ_NOT_LOGGED_IN, AZD_NOT_LOGGED_IN, FakeTools, az_token_json, closed_port,
};
use kvref::Env;
use kvref::credential::{
    AzureCliCredential, AzureDeveloperCliCredential, CredentialErrorKind, DefaultCredential,
    DefaultCredentialOptions, RetryOptions, TokenCredential, TokenRequest,
};
use kvref::transport::HttpTransport;

fn env_with(tools: &FakeTools, extra: &[(&str, String)]) -> Env {
    let mut env = Env::from_pairs([("PATH", tools.path()), ("HOME", "/nonexistent".into())]);
    for (k, v) in extra {
        env.set(*k, v.clone());
    }
    env
}

#[tokio::test]
async fn az_token_with_resource_and_tenant_arguments() {
    let tools = FakeTools::new();
    tools.script(
        "az",
        &format!("echo '{}'", az_token_json("az-token-1", 2147385600)),
    );
    let credential = AzureCliCredential::new(&env_with(&tools, &[]));
    let token = credential
        .get_token(&TokenRequest::new(SCOPE).with_tenant("72f988bf-86f1-41af-91ab-2d7cd011db47"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "az-token-1");
    assert_eq!(token.expires_on().as_second(), 2147385600);
    assert_eq!(
        tools.calls("az"),
        [[
            "account",
            "get-access-token",
            "--output",
            "json",
            "--resource",
            "https://vault.azure.net",
            "--tenant",
            "72f988bf-86f1-41af-91ab-2d7cd011db47"
        ]]
    );
}

#[tokio::test]
async fn az_older_versions_print_only_local_expires_on() {
    let tools = FakeTools::new();
    tools.script(
        "az",
        concat!(
            r#"echo '{"accessToken":"az-token-2","#,
            r#""expiresOn":"2031-05-06 07:08:09.123456","tokenType":"Bearer"}'"#
        ),
    );
    let env = env_with(&tools, &[("TZ", "Asia/Tokyo".into())]);
    let token = AzureCliCredential::new(&env)
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(
        token.expires_on(),
        "2031-05-05T22:08:09.123456Z"
            .parse::<jiff::Timestamp>()
            .unwrap()
    );
}

#[tokio::test]
async fn az_not_logged_in_and_not_installed_are_told_apart() {
    let tools = FakeTools::new();
    tools.script("az", AZ_NOT_LOGGED_IN);
    let err = AzureCliCredential::new(&env_with(&tools, &[]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.message().contains("not logged in"), "{err}");
    assert_eq!(err.fix(), Some("run `az login`"));

    let empty = FakeTools::new();
    let err = AzureCliCredential::new(&Env::from_pairs([("PATH", empty.path())]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(err.message().contains("not installed"), "{err}");
    assert!(err.fix().unwrap().contains("install the Azure CLI"));

    // A wrapper that cannot find the real CLI exits 127, as a shell does.
    let broken = FakeTools::new();
    broken.script("az", "echo 'az: python: not found' >&2; exit 127");
    let err = AzureCliCredential::new(&env_with(&broken, &[]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(err.message().contains("not installed"), "{err}");
}

#[tokio::test]
async fn az_other_failures_are_real_failures_and_never_echo_stdout() {
    let tools = FakeTools::new();
    tools.script(
        "az",
        "echo 'ERROR: AADSTS700082: The refresh token has expired due to inactivity.' >&2; exit 1",
    );
    let err = AzureCliCredential::new(&env_with(&tools, &[]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Refused);
    assert!(err.message().contains("AADSTS700082"), "{err}");

    let garbage = FakeTools::new();
    garbage.script("az", "echo 'accessToken=leaky-token-123'");
    let err = AzureCliCredential::new(&env_with(&garbage, &[]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidResponse);
    assert!(!format!("{err:?}").contains("leaky-token-123"));
}

#[tokio::test]
async fn az_gets_the_env_and_no_stdin() {
    let tools = FakeTools::new();
    // Answers only if stdin is at EOF at once and the variable came through.
    tools.script(
        "az",
        &format!(
            concat!(
                "read line; test $? -ne 0 || exit 3; ",
                "test \"$KVREF_TEST_MARK\" = yes || exit 4; ",
                "test \"$AZURE_CORE_NO_COLOR\" = true || exit 5; ",
                "echo '{}'"
            ),
            az_token_json("az-token-3", 2147385600)
        ),
    );
    let env = env_with(&tools, &[("KVREF_TEST_MARK", "yes".into())]);
    let token = AzureCliCredential::new(&env)
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap();
    assert_eq!(token.secret(), "az-token-3");
}

#[tokio::test]
async fn azd_token_and_not_logged_in() {
    let tools = FakeTools::new();
    tools.script(
        "azd",
        r#"echo '{"token":"azd-token-1","expiresOn":"2030-01-02T03:04:05Z"}'"#,
    );
    let token = AzureDeveloperCliCredential::new(&env_with(&tools, &[]))
        .get_token(&TokenRequest::new(SCOPE).with_tenant("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    assert_eq!(token.secret(), "azd-token-1");
    assert_eq!(
        tools.calls("azd"),
        [[
            "auth",
            "token",
            "--output",
            "json",
            "--no-prompt",
            "--scope",
            SCOPE,
            "--tenant-id",
            "contoso.onmicrosoft.com"
        ]]
    );

    let out = FakeTools::new();
    out.script("azd", AZD_NOT_LOGGED_IN);
    let err = AzureDeveloperCliCredential::new(&env_with(&out, &[]))
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(err.is_unavailable());
    assert_eq!(err.fix(), Some("run `azd auth login`"));
}

fn chain_options(env: Env) -> DefaultCredentialOptions {
    DefaultCredentialOptions::new(env, HttpTransport::builder().build().unwrap())
        .with_imds_retry(RetryOptions::none())
}

/// An environment with nothing configured: no service principal, no workload identity, no
/// managed identity endpoint (IMDS pointed at a closed loopback port instead of 169.254.169.254,
/// which tests must never contact), and developer tools that are installed but logged out.
fn empty_environment(tools: &FakeTools) -> Env {
    tools.script("az", AZ_NOT_LOGGED_IN);
    tools.script("azd", AZD_NOT_LOGGED_IN);
    env_with(
        tools,
        &[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            format!("http://127.0.0.1:{}", closed_port()),
        )],
    )
}

#[tokio::test]
async fn chain_in_an_empty_environment_names_every_credential_and_a_fix() {
    let tools = FakeTools::new();
    let chain = DefaultCredential::new(chain_options(empty_environment(&tools))).unwrap();
    assert_eq!(
        chain.members().collect::<Vec<_>>(),
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential",
            "AzureCliCredential",
            "AzureDeveloperCliCredential"
        ]
    );
    let err = chain
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Unavailable);
    assert_eq!(err.credential(), "DefaultCredential");
    let message = err.message();
    for name in chain.members() {
        assert!(
            message.contains(&format!("{name}: ")),
            "{name} missing from:\n{message}"
        );
    }
    for fix in [
        "AZURE_CLIENT_SECRET",
        "azure.workload.identity/use",
        "az webapp identity assign",
        "run `az login`",
        "run `azd auth login`",
    ] {
        assert!(message.contains(fix), "'{fix}' missing from:\n{message}");
    }
    assert!(err.fix().unwrap().contains("az login"));
    assert!(err.fix().unwrap().contains("az webapp identity assign"));
    assert_eq!(chain.selected(), None);
}

#[tokio::test]
async fn chain_keeps_the_first_credential_that_works() {
    let tools = FakeTools::new();
    let env = empty_environment(&tools);
    tools.script(
        "az",
        &format!("echo '{}'", az_token_json("az-chain-token", 2147385600)),
    );
    let chain = DefaultCredential::new(chain_options(env)).unwrap();
    for _ in 0..3 {
        let token = chain.get_token(&TokenRequest::new(SCOPE)).await.unwrap();
        assert_eq!(token.secret(), "az-chain-token");
    }
    assert_eq!(chain.selected(), Some("AzureCliCredential"));
    assert_eq!(tools.calls("az").len(), 3);
    assert!(tools.calls("azd").is_empty());
}

#[tokio::test]
async fn chain_stops_at_a_real_failure() {
    let tools = FakeTools::new();
    let env = empty_environment(&tools);
    tools.script(
        "az",
        "echo 'ERROR: AADSTS50173: The provided grant has expired.' >&2; exit 1",
    );
    tools.script(
        "azd",
        r#"echo '{"token":"azd-token","expiresOn":"2030-01-02T03:04:05Z"}'"#,
    );
    let chain = DefaultCredential::new(chain_options(env)).unwrap();
    let err = chain
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::Refused);
    assert_eq!(err.credential(), "AzureCliCredential");
    assert!(
        tools.calls("azd").is_empty(),
        "azd must not run after az failed for real"
    );
}

#[tokio::test]
async fn token_credentials_variable_and_exclusion_narrow_the_chain() {
    let tools = FakeTools::new();
    let mut env = empty_environment(&tools);
    tools.script(
        "azd",
        r#"echo '{"token":"azd-only","expiresOn":"2030-01-02T03:04:05Z"}'"#,
    );
    env.set("AZURE_TOKEN_CREDENTIALS", "AzureDeveloperCliCredential");
    let chain = DefaultCredential::new(chain_options(env.clone())).unwrap();
    assert_eq!(
        chain.members().collect::<Vec<_>>(),
        ["AzureDeveloperCliCredential"]
    );
    assert_eq!(
        chain
            .get_token(&TokenRequest::new(SCOPE))
            .await
            .unwrap()
            .secret(),
        "azd-only"
    );
    assert!(tools.calls("az").is_empty());

    env.set("AZURE_TOKEN_CREDENTIALS", "dev");
    let chain = DefaultCredential::new(chain_options(env.clone())).unwrap();
    assert_eq!(
        chain.members().collect::<Vec<_>>(),
        ["AzureCliCredential", "AzureDeveloperCliCredential"]
    );
    // dev leaves only developer tools; excluding them too is a contradiction.
    let err = DefaultCredential::new(chain_options(env.clone()).exclude_developer_credentials())
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);

    env.remove("AZURE_TOKEN_CREDENTIALS");
    let chain = DefaultCredential::new(chain_options(env).exclude_developer_credentials()).unwrap();
    let err = chain
        .get_token(&TokenRequest::new(SCOPE))
        .await
        .unwrap_err();
    assert!(err.is_unavailable());
    assert!(!err.message().contains("AzureCliCredential"));
    assert!(tools.calls("az").is_empty() && tools.calls("azd").len() == 1);
}
