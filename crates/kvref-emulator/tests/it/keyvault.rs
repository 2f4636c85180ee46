//! Key Vault data plane conformance: challenge, tokens, RBAC, reads, writes, paging, errors,
//! compared with recorded Azure bodies (shape, JSON types, status, headers).

use crate::support::*;
use serde_json::{Value, json};

const API: &str = "api-version=7.5";

#[tokio::test]
async fn vendored_fixtures_match_the_shared_ones() {
    let Some(shared) = shared_fixtures_dir() else {
        return; // a fresh clone without the shared folder: only the vendored copy exists
    };
    for entry in std::fs::read_dir(&shared).expect("shared fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let name = path.file_name().expect("name");
            let vendored = std::fs::read(vendored_fixtures_dir().join(name))
                .unwrap_or_else(|_| panic!("fixture {name:?} missing from tests/fixtures/azure"));
            assert_eq!(
                std::fs::read(&path).expect("shared"),
                vendored,
                "{name:?} differs"
            );
        }
    }
}

#[tokio::test]
async fn challenge_is_byte_exact_and_matches_the_recording() {
    let emu = start().await;
    let recorded = fixture("keyvault-challenge-401.json");
    for path in [
        "/secrets/DbPassword/?api-version=7.5",
        "/secrets/DbPassword?api-version=2025-07-01",
        "/secrets/NoSuchSecret/versions?api-version=7.5",
        "/secrets?api-version=7.5",
    ] {
        let (status, headers, body) = kv_get(&emu, "myvault", path, None).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(
            headers["www-authenticate"],
            format!(
                "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"https://vault.azure.net\"",
                emu.tenant_id()
            )
        );
        assert_eq!(
            headers["content-type"],
            recorded["headers"]["content-type"].as_str().unwrap()
        );
        assert_eq!(body, recorded["body"], "401 body is the recorded one");
    }
}

#[tokio::test]
async fn bodiless_put_without_token_gets_the_challenge_and_writes_nothing() {
    let emu = start().await;
    let response = emu
        .client()
        .put(format!("{}/secrets/NewOne?{API}", emu.vault_url("myvault")))
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let token = vault_token(&emu).await;
    let (status, _, _) = vault_as(&emu, "myvault", &token).secret("NewOne").await;
    assert_eq!(status, 404);
    // Any method and path: without a token, the challenge comes first.
    for (method, path) in [
        ("DELETE", "/secrets/DbPassword"),
        ("GET", "/deletedsecrets"),
        ("POST", "/keys/k/sign"),
    ] {
        let response = emu
            .client()
            .request(
                method.parse().unwrap(),
                format!("{}{path}?{API}", emu.vault_url("myvault")),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn challenge_names_each_clouds_resource() {
    let emu = start_with(
        r#"
tenant_id = "tenant-x"
[system_identity]
client_id = "c1"
object_id = "o1"
[[vaults]]
name = "cnvault"
cloud = "china"
[[vaults]]
name = "govvault"
cloud = "usgov"
[[role_assignments]]
principal = "system"
vault = "cnvault"
role = "Key Vault Secrets User"
"#,
    )
    .await;
    assert_eq!(emu.vault_url("cnvault"), "https://cnvault.vault.azure.cn");
    let (status, headers, _) = kv_get(&emu, "cnvault", &format!("/secrets/x?{API}"), None).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers["www-authenticate"],
        "Bearer authorization=\"https://login.chinacloudapi.cn/tenant-x\", resource=\"https://vault.azure.cn\""
    );
    let (_, headers, _) = kv_get(&emu, "govvault", &format!("/secrets/x?{API}"), None).await;
    assert_eq!(
        headers["www-authenticate"],
        "Bearer authorization=\"https://login.microsoftonline.us/tenant-x\", resource=\"https://vault.usgovcloudapi.net\""
    );
    // A public-cloud token is refused by the China vault; a China token is accepted.
    let public = vault_token(&emu).await;
    let (status, headers, body) = vault_as(&emu, "cnvault", &public).secret("x").await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(
        body["error"]["message"],
        "AKV10022: Invalid audience. Expected https://vault.azure.cn, found: https://vault.azure.net."
    );
    let china = app_service_token(&emu, "https://vault.azure.cn/", "").await;
    let (status, _, body) = vault_as(&emu, "cnvault", &china).secret("x").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn get_secret_matches_the_recordings() {
    let emu = start().await;
    let version = emu
        .set_secret("myvault", "plain-secret", "plain-value")
        .await;
    assert!(
        version.len() == 32
            && version
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    let token = vault_token(&emu).await;
    for (path, fixture_name) in [
        (
            format!("/secrets/plain-secret/?{API}"),
            "keyvault-get-secret-200.json",
        ),
        (
            "/secrets/plain-secret?api-version=2025-07-01".to_owned(),
            "keyvault-get-secret-2025-07-01.json",
        ),
        (
            format!("/secrets/PLAIN-SECRET/{version}?{API}"),
            "keyvault-get-secret-200.json",
        ),
    ] {
        let (status, headers, body) = vault_as(&emu, "myvault", &token).get(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_same_shape(&body, &fixture(fixture_name));
        assert_eq!(body["value"], "plain-value");
        assert_eq!(
            body["id"],
            format!("https://myvault.vault.azure.net/secrets/plain-secret/{version}"),
            "id is always versioned and keeps the stored case"
        );
        assert_eq!(headers["content-type"], "application/json; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-cache");
        assert!(headers.contains_key("x-ms-request-id"));
        assert_eq!(headers["x-ms-keyvault-region"], "westus");
    }
}

#[tokio::test]
async fn optional_fields_appear_only_when_set() {
    let emu = start().await;
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    let (status, _, body) = myvault.secret("DbPassword").await;
    assert_eq!(status, 200);
    assert_eq!(body["contentType"], "text/plain");
    assert_eq!(body["tags"], json!({"env": "dev", "owner": "platform"}));
    assert_eq!(
        body["value"], "db-password-from-the-emulator",
        "the latest version"
    );
    let (_, _, old) = myvault
        .get(&format!(
            "/secrets/dbpassword/0a1b2c3d4e5f60718293a4b5c6d7e8f9?{API}"
        ))
        .await;
    assert_eq!(old["value"], "old-db-password");
    assert!(
        old.get("tags").is_none(),
        "absent optionals are omitted, never null"
    );
    let (_, _, api_key) = myvault.secret("ApiKey").await;
    assert_eq!(api_key["attributes"]["exp"], 4102444800i64);
    assert!(api_key["attributes"].get("nbf").is_none());
    fn no_nulls(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Object(m) => m.values().all(no_nulls),
            Value::Array(a) => a.iter().all(no_nulls),
            _ => true,
        }
    }
    assert!(no_nulls(&body) && no_nulls(&old) && no_nulls(&api_key));
}

#[tokio::test]
async fn errors_match_the_recordings() {
    let emu = start().await;
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);

    let (status, headers, body) = myvault
        .get(&format!("/secrets/no-such-secret/?{API}"))
        .await;
    assert_eq!(status, 404);
    assert_same_shape(&body, &fixture("keyvault-secret-not-found-404.json"));
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    let recorded = fixture("keyvault-secret-not-found-404.json");
    let recorded_message = recorded["error"]["message"].as_str().unwrap();
    assert_eq!(
        body["error"]["message"],
        recorded_message.replace("CRUDSecretName-cangetasecretNonExisting-", "no-such-secret")
    );

    let (status, _, body) = myvault
        .get(&format!(
            "/secrets/DbPassword/ffffffffffffffffffffffffffffffff?{API}"
        ))
        .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(name/id) DbPassword/ffffffffffffffffffffffffffffffff was not found")
    );

    let (status, _, body) = myvault.secret("RetiredToken").await;
    assert_eq!(status, 403);
    assert_eq!(body, fixture("keyvault-secret-disabled-403.json"));

    let (status, _, body) = myvault
        .get(&format!("/secrets/no-such-secret/versions?{API}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, fixture("keyvault-list-versions-empty-200.json"));

    let (status, _, body) = myvault.get(&format!("/secrets/bad_name/?{API}")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadParameter");
    assert_eq!(
        body["error"]["message"],
        "The request URI contains an invalid name: bad_name"
    );

    let (status, _, body) = myvault.get("/secrets/DbPassword/").await;
    assert_eq!(status, 400, "api-version is required");
    assert_eq!(body["error"]["code"], "BadParameter");

    let (status, _, _) = myvault.get("/secrets/DbPassword/?api-version=banana").await;
    assert_eq!(status, 400);

    let (status, _, body) = vault_as(&emu, "nosuchvault", &token).secret("x").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "VaultNotFound");
}

#[tokio::test]
async fn tokens_are_checked_before_anything_is_answered() {
    let emu = start().await;
    let path = format!("/secrets/DbPassword?{API}");
    let check_refused = |status: u16, headers: &reqwest::header::HeaderMap, body: &Value| {
        assert_eq!(status, 401);
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer authorization=\"")
        );
        assert_eq!(body["error"]["code"], "Unauthorized");
        assert!(!body.to_string().contains("db-password"));
    };
    // Another audience.
    let management = app_service_token(&emu, "https://management.azure.com/", "").await;
    let (status, headers, body) = vault_as(&emu, "myvault", &management).get(&path).await;
    check_refused(status, &headers, &body);
    assert_eq!(
        body["error"]["message"],
        "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."
    );
    // A forged token and one from another emulator.
    let (status, headers, body) = kv_get(&emu, "myvault", &path, Some("forged.token.value")).await;
    check_refused(status, &headers, &body);
    let other = start().await;
    let foreign = vault_token(&other).await;
    let (status, headers, body) = vault_as(&emu, "myvault", &foreign).get(&path).await;
    check_refused(status, &headers, &body);
    // Not a bearer scheme at all.
    let response = emu
        .client()
        .get(format!("{}{path}", emu.vault_url("myvault")))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The audience with a trailing slash is the same resource.
    let slash = app_service_token(&emu, "https://vault.azure.net/", "").await;
    let (status, _, _) = vault_as(&emu, "myvault", &slash).get(&path).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    // Lifetime 0: every token is already expired when issued (wall clock, whole seconds).
    let config = kvref_emulator::EmulatorConfig::sample().with_token_lifetime_secs(0);
    let emu = kvref_emulator::Emulator::start(config).await.unwrap();
    let token = vault_token(&emu).await;
    let (status, headers, body) = vault_as(&emu, "myvault", &token).secret("DbPassword").await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("AKV10022")
    );
}

#[tokio::test]
async fn rbac_refuses_identities_without_a_role_with_the_real_message() {
    let emu = start().await;
    let token = vault_token_for(&emu, NOROLE_CLIENT_ID).await;
    let (status, headers, body) = vault_as(&emu, "myvault", &token).secret("DbPassword").await;
    assert_eq!(status, 403);
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "ForbiddenByRbac");
    let message = body["error"]["message"].as_str().unwrap();
    let lines: Vec<&str> = message.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "Caller is not authorized to perform action on resource."
    );
    assert!(lines[2].starts_with(&format!("Caller: appid={NOROLE_CLIENT_ID};oid=")));
    assert_eq!(
        lines[3],
        "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"
    );
    assert!(lines[4].starts_with("Resource: '/subscriptions/"));
    assert_eq!(lines[5], "Assignment: (not found)");
    assert_eq!(lines[7], "DecisionReason: 'DeniedWithNoValidRBAC' ");
    assert_eq!(lines[8], "Vault: myvault;location=westus");
    assert!(message.ends_with("\r\n"));
    assert!(!message.contains("db-password"));

    // The system identity reads myvault but has no role on othervault.
    let system = vault_token(&emu).await;
    let (status, _, _) = vault_as(&emu, "othervault", &system)
        .secret("ReportingKey")
        .await;
    assert_eq!(status, 403);
}

async fn entra_token(emu: &kvref_emulator::Emulator) -> String {
    let response = emu
        .client()
        .post(format!(
            "https://localhost:{}/{}/oauth2/v2.0/token",
            emu.https_addr().port(),
            emu.tenant_id()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SP_CLIENT_ID),
            ("client_secret", SP_SECRET),
            ("scope", "https://vault.azure.net/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn writes_need_secrets_officer() {
    use reqwest::Method;

    let emu = start().await;
    let path = format!("/secrets/Written?{API}");
    let reader_token = vault_token(&emu).await;
    let reader = vault_as(&emu, "myvault", &reader_token);
    let (status, _, body) = reader
        .send(Method::PUT, &path, Some(&json!({"value": "w1"})))
        .await;
    assert_eq!(status, 403);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("setSecret/action")
    );

    let officer_token = entra_token(&emu).await;
    let officer = vault_as(&emu, "myvault", &officer_token);
    let (status, _, created) = officer
        .send(
            Method::PUT,
            &path,
            Some(
                &json!({"value": "w1", "contentType": "text/plain", "tags": {"a": "b"}, "attributes": {"exp": 4102444800i64}}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let mut expected = fixture("keyvault-get-secret-200.json");
    expected["contentType"] = json!("");
    expected["tags"] = json!({"a": ""});
    expected["attributes"]["exp"] = json!(0);
    assert_same_shape(&created, &expected);
    let id = created["id"].as_str().unwrap();
    let version = id.rsplit('/').next().unwrap();
    assert!(
        version.len() == 32
            && version
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(created["contentType"], "text/plain");
    assert_eq!(created["attributes"]["exp"], 4102444800i64);

    // PATCH: disable, tags, content type, nbf; the answer has no value.
    let version_path = format!("/secrets/written/{version}?{API}");
    let (status, _, patched) = officer
        .send(
            Method::PATCH,
            &version_path,
            Some(
                &json!({"contentType": "application/json", "tags": {"x": "y"}, "attributes": {"enabled": false, "nbf": 1000}}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert!(patched.get("value").is_none());
    assert_eq!(patched["attributes"]["enabled"], false);
    assert_eq!(patched["attributes"]["nbf"], 1000);
    assert_eq!(patched["tags"], json!({"x": "y"}));
    let (status, _, _) = officer.secret("Written").await;
    assert_eq!(status, 403, "disabled now");

    // A reader cannot PATCH either.
    let (status, _, _) = reader
        .send(
            Method::PATCH,
            &version_path,
            Some(&json!({"attributes": {"enabled": true}})),
        )
        .await;
    assert_eq!(status, 403);

    // Bad bodies and names, and a method Key Vault does not allow here.
    for (method, path, body, expected) in [
        (Method::PUT, path.clone(), Some(json!({"nothing": 1})), 400),
        (
            Method::PUT,
            format!("/secrets/bad.name?{API}"),
            Some(json!({"value": "v"})),
            400,
        ),
        (Method::DELETE, path.clone(), None, 405),
    ] {
        let (status, _, _) = officer.send(method.clone(), &path, body.as_ref()).await;
        assert_eq!(status, expected, "{method} {path}");
    }
}

#[tokio::test]
async fn versions_are_paged_with_absolute_next_links() {
    let emu = start().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(emu.set_secret("myvault", "Paged", &format!("v{i}")).await);
    }
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    let mut url = format!(
        "{}/secrets/paged/versions?{API}&maxresults=2",
        emu.vault_url("myvault")
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = emu
            .client()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        pages += 1;
        for item in body["value"].as_array().unwrap() {
            assert!(item.get("value").is_none(), "list items carry no value");
            assert_eq!(item["attributes"]["enabled"], true);
            seen.push(
                item["id"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        match &body["nextLink"] {
            Value::String(next) => {
                assert!(
                    next.starts_with("https://myvault.vault.azure.net/secrets/Paged/versions?")
                );
                assert!(next.contains("maxresults=2"));
                url = next.clone();
            }
            Value::Null => break,
            other => panic!("nextLink must be a string or null, got {other}"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
    let (status, _, _) = myvault
        .get(&format!("/secrets/paged/versions?{API}&maxresults=26"))
        .await;
    assert_eq!(status, 400);

    // The vault-wide list: versionless ids, no values.
    let (status, _, body) = myvault.get(&format!("/secrets?{API}")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"https://myvault.vault.azure.net/secrets/DbPassword"));
    assert!(ids.contains(&"https://myvault.vault.azure.net/secrets/Paged"));
    assert!(
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("value").is_none())
    );
    assert_eq!(body["nextLink"], Value::Null);
}

#[tokio::test]
async fn each_vault_is_throttled_on_its_own() {
    let toml = kvref_emulator::EmulatorConfig::sample_toml().replace(
        "requests = 4000\nwindow_secs = 10",
        "requests = 3\nwindow_secs = 60",
    );
    let emu = start_with(&toml).await;
    let token = vault_token(&emu).await;
    let myvault = vault_as(&emu, "myvault", &token);
    let path = format!("/secrets/DbPassword?{API}");
    for _ in 0..3 {
        let (status, _, _) = myvault.get(&path).await;
        assert_eq!(status, 200);
    }
    let (status, headers, body) = myvault.get(&path).await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "Throttled");
    assert_eq!(
        body["error"]["message"],
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"
    );
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    // Throttled requests do not count, and the other vault has its own window.
    let (status, _, _) = kv_get(&emu, "othervault", &format!("/secrets?{API}"), None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn error_bodies_are_byte_exact() {
    let emu = start().await;
    let raw = |name: &str| {
        let dir = shared_fixtures_dir().unwrap_or_else(vendored_fixtures_dir);
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let url = format!("{}/secrets/RetiredToken?{API}", emu.vault_url("myvault"));
    let challenge = text_body(emu.client().get(&url)).await;
    let recorded: Value = serde_json::from_str(&raw("keyvault-challenge-401.json")).unwrap();
    assert_eq!(challenge, recorded["body"].to_string());
    let token = vault_token(&emu).await;
    let disabled = text_body(emu.client().get(&url).bearer_auth(&token)).await;
    assert_eq!(disabled, raw("keyvault-secret-disabled-403.json"));
    let empty = text_body(
        emu.client()
            .get(format!(
                "{}/secrets/none/versions?{API}",
                emu.vault_url("myvault")
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(empty, raw("keyvault-list-versions-empty-200.json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_many_concurrent_requests_and_journals_each() {
    let emu = start().await;
    let token = vault_token(&emu).await;
    emu.clear_requests().await;
    let client = emu.client();
    let url = format!("{}/secrets/DbPassword?{API}", emu.vault_url("myvault"));
    let requests = (0..200).map(|_| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    });
    for request in requests.collect::<Vec<_>>() {
        assert_eq!(request.await.unwrap().unwrap(), 200);
    }
    let journal = emu.requests().await;
    assert_eq!(journal.len(), 200);
    assert!(
        journal
            .iter()
            .all(|e| e.endpoint == "keyvault" && e.status == 200 && e.authorization)
    );
}
