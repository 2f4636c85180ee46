//! The Key Vault challenge: a challenge naming another audience is refused and no token is
//! requested or sent; a 401 with a new challenge (the vault moved tenant) re-runs discovery once.

use std::collections::BTreeMap;

use crate::support::cred_emulator::TENANT;
use crate::support::emu;
use kvref::resolve::ResolveStatus;
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault};

const OTHER_TENANT: &str = "11111111-2222-3333-4444-555555555555";

fn challenge_fault(header: String, times: Option<u32>) -> Fault {
    Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(401),
        headers: BTreeMap::from([("WWW-Authenticate".to_owned(), header)]),
        body: Some(
            serde_json::json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}}),
        ),
        times,
        ..Fault::default()
    }
}

fn reference(secret: &str) -> (String, String) {
    (
        secret.to_owned(),
        format!("@KeyVault(VaultName=myvault;SecretName={secret})"),
    )
}

#[tokio::test]
async fn a_challenge_for_a_foreign_audience_gets_no_token() {
    for resource in [
        "https://evil.example",
        "https://vault.azure.net.evil.example",
        "https://myvault.vault.azure.net", // the host itself is not a parent domain
        "http://vault.azure.net",
    ] {
        let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
        emu.add_fault(challenge_fault(
            format!(r#"Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="{resource}""#),
            None,
        ))
        .await;
        let credential = emu::credential(&emu);
        let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();
        let resolution = resolver
            .resolve(vec![reference("DbPassword"), reference("ApiKey")])
            .await;

        for outcome in resolution.outcomes() {
            assert_eq!(
                outcome.status(),
                ResolveStatus::VaultNotAllowed,
                "{resource}: {:?}",
                outcome.message()
            );
            assert!(
                outcome
                    .message()
                    .unwrap()
                    .contains("no token was requested or sent"),
                "{:?}",
                outcome.message()
            );
            assert!(outcome.fix().unwrap().contains("really is your vault"));
        }
        let requests = emu::vault_requests(&emu).await;
        assert!(!requests.is_empty());
        assert!(
            requests.iter().all(|r| !r.authorization),
            "{resource}: no request carried a token"
        );
        assert_eq!(
            credential.calls(),
            0,
            "{resource}: the credential was never asked"
        );
        assert_eq!(emu::token_requests(&emu).await, 0);
    }
}

#[tokio::test]
async fn a_challenge_without_bearer_parameters_is_refused() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    emu.add_fault(challenge_fault(r#"Basic realm="vault""#.into(), None))
        .await;
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();
    let resolution = resolver.resolve(vec![reference("DbPassword")]).await;
    assert_eq!(
        resolution.outcomes()[0].status(),
        ResolveStatus::VaultNotAllowed
    );
    assert_eq!(credential.calls(), 0);
}

#[tokio::test]
async fn a_new_challenge_reruns_discovery_once() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();
    assert!(
        resolver
            .resolve(vec![reference("DbPassword")])
            .await
            .is_success()
    );
    assert_eq!(credential.calls(), 1);
    emu.clear_requests().await;

    // The vault moved tenant: its next 401 names another tenant; the client asks for a token in
    // that tenant and sends the request again, once.
    let moved = format!(
        r#"Bearer authorization="https://login.microsoftonline.com/{OTHER_TENANT}", resource="https://vault.azure.net""#
    );
    emu.add_fault(challenge_fault(moved.clone(), Some(1))).await;
    let resolution = resolver.resolve(vec![reference("ApiKey")]).await;
    assert!(resolution.is_success(), "{:?}", resolution.outcomes());
    let requests = emu::vault_requests(&emu).await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests.iter().all(|r| r.authorization));
    assert_eq!(credential.calls(), 2, "one more token, for the new tenant");

    // A vault that keeps answering 401 with a new challenge is not chased in circles.
    emu.clear_requests().await;
    let again = format!(
        r#"Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://vault.azure.net""#
    );
    emu.add_fault(challenge_fault(again, Some(1))).await;
    emu.add_fault(challenge_fault(moved, Some(1))).await;
    let resolution = resolver.resolve(vec![reference("DbPassword")]).await;
    let outcome = &resolution.outcomes()[0];
    assert_eq!(
        outcome.status(),
        ResolveStatus::UnauthorizedClient,
        "{:?}",
        outcome.message()
    );
    assert_eq!(emu::vault_requests(&emu).await.len(), 2);
}

#[tokio::test]
async fn a_later_foreign_challenge_is_refused_and_forgotten() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let credential = emu::credential(&emu);
    let resolver = emu::resolver(&emu, credential.clone()).build().unwrap();
    assert!(
        resolver
            .resolve(vec![reference("DbPassword")])
            .await
            .is_success()
    );
    let calls = credential.calls();

    emu.add_fault(challenge_fault(
        r#"Bearer authorization="https://login.microsoftonline.com/x", resource="https://evil.example""#.into(),
        Some(1),
    ))
    .await;
    let resolution = resolver.resolve(vec![reference("ApiKey")]).await;
    assert_eq!(
        resolution.outcomes()[0].status(),
        ResolveStatus::VaultNotAllowed
    );
    assert_eq!(
        credential.calls(),
        calls,
        "no token for the foreign audience"
    );

    // The cached challenge was dropped: the next request discovers again, without a token.
    emu.clear_requests().await;
    assert!(
        resolver
            .resolve(vec![reference("ApiKey")])
            .await
            .is_success()
    );
    let requests = emu::vault_requests(&emu).await;
    assert_eq!(
        requests.iter().filter(|r| !r.authorization).count(),
        1,
        "{requests:?}"
    );
}
