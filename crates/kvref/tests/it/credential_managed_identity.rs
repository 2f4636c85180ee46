//! Managed identity against the emulator: every source, every user-assigned selector, the
//! precedence of the ways to choose an identity, and the error paths.

use crate::support::cred_emulator::*;
use kvref::Env;
use kvref::credential::{
    CredentialError, CredentialErrorKind, IdentitySelection, ManagedIdentityCredential,
    ManagedIdentityOptions, ManagedIdentitySource, TokenCredential, TokenRequest, UserAssignedId,
};
use kvref_emulator::{Emulator, Endpoint, Fault};
use serde_json::json;

fn credential(emu: &Emulator, env: Env) -> ManagedIdentityCredential {
    ManagedIdentityCredential::new(ManagedIdentityOptions::new(env, transport(emu))).unwrap()
}

fn credential_for(
    emu: &Emulator,
    env: Env,
    id: UserAssignedId,
) -> Result<ManagedIdentityCredential, CredentialError> {
    ManagedIdentityCredential::new(
        ManagedIdentityOptions::new(env, transport(emu)).with_user_assigned(id),
    )
}

fn request() -> TokenRequest {
    TokenRequest::new(SCOPE)
}

/// The error the credential for `env` (system-assigned unless `env` chooses) ends with.
async fn token_error(emu: &Emulator, env: Env) -> CredentialError {
    credential(emu, env)
        .get_token(&request())
        .await
        .unwrap_err()
}

const SOURCES: [(&str, ManagedIdentitySource, Endpoint); 6] = [
    (
        "app_service",
        ManagedIdentitySource::AppService,
        Endpoint::AppService,
    ),
    (
        "legacy_app_service",
        ManagedIdentitySource::LegacyAppService,
        Endpoint::LegacyAppService,
    ),
    ("imds", ManagedIdentitySource::Imds, Endpoint::Imds),
    ("arc", ManagedIdentitySource::AzureArc, Endpoint::Arc),
    (
        "cloud_shell",
        ManagedIdentitySource::CloudShell,
        Endpoint::CloudShell,
    ),
    (
        "service_fabric",
        ManagedIdentitySource::ServiceFabric,
        Endpoint::ServiceFabric,
    ),
];

#[tokio::test]
async fn every_source_gets_a_token_for_the_system_identity() {
    let emu = start(Identities::ALL).await;
    for (name, source, endpoint) in SOURCES {
        emu.clear_requests().await;
        let credential = credential(&emu, env(&emu, name));
        assert_eq!(credential.source(), source, "{name}");
        assert_eq!(credential.selection(), IdentitySelection::SystemAssigned);
        let token = credential
            .get_token(&request())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e} / {:?}", e.fix()));
        let claims = claims(token.secret());
        assert_eq!(claims["oid"], SYSTEM_OBJECT_ID, "{name}");
        assert_eq!(claims["aud"], "https://vault.azure.net", "{name}");
        assert_eq!(
            token.expires_on().as_second(),
            claims["exp"].as_i64().unwrap(),
            "{name}"
        );
        let served = requests_to(&emu, endpoint).await;
        let statuses: Vec<u16> = served.iter().map(|e| e.status).collect();
        let expected: &[u16] = if name == "arc" { &[401, 200] } else { &[200] };
        assert_eq!(statuses, expected, "{name}");
        assert!(
            served.iter().all(
                |e| e.query.contains("resource=https%3A%2F%2Fvault.azure.net")
                    || e.method == "POST"
            ),
            "{name}: {served:?}"
        );
    }
}

#[tokio::test]
async fn app_service_and_imds_send_every_selector_as_they_spell_it() {
    let emu = start(Identities::ALL).await;
    let selectors = [
        (
            UserAssignedId::ClientId(UAMI_CLIENT_ID.into()),
            "client_id",
            "client_id",
            UAMI_CLIENT_ID.to_owned(),
        ),
        (
            UserAssignedId::ObjectId(UAMI_OBJECT_ID.into()),
            "principal_id",
            "object_id",
            UAMI_OBJECT_ID.to_owned(),
        ),
        (
            UserAssignedId::ResourceId(UAMI_RESOURCE_ID.into()),
            "mi_res_id",
            "msi_res_id",
            url::form_urlencoded::byte_serialize(UAMI_RESOURCE_ID.as_bytes()).collect::<String>(),
        ),
    ];
    for (id, app_service_param, imds_param, encoded) in selectors {
        for (source, endpoint, param) in [
            ("app_service", Endpoint::AppService, app_service_param),
            ("imds", Endpoint::Imds, imds_param),
        ] {
            emu.clear_requests().await;
            let credential = credential_for(&emu, env(&emu, source), id.clone()).unwrap();
            assert_eq!(credential.selection(), IdentitySelection::Explicit);
            let token = credential.get_token(&request()).await.unwrap();
            assert_eq!(
                claims(token.secret())["oid"],
                UAMI_OBJECT_ID,
                "{source} {id}"
            );
            let served = requests_to(&emu, endpoint).await;
            assert_eq!(served.len(), 1);
            assert!(
                served[0].query.contains(&format!("{param}={encoded}")),
                "{source} {id}: {}",
                served[0].query
            );
        }
    }
}

#[tokio::test]
async fn legacy_app_service_selects_by_clientid_only() {
    let emu = start(Identities::ALL).await;
    let legacy = env(&emu, "legacy_app_service");
    let by_client_id = credential_for(
        &emu,
        legacy.clone(),
        UserAssignedId::ClientId(UAMI_CLIENT_ID.into()),
    )
    .unwrap();
    let token = by_client_id.get_token(&request()).await.unwrap();
    assert_eq!(claims(token.secret())["oid"], UAMI_OBJECT_ID);
    let served = requests_to(&emu, Endpoint::LegacyAppService).await;
    assert!(
        served[0]
            .query
            .contains(&format!("clientid={UAMI_CLIENT_ID}"))
    );
    assert!(served[0].query.contains("api-version=2017-09-01"));

    // Azure Machine Learning names the compute's identity in DEFAULT_IDENTITY_CLIENT_ID.
    let mut aml = legacy.clone();
    aml.set("DEFAULT_IDENTITY_CLIENT_ID", OTHER_CLIENT_ID);
    let token = credential(&emu, aml.clone())
        .get_token(&request())
        .await
        .unwrap();
    assert_eq!(claims(token.secret())["oid"], OTHER_OBJECT_ID);
    // ...unless something chose another.
    aml.set("AZURE_CLIENT_ID", UAMI_CLIENT_ID);
    let token = credential(&emu, aml).get_token(&request()).await.unwrap();
    assert_eq!(claims(token.secret())["oid"], UAMI_OBJECT_ID);

    for id in [
        UserAssignedId::ObjectId(UAMI_OBJECT_ID.into()),
        UserAssignedId::ResourceId(UAMI_RESOURCE_ID.into()),
    ] {
        let err = credential_for(&emu, legacy.clone(), id).unwrap_err();
        assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
        assert!(err.message().contains("client id only"), "{err}");
        assert!(err.fix().is_some());
    }
}

#[tokio::test]
async fn sources_without_user_assigned_identities_refuse_one_before_any_request() {
    let emu = start(Identities::ALL).await;
    for source in ["arc", "cloud_shell", "service_fabric"] {
        for id in [
            UserAssignedId::ClientId(UAMI_CLIENT_ID.into()),
            UserAssignedId::ObjectId(UAMI_OBJECT_ID.into()),
            UserAssignedId::ResourceId(UAMI_RESOURCE_ID.into()),
        ] {
            let err = credential_for(&emu, env(&emu, source), id).unwrap_err();
            assert_eq!(
                err.kind(),
                CredentialErrorKind::InvalidConfiguration,
                "{source}"
            );
            assert!(
                err.message().contains("only the system-assigned identity"),
                "{err}"
            );
        }
        // AZURE_CLIENT_ID is a choice too, and the fix says to unset it.
        let with_client_id = env_with(&emu, source, &[("AZURE_CLIENT_ID", UAMI_CLIENT_ID)]);
        let err = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
            with_client_id,
            transport(&emu),
        ))
        .unwrap_err();
        assert!(err.fix().unwrap().contains("AZURE_CLIENT_ID"), "{err:?}");
    }
    assert!(emu.requests().await.is_empty());
}

#[tokio::test]
async fn precedence_explicit_then_azure_client_id_then_connection_string_then_system() {
    let emu = start(Identities::ALL).await;
    let with = |overrides: &[(&str, &str)]| env_with(&emu, "app_service", overrides);
    let connection_string = format!("RunAs=App; AppId = '{OTHER_CLIENT_ID}'");
    let everything = with(&[
        ("AZURE_CLIENT_ID", UAMI_CLIENT_ID),
        ("AzureServicesAuthConnectionString", &connection_string),
    ]);
    let cases = [
        // (env, explicit option, expected selection, client id the emulator sees, oid)
        (
            everything.clone(),
            Some(UserAssignedId::ObjectId(OTHER_OBJECT_ID.into())),
            IdentitySelection::Explicit,
            format!("principal_id={OTHER_OBJECT_ID}"),
            OTHER_OBJECT_ID,
        ),
        (
            everything.clone(),
            None,
            IdentitySelection::AzureClientId,
            format!("client_id={UAMI_CLIENT_ID}"),
            UAMI_OBJECT_ID,
        ),
        (
            with(&[("AzureServicesAuthConnectionString", &connection_string)]),
            None,
            IdentitySelection::ConnectionString,
            format!("client_id={OTHER_CLIENT_ID}"),
            OTHER_OBJECT_ID,
        ),
        (
            with(&[("AzureServicesAuthConnectionString", "RunAs=App")]),
            None,
            IdentitySelection::SystemAssigned,
            String::new(),
            SYSTEM_OBJECT_ID,
        ),
    ];
    for (env, explicit, selection, sent, oid) in cases {
        emu.clear_requests().await;
        let mut options = ManagedIdentityOptions::new(env, transport(&emu));
        options.user_assigned = explicit;
        let credential = ManagedIdentityCredential::new(options).unwrap();
        assert_eq!(credential.selection(), selection);
        let token = credential.get_token(&request()).await.unwrap();
        assert_eq!(claims(token.secret())["oid"], oid, "{selection:?}");
        let served = requests_to(&emu, Endpoint::AppService).await;
        if sent.is_empty() {
            assert!(
                !served[0].query.contains("client_id") && !served[0].query.contains("principal_id")
            );
        } else {
            assert!(
                served[0].query.contains(&sent),
                "{selection:?}: {}",
                served[0].query
            );
        }
    }
    // A broken connection string is an error naming the variable, not a silent fallback.
    let err = ManagedIdentityCredential::new(ManagedIdentityOptions::new(
        with(&[(
            "AzureServicesAuthConnectionString",
            "RunAs=App;AppId=a;appid=b",
        )]),
        transport(&emu),
    ))
    .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    assert!(err.message().contains("AzureServicesAuthConnectionString"));
}

#[tokio::test]
async fn no_identity_is_identity_not_found_with_a_fix() {
    let emu = start(Identities::NONE).await;
    for (source, fix) in [
        ("app_service", "az webapp identity assign"),
        ("legacy_app_service", "az webapp identity assign"),
        ("imds", "az vm identity assign"),
    ] {
        let err = token_error(&emu, env(&emu, source)).await;
        assert_eq!(
            err.kind(),
            CredentialErrorKind::IdentityNotFound,
            "{source}: {err}"
        );
        assert!(err.is_unavailable());
        assert!(err.message().contains("system-assigned"), "{err}");
        assert!(
            err.fix().unwrap().contains(fix),
            "{source}: {:?}",
            err.fix()
        );
    }
    // "Identity not found" is final: one request, no retries.
    assert_eq!(requests_to(&emu, Endpoint::Imds).await.len(), 1);
}

#[tokio::test]
async fn an_unknown_user_assigned_identity_is_identity_not_found() {
    let emu = start(Identities::ALL).await;
    let unknown = "00000000-dead-beef-0000-000000000000";
    for source in ["app_service", "imds", "legacy_app_service"] {
        let err = credential_for(
            &emu,
            env(&emu, source),
            UserAssignedId::ClientId(unknown.into()),
        )
        .unwrap()
        .get_token(&request())
        .await
        .unwrap_err();
        assert_eq!(
            err.kind(),
            CredentialErrorKind::IdentityNotFound,
            "{source}: {err}"
        );
        assert!(err.message().contains(unknown), "{err}");
        assert!(
            err.fix().unwrap().contains("--identities"),
            "{:?}",
            err.fix()
        );
    }
}

#[tokio::test]
async fn imds_with_several_identities_and_no_selector_asks_to_choose() {
    let emu = start(Identities {
        system: false,
        user_assigned: 2,
    })
    .await;
    let err = token_error(&emu, env(&emu, "imds")).await;
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
    assert!(
        err.message().contains("several user-assigned identities"),
        "{err}"
    );
    assert!(err.fix().unwrap().contains("AZURE_CLIENT_ID"));
    assert_eq!(requests_to(&emu, Endpoint::Imds).await.len(), 1);
}

#[tokio::test]
async fn a_wrong_identity_header_is_refused() {
    let emu = start(Identities::ALL).await;
    for (source, variable) in [
        ("app_service", "IDENTITY_HEADER"),
        ("legacy_app_service", "MSI_SECRET"),
        ("service_fabric", "IDENTITY_HEADER"),
    ] {
        let env = env_with(&emu, source, &[(variable, "not-the-right-header")]);
        let err = token_error(&emu, env).await;
        assert_eq!(err.kind(), CredentialErrorKind::Refused, "{source}: {err}");
        assert!(!err.is_unavailable());
        assert!(!err.to_string().contains("not-the-right-header"));
        assert!(err.fix().is_some());
    }
}

#[tokio::test]
async fn service_fabric_accepts_only_the_pinned_certificate() {
    let emu = start(Identities::ALL).await;
    // A different, well-formed thumbprint: the TLS handshake must fail before any request.
    let env = env_with(
        &emu,
        "service_fabric",
        &[(
            "IDENTITY_SERVER_THUMBPRINT",
            "0123456789ABCDEF0123456789ABCDEF01234567",
        )],
    );
    let err = token_error(&emu, env).await;
    assert_eq!(err.kind(), CredentialErrorKind::Unreachable, "{err}");
    assert!(requests_to(&emu, Endpoint::ServiceFabric).await.is_empty());
    // And the pinned client trusts nothing else: the emulator's CA is not enough.
    let env = env_with(
        &emu,
        "service_fabric",
        &[("IDENTITY_SERVER_THUMBPRINT", "zz")],
    );
    let err = ManagedIdentityCredential::new(ManagedIdentityOptions::new(env, transport(&emu)))
        .unwrap_err();
    assert_eq!(err.kind(), CredentialErrorKind::InvalidConfiguration);
}

#[tokio::test]
async fn responses_that_are_not_tokens_are_invalid_and_never_echoed() {
    let emu = start(Identities::ALL).await;
    let bodies = [
        json!({"unexpected": true}),
        json!("just a string"),
        json!({"access_token": "leaky-token-value", "expires_on": "whenever"}),
        json!({"access_token": "leaky-token-value"}),
        json!({"access_token": 42, "expires_on": "1700000000"}),
    ];
    for body in bodies {
        for (source, endpoint) in [
            ("app_service", Endpoint::AppService),
            ("imds", Endpoint::Imds),
        ] {
            emu.add_fault(Fault {
                endpoint,
                status: Some(200),
                body: Some(body.clone()),
                times: Some(1),
                ..Fault::default()
            })
            .await;
            let err = token_error(&emu, env(&emu, source)).await;
            assert_eq!(
                err.kind(),
                CredentialErrorKind::InvalidResponse,
                "{source} {body}"
            );
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("leaky-token-value"), "{shown}");
        }
    }
}

#[tokio::test]
async fn arc_checks_the_key_file_folder() {
    let emu = start(Identities::ALL).await;
    let elsewhere = tempfile::tempdir().unwrap();
    // The agent writes the key into its own folder; a client told to expect another folder
    // must refuse to read it.
    let env = env_with(
        &emu,
        "arc",
        &[("KVREF_ARC_TOKENS_DIR", elsewhere.path().to_str().unwrap())],
    );
    let err = token_error(&emu, env).await;
    assert_eq!(err.kind(), CredentialErrorKind::InvalidResponse, "{err}");
    assert!(
        err.message().contains("not in the agent's tokens folder"),
        "{err}"
    );
    let served = requests_to(&emu, Endpoint::Arc).await;
    assert_eq!(
        served.len(),
        1,
        "no second request without a key: {served:?}"
    );
    assert!(!served[0].authorization);
}

#[tokio::test]
async fn cloud_shell_posts_a_form() {
    let emu = start(Identities::ALL).await;
    let token = credential(&emu, env(&emu, "cloud_shell"))
        .get_token(&request())
        .await
        .unwrap();
    assert_eq!(claims(token.secret())["aud"], "https://vault.azure.net");
    let served = requests_to(&emu, Endpoint::CloudShell).await;
    assert_eq!(served[0].method, "POST");
    assert!(served[0].query.is_empty());
}
