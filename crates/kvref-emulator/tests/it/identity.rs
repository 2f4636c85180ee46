//! Identity endpoint conformance: App Service (2019-08-01 and 2017-09-01), IMDS, Arc, Cloud Shell,
//! Service Fabric and Entra ID, each with its own body shapes, types and errors.

use crate::support::*;
use serde_json::{Value, json};

/// The App Service (2019-08-01) query for a Key Vault token.
const APP_SERVICE_VAULT_QUERY: &str = "resource=https://vault.azure.net&api-version=2019-08-01";
/// The legacy App Service (2017-09-01) query for a Key Vault token.
const LEGACY_VAULT_QUERY: &str = "resource=https://vault.azure.net&api-version=2017-09-01";

/// GET an App Service token endpoint (`app_service`: 2019-08-01 style, `legacy_app_service`:
/// 2017-09-01) with the secret header that source's environment names, and the given query.
async fn app_service_get(emu: &kvref_emulator::Emulator, source: &str, query: &str) -> Answer {
    let env = emu.env(source);
    let (endpoint, header, secret) = if source == "legacy_app_service" {
        ("MSI_ENDPOINT", "secret", "MSI_SECRET")
    } else {
        ("IDENTITY_ENDPOINT", "X-IDENTITY-HEADER", "IDENTITY_HEADER")
    };
    send_json(
        http()
            .get(format!("{}?{query}", env[endpoint]))
            .header(header, &env[secret]),
    )
    .await
}

/// Reads a JWT's claims (the emulator's tokens are JWTs, like Entra's).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("claims JSON")
}

const NO_SYSTEM_TWO_UAMIS: &str = r#"
tenant_id = "tenant-y"
[[user_assigned_identities]]
name = "one"
client_id = "c-one"
object_id = "o-one"
[[user_assigned_identities]]
name = "two"
client_id = "c-two"
object_id = "o-two"
"#;

const NO_SYSTEM_ONE_UAMI: &str = r#"
tenant_id = "tenant-z"
[[user_assigned_identities]]
name = "only"
client_id = "c-only"
object_id = "o-only"
"#;

#[tokio::test]
async fn app_service_matches_the_recording() {
    let emu = start().await;
    let env = emu.env("app_service");
    let endpoint = &env["IDENTITY_ENDPOINT"];
    let header = &env["IDENTITY_HEADER"];
    let (status, headers, body) =
        app_service_get(&emu, "app_service", APP_SERVICE_VAULT_QUERY).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    assert_same_shape(&body, &fixture("app-service-token-200.json"));
    assert!(body.get("expires_in").is_none());
    assert!(
        body["expires_on"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
    assert_eq!(body["client_id"], SYSTEM_CLIENT_ID);
    assert_eq!(body["resource"], "https://vault.azure.net");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], "https://vault.azure.net");
    assert_eq!(c["tid"], emu.tenant_id());
    assert_eq!(c["exp"].to_string(), body["expires_on"].as_str().unwrap());

    // Every selector, App Service spelling.
    for query in [
        format!("client_id={UAMI_CLIENT_ID}"),
        format!("principal_id={UAMI_OBJECT_ID}"),
        format!("object_id={UAMI_OBJECT_ID}"),
        format!("mi_res_id={UAMI_RESOURCE_ID}"),
    ] {
        let token = app_service_token(&emu, "https://vault.azure.net", &query).await;
        assert_eq!(claims(&token)["appid"], UAMI_CLIENT_ID, "{query}");
        assert_eq!(claims(&token)["oid"], UAMI_OBJECT_ID, "{query}");
    }

    // Errors have App Service's own shape.
    let error_shape = fixture("app-service-error-400.json");
    for (request, expected_status) in [
        (http().get(format!("{endpoint}?resource=https://vault.azure.net&api-version=2019-08-01")), 400),
        (
            http()
                .get(format!("{endpoint}?resource=https://vault.azure.net&api-version=2019-08-01"))
                .header("X-IDENTITY-HEADER", "wrong"),
            401,
        ),
        (
            http()
                .get(format!("{endpoint}?resource=https://vault.azure.net&api-version=2017-09-01"))
                .header("X-IDENTITY-HEADER", header),
            400,
        ),
        (http().get(format!("{endpoint}?api-version=2019-08-01")).header("X-IDENTITY-HEADER", header), 400),
        (
            http()
                .get(format!("{endpoint}?resource=https://vault.azure.net&api-version=2019-08-01&client_id=nobody"))
                .header("X-IDENTITY-HEADER", header),
            400,
        ),
    ] {
        let (status, _, body) = send_json(request).await;
        assert_eq!(status, expected_status, "{body}");
        assert_same_shape(&body, &error_shape);
        assert_eq!(body["statusCode"], status);
        assert!(!body.to_string().contains(header.as_str()));
    }
    let (_, _, body) = send_json(
        http()
            .get(format!("{endpoint}?resource=https://vault.azure.net&api-version=2019-08-01&client_id=nobody"))
            .header("X-IDENTITY-HEADER", header),
    )
    .await;
    assert_eq!(
        body["message"],
        "No Managed Identity found for specified ClientId/ResourceId/PrincipalId."
    );

    // No system identity and no selector.
    let emu = start_with(NO_SYSTEM_TWO_UAMIS).await;
    let (status, _, body) = app_service_get(&emu, "app_service", APP_SERVICE_VAULT_QUERY).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        fixture("app-service-error-400.json")["message"]
    );
}

#[tokio::test]
async fn legacy_app_service_uses_secret_clientid_and_a_date_string() {
    let emu = start().await;
    let env = emu.env("legacy_app_service");
    let endpoint = &env["MSI_ENDPOINT"];
    let (status, _, body) = app_service_get(
        &emu,
        "legacy_app_service",
        &format!("{LEGACY_VAULT_QUERY}&clientid={UAMI_CLIENT_ID}"),
    )
    .await;
    assert_eq!(status, 200);
    let expires_on = body["expires_on"].as_str().unwrap();
    // "11/05/2021 15:18:31 +00:00"
    let b = expires_on.as_bytes();
    assert_eq!(expires_on.len(), 26, "{expires_on}");
    assert!(b[2] == b'/' && b[5] == b'/' && b[10] == b' ' && b[13] == b':' && b[16] == b':');
    assert!(expires_on.ends_with(" +00:00"));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["appid"],
        UAMI_CLIENT_ID
    );
    let (status, _, _) = send_json(
        http()
            .get(format!(
                "{endpoint}?resource=https://vault.azure.net&api-version=2017-09-01"
            ))
            .header("X-IDENTITY-HEADER", &env["MSI_SECRET"]),
    )
    .await;
    assert_eq!(status, 400, "the legacy protocol wants the secret header");
}

#[tokio::test]
async fn imds_quirks() {
    let emu = start().await;
    let base = imds_url(&emu);

    // The probe: no Metadata header and no query at all gets 400 bad_request_102 at once.
    let (status, _, body) = send_json(http().get(&base)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "bad_request_102", "error_description": "Required metadata header not specified"})
    );
    let (status, _, _) = send_json(
        http()
            .get(format!(
                "{base}?api-version=2018-02-01&resource=https://vault.azure.net"
            ))
            .header("Metadata", "True"),
    )
    .await;
    assert_eq!(status, 400, "the header must be lower-case true");

    for api in ["2018-02-01", "2019-08-01", "2021-02-01"] {
        let (status, headers, body) = imds_get(
            &base,
            &format!("api-version={api}&resource=https://vault.azure.net/"),
        )
        .await;
        assert_eq!(status, 200, "{api}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let recorded = fixture("imds-token-200.json");
        for (key, value) in recorded.as_object().unwrap() {
            if key != "refresh_token" {
                assert!(body.get(key).is_some(), "{key} missing");
                assert_eq!(kind(value), "string");
            }
        }
        let non_strings: Vec<_> = body
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, v)| !v.is_string())
            .collect();
        assert!(non_strings.is_empty(), "{non_strings:?}");
        assert_eq!(
            body["resource"], "https://vault.azure.net/",
            "echoed verbatim"
        );
        assert_eq!(body["client_id"], SYSTEM_CLIENT_ID);
    }
    let (status, _, _) = imds_get(&base, "api-version=2017-12-01&resource=r").await;
    assert_eq!(status, 400);
    let (status, _, body) = imds_get(&base, "api-version=2018-02-01").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    for (selector, expected) in [
        (format!("client_id={UAMI_CLIENT_ID}"), UAMI_CLIENT_ID),
        (format!("object_id={UAMI_OBJECT_ID}"), UAMI_CLIENT_ID),
        (format!("msi_res_id={UAMI_RESOURCE_ID}"), UAMI_CLIENT_ID),
    ] {
        let (status, _, body) = imds_get(
            &base,
            &format!("api-version=2018-02-01&resource=https://vault.azure.net&{selector}"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["client_id"], expected);
    }
    let (status, _, body) = imds_get(
        &base,
        "api-version=2018-02-01&resource=https://vault.azure.net&client_id=unknown",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_request", "error_description": "Identity not found"})
    );

    // Several user-assigned identities, no system one, no selector.
    let emu = start_with(NO_SYSTEM_TWO_UAMIS).await;
    let base = imds_url(&emu);
    let (status, _, body) = imds_get(&base, IMDS_VAULT_QUERY).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"],
        "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"
    );
    // One user-assigned identity and no system one: IMDS answers with it.
    let emu = start_with(NO_SYSTEM_ONE_UAMI).await;
    let base = imds_url(&emu);
    let (status, _, body) = imds_get(&base, IMDS_VAULT_QUERY).await;
    assert_eq!(status, 200);
    assert_eq!(body["client_id"], "c-only");
}

#[tokio::test]
async fn arc_challenges_with_a_key_file_in_the_tokens_folder() {
    let emu = start().await;
    let env = emu.env("arc");
    assert!(env.contains_key("IMDS_ENDPOINT"));
    let endpoint = &env["IDENTITY_ENDPOINT"];
    let tokens_dir = std::path::Path::new(&env["KVREF_ARC_TOKENS_DIR"]);
    let url = format!("{endpoint}?api-version=2020-06-01&resource=https://vault.azure.net");

    let (status, headers, body) = send_json(http().get(&url).header("Metadata", "true")).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized_client");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    let (scheme, realm) = challenge.split_once('=').unwrap();
    assert_eq!(scheme, "Basic realm");
    let key_path = std::path::Path::new(realm);
    assert_eq!(key_path.parent().unwrap(), tokens_dir);
    assert_eq!(key_path.extension().unwrap(), "key");
    let key = std::fs::read_to_string(key_path).unwrap();
    assert!(!key.is_empty() && key.len() <= 4096);

    let (status, _, body) = send_json(
        http()
            .get(&url)
            .header("Metadata", "true")
            .header("Authorization", format!("Basic {key}")),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.as_object().unwrap().values().all(Value::is_string));
    assert_eq!(body["client_id"], SYSTEM_CLIENT_ID);
    // A key serves one request: its file is gone and it is refused the second time.
    assert!(!key_path.exists(), "the used key file is removed");
    let (status, _, _) = send_json(
        http()
            .get(&url)
            .header("Metadata", "true")
            .header("Authorization", format!("Basic {key}")),
    )
    .await;
    assert_eq!(status, 401);

    let (status, _, _) = send_json(
        http()
            .get(&url)
            .header("Metadata", "true")
            .header("Authorization", "Basic not-the-key"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = send_json(http().get(&url)).await;
    assert_eq!(status, 400, "Metadata header required");
    let (status, _, _) = send_json(
        http()
            .get(format!("{url}&client_id={UAMI_CLIENT_ID}"))
            .header("Metadata", "true")
            .header("Authorization", format!("Basic {key}")),
    )
    .await;
    assert_eq!(status, 400, "Arc has only the system identity");
}

#[tokio::test]
async fn arc_tokens_folder_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "arc_tokens_dir = {:?}\n{}",
        dir.path().display().to_string(),
        kvref_emulator::EmulatorConfig::sample_toml()
    );
    let emu = start_with(&toml).await;
    assert_eq!(
        emu.env("arc")["KVREF_ARC_TOKENS_DIR"],
        dir.path().display().to_string()
    );
    let (status, headers, _) = send_json(
        http()
            .get(format!(
                "{}?api-version=2021-02-01&resource=https://vault.azure.net",
                emu.env("arc")["IDENTITY_ENDPOINT"]
            ))
            .header("Metadata", "true"),
    )
    .await;
    assert_eq!(status, 401);
    let realm = headers["www-authenticate"]
        .to_str()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert!(realm.starts_with(&dir.path().display().to_string()));
}

#[tokio::test]
async fn cloud_shell_takes_a_post_form() {
    let emu = start().await;
    let env = emu.env("cloud_shell");
    assert_eq!(env.len(), 1, "MSI_ENDPOINT only");
    let endpoint = &env["MSI_ENDPOINT"];
    let post = |metadata: bool, resource: &str| {
        let mut request = http().post(endpoint).form(&[("resource", resource)]);
        if metadata {
            request = request.header("Metadata", "true");
        }
        send_json(request)
    };
    let (status, _, body) = post(true, "https://vault.azure.net").await;
    assert_eq!(status, 200);
    assert!(body.as_object().unwrap().values().all(Value::is_string));
    assert_eq!(body["resource"], "https://vault.azure.net");
    let (status, _, _) = post(false, "https://vault.azure.net").await;
    assert_eq!(status, 400);
    let (status, _, _) = send_json(
        http()
            .get(format!("{endpoint}?resource=https://vault.azure.net"))
            .header("Metadata", "true"),
    )
    .await;
    assert_eq!(status, 405);
    let (status, _, body) = post(true, "https://example.com").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "AudienceNotSupported");
}

#[tokio::test]
async fn service_fabric_over_https_with_the_pinned_thumbprint() {
    use sha1::{Digest, Sha1};
    let emu = start().await;
    let env = emu.env("service_fabric");
    let endpoint = &env["IDENTITY_ENDPOINT"];
    assert!(endpoint.starts_with("https://localhost:"));
    let client = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(emu.ca_cert_pem().as_bytes()).unwrap()])
        .tls_info(true)
        .no_proxy()
        .build()
        .unwrap();
    let response = client
        .get(format!(
            "{endpoint}?api-version=2019-07-01-preview&resource=https://vault.azure.net/"
        ))
        .header("Secret", &env["IDENTITY_HEADER"])
        .send()
        .await
        .unwrap();
    let info = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .expect("TLS info");
    let thumbprint: String = Sha1::digest(info.peer_certificate().expect("peer certificate"))
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert_eq!(thumbprint, env["IDENTITY_SERVER_THUMBPRINT"]);
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://vault.azure.net/");
    assert!(body["expires_on"].is_string());

    for (request, status, code) in [
        (
            client.get(format!(
                "{endpoint}?api-version=2019-07-01-preview&resource=r"
            )),
            400,
            "SecretHeaderNotFound",
        ),
        (
            client
                .get(format!("{endpoint}?api-version=2019-08-01&resource=r"))
                .header("Secret", &env["IDENTITY_HEADER"]),
            400,
            "InvalidApiVersion",
        ),
        (
            client
                .get(format!("{endpoint}?api-version=2019-07-01-preview"))
                .header("Secret", &env["IDENTITY_HEADER"]),
            400,
            "ArgumentNullOrEmpty",
        ),
    ] {
        let (got, _, body) = send_json(request).await;
        assert_eq!(got, status);
        assert_eq!(body["error"]["code"], code);
        assert!(body["error"]["correlationId"].is_string());
    }
}

async fn entra_post(
    emu: &kvref_emulator::Emulator,
    tenant: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let (status, _, body) = send_json(
        emu.client()
            .post(format!(
                "https://localhost:{}/{tenant}/oauth2/v2.0/token",
                emu.https_addr().port()
            ))
            .form(form),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn entra_client_credentials() {
    let emu = start().await;
    let tenant = emu.tenant_id().to_owned();
    let scope = ("scope", "https://vault.azure.net/.default");
    let grant = ("grant_type", "client_credentials");
    let (status, body) = entra_post(
        &emu,
        &tenant,
        &[
            grant,
            ("client_id", SP_CLIENT_ID),
            ("client_secret", SP_SECRET),
            scope,
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_same_shape(&body, &fixture("entra-v2-token-200.json"));
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["aud"],
        "https://vault.azure.net"
    );

    // Workload identity: the federated token file from the environment.
    let wi = emu.env("workload_identity");
    assert!(wi["AZURE_AUTHORITY_HOST"].ends_with('/'));
    assert_eq!(wi["AZURE_TENANT_ID"], tenant);
    let assertion = std::fs::read_to_string(&wi["AZURE_FEDERATED_TOKEN_FILE"]).unwrap();
    let (status, body) = entra_post(
        &emu,
        &tenant,
        &[
            ("client_assertion", &assertion),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_id", &wi["AZURE_CLIENT_ID"]),
            grant,
            scope,
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["expires_in"].is_i64() && body["ext_expires_in"].is_i64());
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, _, body) = kv_get(
        &emu,
        "myvault",
        "/secrets/DbPassword?api-version=7.5",
        Some(&token),
    )
    .await;
    assert_eq!(status, 200, "the service principal reads myvault: {body}");

    let error_keys = [
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    ];
    for (tenant, form, status, error, code) in [
        (
            "no-such-tenant",
            vec![
                grant,
                ("client_id", SP_CLIENT_ID),
                ("client_secret", SP_SECRET),
                scope,
            ],
            400,
            "invalid_tenant",
            90002,
        ),
        (
            tenant.as_str(),
            vec![
                grant,
                ("client_id", SP_CLIENT_ID),
                ("client_secret", "wrong"),
                scope,
            ],
            401,
            "invalid_client",
            7000215,
        ),
        (
            tenant.as_str(),
            vec![
                grant,
                ("client_id", "unknown-app"),
                ("client_secret", SP_SECRET),
                scope,
            ],
            400,
            "unauthorized_client",
            700016,
        ),
        (
            tenant.as_str(),
            vec![
                grant,
                ("client_id", SP_CLIENT_ID),
                ("client_secret", SP_SECRET),
                ("scope", "https://vault.azure.net"),
            ],
            400,
            "invalid_scope",
            70011,
        ),
        (
            tenant.as_str(),
            vec![
                grant,
                ("client_id", SP_CLIENT_ID),
                ("client_assertion", "not-the-token"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                scope,
            ],
            401,
            "invalid_client",
            700211,
        ),
        (
            tenant.as_str(),
            vec![grant, ("client_id", SP_CLIENT_ID), scope],
            401,
            "invalid_client",
            7000218,
        ),
    ] {
        let (got, body) = entra_post(&emu, tenant, &form).await;
        assert_eq!(got, status, "{body}");
        assert_eq!(body["error"], error);
        assert_eq!(body["error_codes"], json!([code]));
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(
            description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: ")
        );
        for key in error_keys {
            assert!(body.get(key).is_some(), "{key} missing in {body}");
        }
        assert!(!body.to_string().contains(SP_SECRET));
    }
}

#[tokio::test]
async fn entra_discovery_documents() {
    let emu = start().await;
    let origin = format!("https://localhost:{}", emu.https_addr().port());
    let tenant = emu.tenant_id();
    let (status, _, body) = send_json(emu.client().get(format!(
        "{origin}/{tenant}/v2.0/.well-known/openid-configuration"
    )))
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["token_endpoint"],
        format!("{origin}/{tenant}/oauth2/v2.0/token")
    );
    assert_eq!(body["issuer"], format!("{origin}/{tenant}/v2.0"));
    assert!(body["authorization_endpoint"].is_string());
    let (status, _, body) = send_json(
        emu.client()
            .get(format!("{origin}/common/discovery/instance?api-version=1.1&authorization_endpoint={origin}/{tenant}/oauth2/v2.0/authorize")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["tenant_discovery_endpoint"],
        format!("{origin}/{tenant}/v2.0/.well-known/openid-configuration")
    );
    assert!(body["metadata"][0]["aliases"].is_array());
    let (status, _, body) = send_json(emu.client().get(format!(
        "{origin}/other-tenant/v2.0/.well-known/openid-configuration"
    )))
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_tenant");
}

#[tokio::test]
async fn legacy_expires_on_can_be_epoch_seconds_for_azure_ml_clients() {
    let toml = format!(
        "legacy_expires_on = \"epoch\"\n{}",
        kvref_emulator::EmulatorConfig::sample_toml()
    );
    let emu = start_with(&toml).await;
    let (status, _, body) = app_service_get(&emu, "legacy_app_service", LEGACY_VAULT_QUERY).await;
    assert_eq!(status, 200);
    assert!(
        body["expires_on"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );
}
