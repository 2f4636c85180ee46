//! The requests sent both ways, and the comparison of the answers.

use std::net::SocketAddr;

use kvref::events::EVENT_GRID_APP_ID;
use kvref::events::Webhook;
use kvref_emulator::Emulator;
use serde_json::json;

use crate::servers::PATH;
use crate::{APP_ID, MAX_BODY, Recorder};

/// The secret accepted in the `code` query parameter.
pub(crate) const QUERY_SECRET: &str = "query-secret-of-the-adapter-tests";
/// The secret accepted in the `x-delivery-secret` header.
pub(crate) const HEADER_SECRET: &str = "header-secret-of-the-adapter-tests";

/// One request, and the status it must get.
struct Case {
    name: &'static str,
    method: &'static str,
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    /// `(vault host, secret, version)` of the events the webhook must hand on.
    pushed: Vec<(&'static str, &'static str, &'static str)>,
}

fn validation() -> Vec<u8> {
    json!([{
        "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
        "topic": "/subscriptions/xx/resourceGroups/kvref-rg/providers/Microsoft.KeyVault/vaults/myvault",
        "subject": "",
        "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": "2018-01-25T22:12:19.4556811Z",
        "metadataVersion": "1",
        "dataVersion": "1"
    }])
    .to_string()
    .into_bytes()
}

fn new_version(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "topic": "/subscriptions/xx/resourceGroups/kvref-rg/providers/Microsoft.KeyVault/vaults/myvault",
        "subject": "DbPassword",
        "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "data": {
            "Id": "https://myvault.vault.azure.net/secrets/DbPassword/a9f4eab27ec64771ac1fb07d38fdbae2",
            "VaultName": "myvault", "ObjectType": "Secret", "ObjectName": "DbPassword",
            "Version": "a9f4eab27ec64771ac1fb07d38fdbae2", "NBF": 1627491993, "EXP": null
        },
        "dataVersion": "1", "metadataVersion": "1", "eventTime": "2021-07-28T17:08:38.2145376Z"
    })
}

fn cloud_event() -> Vec<u8> {
    json!({
        "specversion": "1.0", "id": "ce-1", "type": "Microsoft.KeyVault.SecretNewVersionCreated",
        "source": "/subscriptions/xx/resourceGroups/kvref-rg/providers/Microsoft.KeyVault/vaults/myvault",
        "subject": "ApiKey", "time": "2021-07-28T17:08:38.2145376Z",
        "data": {
            "Id": "https://myvault.vault.azure.net/secrets/ApiKey/0123456789abcdef0123456789abcdef",
            "VaultName": "myvault", "ObjectType": "Secret", "ObjectName": "ApiKey",
            "Version": "0123456789abcdef0123456789abcdef", "NBF": null, "EXP": null
        }
    })
    .to_string()
    .into_bytes()
}

fn token(emulator: &Emulator) -> String {
    let now = jiff::Timestamp::now().as_second();
    let tenant = emulator.tenant_id();
    emulator.sign_entra_token(&json!({
        "aud": APP_ID, "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now, "nbf": now, "exp": now + 3600, "appid": EVENT_GRID_APP_ID, "tid": tenant,
    }))
}

fn cases(emulator: &Emulator) -> Vec<Case> {
    let json = ("content-type", "application/json".to_owned());
    let notification = ("aeg-event-type", "Notification".to_owned());
    let subscription_validation = ("aeg-event-type", "SubscriptionValidation".to_owned());
    let case = |name, method, query: &str, headers, body: Vec<u8>, status| Case {
        name,
        method,
        query: query.to_owned(),
        headers,
        body,
        status,
        pushed: Vec::new(),
    };
    vec![
        case(
            "no credential",
            "POST",
            "",
            vec![json.clone(), notification.clone()],
            new_version("a").to_string().into_bytes(),
            401,
        ),
        case(
            "wrong query secret",
            "POST",
            "?code=guess",
            vec![json.clone(), subscription_validation.clone()],
            validation(),
            401,
        ),
        case(
            "handshake",
            "OPTIONS",
            "",
            vec![("webhook-request-origin", "eventgrid.azure.net".into())],
            Vec::new(),
            200,
        ),
        case(
            "handshake, other origin",
            "OPTIONS",
            "",
            vec![("webhook-request-origin", "evil.example".into())],
            Vec::new(),
            403,
        ),
        case("GET", "GET", "", Vec::new(), Vec::new(), 405),
        case(
            "validation, secret in the query",
            "POST",
            &format!("?api=1&code={QUERY_SECRET}"),
            vec![json.clone(), subscription_validation.clone()],
            validation(),
            200,
        ),
        case(
            "validation, secret in a header",
            "POST",
            "",
            vec![
                json.clone(),
                subscription_validation,
                ("x-delivery-secret", HEADER_SECRET.into()),
            ],
            validation(),
            200,
        ),
        case(
            "not JSON",
            "POST",
            &format!("?code={QUERY_SECRET}"),
            vec![json.clone(), notification.clone()],
            b"{not json".to_vec(),
            400,
        ),
        case(
            "over the body limit",
            "POST",
            &format!("?code={QUERY_SECRET}"),
            vec![json.clone(), notification.clone()],
            vec![b' '; MAX_BODY + 1],
            413,
        ),
        Case {
            pushed: vec![
                (
                    "myvault.vault.azure.net",
                    "DbPassword",
                    "a9f4eab27ec64771ac1fb07d38fdbae2"
                );
                2
            ],
            ..case(
                "Entra token, a batch",
                "POST",
                "",
                vec![
                    json,
                    notification,
                    ("authorization", format!("Bearer {}", token(emulator))),
                ],
                json!([new_version("b1"), new_version("b2")])
                    .to_string()
                    .into_bytes(),
                200,
            )
        },
        Case {
            pushed: vec![(
                "myvault.vault.azure.net",
                "ApiKey",
                "0123456789abcdef0123456789abcdef",
            )],
            ..case(
                "a CloudEvent, secret in a header",
                "POST",
                "",
                vec![
                    (
                        "content-type",
                        "application/cloudevents+json; charset=utf-8".into(),
                    ),
                    ("x-delivery-secret", HEADER_SECRET.into()),
                ],
                cloud_event(),
                200,
            )
        },
    ]
}

/// Sends every case over HTTP to `addr` and directly to `webhook`, and compares.
pub(crate) async fn run(
    emulator: &Emulator,
    webhook: &Webhook,
    recorder: &Recorder,
    addr: SocketAddr,
) {
    let client = reqwest::Client::new();
    for case in cases(emulator) {
        let name = case.name;
        let url = format!("http://{addr}{PATH}{}", case.query);
        let mut request = client.request(case.method.parse().unwrap(), &url);
        for (header, value) in &case.headers {
            request = request.header(*header, value);
        }
        let response = request.body(case.body.clone()).send().await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let body = response.bytes().await.unwrap().to_vec();
        let pushed_over_http = recorder.take();

        let mut direct = http::Request::builder()
            .method(case.method)
            .uri(format!("{PATH}{}", case.query));
        for (header, value) in &case.headers {
            direct = direct.header(*header, value);
        }
        let direct = webhook
            .handle(&direct.body(case.body.clone()).unwrap())
            .await;
        let pushed_directly = recorder.take();

        assert_eq!(status, case.status, "{name}: the status over HTTP");
        assert_eq!(
            direct.status().as_u16(),
            case.status,
            "{name}: the status directly"
        );
        for (header, value) in direct.headers() {
            assert_eq!(
                headers.get(header.as_str()).map(|v| v.as_bytes()),
                Some(value.as_bytes()),
                "{name}: header {header}"
            );
        }
        assert_eq!(body, direct.body().as_slice(), "{name}: the body");
        let expected: Vec<_> = case
            .pushed
            .iter()
            .map(|(v, s, ver)| (v.to_string(), s.to_string(), Some(ver.to_string())))
            .collect();
        assert_eq!(
            pushed_over_http, expected,
            "{name}: the events handed on over HTTP"
        );
        assert_eq!(
            pushed_directly, expected,
            "{name}: the events handed on directly"
        );
    }
}
