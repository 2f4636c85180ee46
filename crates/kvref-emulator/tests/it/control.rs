//! The control API, faults and the journal, in-process and over HTTP; paused-time compatibility.

use crate::support::*;
use kvref_emulator::{Emulator, EmulatorConfig, Endpoint, Fault, JournalEntry};
use serde_json::{Value, json};

#[tokio::test]
async fn control_api_over_http() {
    let emu = start().await;
    let info: Value = json_body(http().get(control_url(&emu, "info"))).await;
    assert_eq!(&info, emu.info());
    for key in ["https", "http", "ca_cert", "tenant_id", "env"] {
        assert!(info.get(key).is_some(), "{key}");
    }
    for source in kvref_emulator::SOURCES {
        assert!(info["env"][source].is_object(), "{source}");
    }
    assert_eq!(info["https"], emu.https_addr().to_string());
    assert_eq!(info["ca_cert"], emu.ca_cert_path().display().to_string());

    let response = http()
        .post(control_url(&emu, "vaults/myvault/secrets/FromControl"))
        .json(&json!({"value": "control-value"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let version = id
        .strip_prefix("https://myvault.vault.azure.net/secrets/FromControl/")
        .unwrap();
    assert_eq!(version.len(), 32);

    // A malformed body is refused without quoting its values back.
    let refused = http()
        .post(control_url(&emu, "vaults/myvault/secrets/FromControl"))
        .json(&json!({"value": "control-value", "tags": "hunter2-as-tags"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let text = refused.text().await.unwrap();
    assert!(text.contains("invalid type"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    let (status, _, body) = myvault.secret("fromcontrol").await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], "control-value");

    let response = http()
        .patch(control_url(
            &emu,
            &format!("vaults/myvault/secrets/FromControl/{version}"),
        ))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, _, _) = myvault.secret("fromcontrol").await;
    assert_eq!(status, 403);

    for (method, path, body, status) in [
        (
            "POST",
            "vaults/nosuch/secrets/x",
            json!({"value": "v"}),
            404,
        ),
        (
            "POST",
            "vaults/myvault/secrets/bad_name",
            json!({"value": "v"}),
            400,
        ),
        ("POST", "vaults/myvault/secrets/x", json!({"nope": 1}), 400),
        (
            "PATCH",
            "vaults/myvault/secrets/FromControl/ffffffffffffffffffffffffffffffff",
            json!({"enabled": true}),
            404,
        ),
        ("POST", "faults", json!({"endpoint": "nowhere"}), 400),
        (
            "POST",
            "faults",
            json!({"endpoint": "imds", "status": 42}),
            400,
        ),
        ("GET", "nothing-here", Value::Null, 404),
    ] {
        let request = http().request(method.parse().unwrap(), control_url(&emu, path));
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("\"v\""), "control errors never echo values");
    }
}

#[tokio::test]
async fn faults_answer_count_down_and_clear() {
    let emu = start().await;
    let response = http()
        .post(control_url(&emu, "faults"))
        .json(&json!({"endpoint": "imds", "status": 410, "headers": {"Retry-After": "7"}, "body": {"error": "gone"}, "times": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let base = imds_url(&emu);
    for _ in 0..2 {
        let (status, headers, body) = imds_get(&base, IMDS_VAULT_QUERY).await;
        assert_eq!(status, 410);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(body, json!({"error": "gone"}));
    }
    let (status, _, _) = imds_get(&base, IMDS_VAULT_QUERY).await;
    assert_eq!(status, 200, "times: 2 is used up");

    // times: null = always, until DELETE /_emulator/faults.
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: Some(500),
        ..Fault::default()
    })
    .await;
    let env = emu.env("app_service");
    for _ in 0..3 {
        let response = http()
            .get(format!(
                "{}?resource=https://vault.azure.net&api-version=2019-08-01",
                env["IDENTITY_ENDPOINT"]
            ))
            .header("X-IDENTITY-HEADER", &env["IDENTITY_HEADER"])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500);
    }
    let response = http()
        .delete(control_url(&emu, "faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let token = vault_token(&emu).await;
    assert!(!token.is_empty());

    // Key Vault faults: 429 twice, then the real answer.
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(429),
        headers: [("Retry-After".to_owned(), "1".to_owned())].into(),
        body: Some(json!({"error": {"code": "Throttled", "message": "injected"}})),
        times: Some(2),
        ..Fault::default()
    })
    .await;
    for expected in [429, 429, 200] {
        let (status, _, _) = vault_as(&emu, "myvault", &token).secret("DbPassword").await;
        assert_eq!(status, expected);
    }
}

#[tokio::test]
async fn drop_connection_closes_without_an_answer() {
    let emu = start().await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        drop_connection: true,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let result = emu
        .client()
        .get(format!(
            "{}/secrets/DbPassword?api-version=7.5",
            emu.vault_url("myvault")
        ))
        .send()
        .await;
    assert!(
        result.is_err(),
        "no response: {:?}",
        result.map(|r| r.status())
    );
    let journal = emu.requests().await;
    assert_eq!(journal.last().map(|e| e.status), Some(0));
    let (status, _, _) = kv_get(&emu, "myvault", "/secrets/DbPassword?api-version=7.5", None).await;
    assert_eq!(status, 401, "the next request is served normally");
}

#[tokio::test(start_paused = true)]
async fn works_on_a_paused_current_thread_runtime() {
    let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    // Pass-through with a delay: paused time skips the delay, the real answer follows.
    emu.add_fault(Fault {
        endpoint: Endpoint::AppService,
        status: None,
        delay_ms: 60_000,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    let started = tokio::time::Instant::now();
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    assert!(
        tokio::time::Instant::now() - started >= std::time::Duration::from_secs(60),
        "the delay ran on tokio time"
    );
    let (status, _, body) = myvault.secret("DbPassword").await;
    assert_eq!(status, 200);
    assert_eq!(body["value"], "db-password-from-the-emulator");
    // Ten sequential requests and a version change, all on the paused runtime.
    let version = emu.set_secret("myvault", "DbPassword", "rotated").await;
    for _ in 0..10 {
        let (status, _, body) = myvault.secret("DbPassword").await;
        assert_eq!(status, 200);
        assert!(body["id"].as_str().unwrap().ends_with(&version));
    }
}

#[tokio::test]
async fn journal_records_requests_but_never_tokens() {
    let emu = start().await;
    let token = vault_token_for(&emu, UAMI_CLIENT_ID).await;
    let (status, _, _) = kv_get(&emu, "myvault", "/secrets/DbPassword?api-version=7.5", None).await;
    assert_eq!(status, 401);
    let (status, _, body) = vault_as(&emu, "myvault", &token).secret("DbPassword").await;
    assert_eq!(status, 200);
    let secret_value = body["value"].as_str().unwrap().to_owned();

    let secret_read = |status, authorization| JournalEntry {
        endpoint: Endpoint::KeyVault,
        method: "GET".into(),
        host: "myvault.vault.azure.net".into(),
        path: "/secrets/DbPassword".into(),
        query: "api-version=7.5".into(),
        status,
        authorization,
        protocol: "h2".into(),
        eventgrid: None,
    };
    let journal = emu.requests().await;
    assert_eq!(
        journal,
        vec![
            JournalEntry {
                endpoint: Endpoint::AppService,
                method: "GET".into(),
                host: emu.http_addr().to_string(),
                path: "/msi/token".into(),
                query: format!(
                    "resource=https://vault.azure.net&api-version=2019-08-01&client_id={UAMI_CLIENT_ID}"
                ),
                status: 200,
                authorization: false,
                protocol: "http/1.1".into(),
                eventgrid: None,
            },
            secret_read(401, false),
            secret_read(200, true),
        ]
    );
    assert!(journal[0].endpoint == "app_service");
    let over_http = text_body(http().get(control_url(&emu, "requests"))).await;
    assert!(!over_http.contains(&token) && !over_http.contains(&secret_value));
    assert!(!over_http.contains(&emu.env("app_service")["IDENTITY_HEADER"]));
    let parsed: Vec<JournalEntry> = serde_json::from_str(&over_http).unwrap();
    assert_eq!(parsed, journal, "control API requests are not journaled");

    let response = http()
        .delete(control_url(&emu, "requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(emu.requests().await.is_empty());
    emu.set_secret("myvault", "x", "y").await;
    emu.clear_requests().await;
    assert!(emu.requests().await.is_empty());
}

#[tokio::test]
async fn dropping_the_emulator_stops_it_and_removes_its_files() {
    let emu = start().await;
    let ca = emu.ca_cert_path().to_owned();
    let token_file =
        std::path::PathBuf::from(&emu.env("workload_identity")["AZURE_FEDERATED_TOKEN_FILE"]);
    assert!(ca.exists() && token_file.exists());
    let http_addr = emu.http_addr();
    drop(emu);
    assert!(!ca.exists() && !token_file.exists());
    // The listener task ends on the next scheduling point; connections are then refused.
    let mut refused = false;
    for _ in 0..100 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(http_addr).await.is_err() {
            refused = true;
            break;
        }
    }
    assert!(refused, "the HTTP listener still accepts after drop");
}

#[tokio::test]
async fn a_deleted_vault_answers_as_unknown_until_recovered_with_its_secrets() {
    let emu = start().await;
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    let (status, _, before) = myvault.secret("DbPassword").await;
    assert_eq!(status, 200);

    let deleted = http()
        .delete(control_url(&emu, "vaults/MyVault"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, _, body) = myvault.secret("DbPassword").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "VaultNotFound");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("would not resolve"),
        "{body}"
    );
    // Deleting it again, or recovering one never deleted, says what is missing.
    for (request, says) in [
        (
            http().delete(control_url(&emu, "vaults/myvault")),
            "no vault named",
        ),
        (
            http().post(control_url(&emu, "vaults/othervault/recover")),
            "no deleted vault",
        ),
    ] {
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 404);
        assert!(answer.text().await.unwrap().contains(says), "{says}");
    }

    let recovered = http()
        .post(control_url(&emu, "vaults/myvault/recover"))
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.status(), 204);
    let (status, _, after) = myvault.secret("DbPassword").await;
    assert_eq!(status, 200);
    assert_eq!(
        (&after["value"], &after["id"]),
        (&before["value"], &before["id"])
    );
}
