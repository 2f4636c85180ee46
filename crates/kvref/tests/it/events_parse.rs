//! `kvref::events::parse` on the verbatim Azure samples of EVENTGRID.md (§1.4, §3.1), both
//! schemas, single and batch, the handshake, what is ignored, and what is refused; with a
//! property that no input makes it panic.

use http::HeaderMap;
use kvref::events::{
    Delivery, Event, EventKind, EventsError, SecretEvent, parse, parse_with_limit,
};
use proptest::prelude::*;

/// §1.4 (a): Event Grid schema, real, SecretNewVersionCreated, NBF/EXP numbers.
const REAL_NEW_VERSION: &str = r#"{
    "id": "39869b5c-6d56-404b-aab8-50ec200f93f8",
    "topic": "/subscriptions/***/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-vault",
    "subject": "TestSecret",
    "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
    "data": {
        "Id": "https://sample-vault.vault.azure.net/secrets/TestSecret/a9f4eab27ec64771ac1fb07d38fdbae2",
        "VaultName": "sample-vault",
        "ObjectType": "Secret",
        "ObjectName": "TestSecret",
        "Version": "a9f4eab27ec64771ac1fb07d38fdbae2",
        "NBF": 1627491993,
        "EXP": 1690563970
    },
    "dataVersion": "1",
    "metadataVersion": "1",
    "eventTime": "2021-07-28T17:08:38.2145376Z"
}"#;

/// §1.4 (b): real, no dates set (NBF/EXP null), redactions by the reporter.
const REAL_NULL_DATES: &str = "{
    \"id\":\"a8e0e366-5bdc-4a55-aadb-cb2b7c6ce26a\",
    \"topic\":\"<redacted>\",
    \"subject\":\"<redacted>\",
    \"eventType\":\"Microsoft.KeyVault.SecretNewVersionCreated\",
    \"data\":
    {
        \"Id\":\"<redacted>\",
\t\"VaultName\":\"<redacted>\",
\t\"ObjectType\":\"<redacted>\",
\t\"ObjectName\":\"<redacted>\",
\t\"Version\":\"<redacted>\",
\t\"NBF\":null,
\t\"EXP\":null
    },
    \"dataVersion\":\"1\",
    \"metadataVersion\":\"1\",
    \"eventTime\":\"2021-05-25T19:00:57.4662141Z\"
}";

/// §1.4 (c): real array as delivered, a certificate event (ignored).
const REAL_CERTIFICATE_ARRAY: &str = r#"[
  {
    "id": "1af41fa2-54b2-4b03-ba46-f5088ba709c7",
    "topic": "/subscriptions/4a570962-701a-475e-bf5b-8dc76ec748ff/resourceGroups/rg-shared-neu-001/providers/Microsoft.KeyVault/vaults/flazkv-shared-neu-001",
    "subject": "mycert13",
    "eventType": "Microsoft.KeyVault.CertificateNearExpiry",
    "data": {
      "Id": "https://flazkv-shared-neu-001.vault.azure.net/certificates/mycert13/89e4274cf92540479770a1178cce17ff",
      "VaultName": "flazkv-shared-neu-001",
      "ObjectType": "Certificate",
      "ObjectName": "mycert13",
      "Version": "89e4274cf92540479770a1178cce17ff",
      "NBF": 1745695048,
      "EXP": 1745702248
    },
    "dataVersion": "1",
    "metadataVersion": "1",
    "eventTime": "2025-04-26T19:29:34.4197223Z"
  }
]"#;

/// §1.4 (d): CloudEvents 1.0, doc/spec example, NBF/EXP as strings.
const DOC_CLOUDEVENT: &str = r#"{
  "source": "/subscriptions/{subscription-id}/resourceGroups/sample-rg/providers/Microsoft.KeyVault/vaults/sample-kv",
  "subject": "newsecret",
  "type": "Microsoft.KeyVault.SecretNewVersionCreated",
  "time": "2019-07-25T01:08:33.1036736Z",
  "id": "00eccf70-95a7-4e7c-8299-2eb17ee9ad64",
  "data": {
    "Id": "https://sample-kv.vault.azure.net/secrets/newsecret/ee059b2bb5bc48398a53b168c6cdcb10",
    "VaultName": "sample-kv",
    "ObjectType": "Secret",
    "ObjectName": "newsecret",
    "Version": "ee059b2bb5bc48398a53b168c6cdcb10",
    "NBF": "1559081980",
    "EXP": "1559082102"
  },
  "specversion": "1.0"
}"#;

/// §1.4 (e): CloudEvents 1.0, real but re-serialised, a certificate event (ignored).
const REAL_CERTIFICATE_CLOUDEVENT: &str = r#"{
  "id": "51739d81-c68c-436b-a28c-52ebe1ebb37f",
  "source": "/subscriptions/4a570962-701a-475e-bf5b-8dc76ec748ff/resourceGroups/rg-shared-neu-001/providers/Microsoft.KeyVault/vaults/flazkv-shared-neu-001",
  "specversion": "1.0",
  "type": "Microsoft.KeyVault.CertificateNearExpiry",
  "subject": "mycert05",
  "time": "2025-06-08T17:45:12.2205855Z",
  "data": {
    "Id": "https://flazkv-shared-neu-001.vault.azure.net/certificates/mycert05/5ec09ca501b24923ae958493c9b136fd",
    "VaultName": "flazkv-shared-neu-001",
    "ObjectType": "Certificate",
    "ObjectName": "mycert05",
    "Version": "5ec09ca501b24923ae958493c9b136fd",
    "NBF": 1749403975,
    "EXP": 1749411175
  }
}"#;

/// §3.1: the validation event, verbatim.
const DOC_VALIDATION: &str = r#"[
  {
    "id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
    "topic": "/subscriptions/xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    "subject": "",
    "data": {
      "validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
      "validationUrl": "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/myeventsub/validate?id=0000000000-0000-0000-0000-00000000000000&t=2022-10-28T04:23:35.1981776Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"
    },
    "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
    "eventTime": "2022-10-28T04:23:35.1981776Z",
    "metadataVersion": "1",
    "dataVersion": "1"
  }
]"#;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("header value"));
    }
    map
}

fn notification(content_type: &str) -> HeaderMap {
    headers(&[
        ("aeg-event-type", "Notification"),
        ("content-type", content_type),
    ])
}

const EVENT_GRID: &str = "application/json; charset=utf-8";
const CLOUDEVENTS: &str = "application/cloudevents+json; charset=utf-8";

fn events(delivery: Result<Delivery, EventsError>) -> Vec<Event> {
    match delivery {
        Ok(Delivery::Events(events)) => events,
        other => panic!("expected events, got {other:?}"),
    }
}

fn secret(kind: &EventKind) -> &SecretEvent {
    match kind {
        EventKind::SecretNewVersionCreated(s)
        | EventKind::SecretNearExpiry(s)
        | EventKind::SecretExpired(s) => s,
        other => panic!("expected a secret event, got {other:?}"),
    }
}

#[test]
fn the_real_event_grid_sample_as_delivered_in_an_array() {
    let body = format!("[{REAL_NEW_VERSION}]");
    let events = events(parse(&notification(EVENT_GRID), body.as_bytes()));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "39869b5c-6d56-404b-aab8-50ec200f93f8");
    let EventKind::SecretNewVersionCreated(s) = &events[0].kind else {
        panic!("{:?}", events[0].kind)
    };
    assert_eq!(s.vault, "sample-vault.vault.azure.net");
    assert_eq!(s.name, "TestSecret");
    assert_eq!(
        s.version.as_deref(),
        Some("a9f4eab27ec64771ac1fb07d38fdbae2")
    );
    assert_eq!(
        (s.not_before, s.expires),
        (Some(1627491993), Some(1690563970))
    );
    assert!(s.is_secret("SAMPLE-VAULT.vault.azure.net", "sample-vault", "testsecret"));
    assert!(!s.is_secret("other.vault.azure.net", "sample-vault", "TestSecret"));
}

#[test]
fn null_dates_and_redacted_fields_are_read_leniently() {
    let body = format!("[{REAL_NULL_DATES}]");
    let events = events(parse(&notification(EVENT_GRID), body.as_bytes()));
    let s = secret(&events[0].kind);
    // No URL in `Id`: the vault is known by name only.
    assert_eq!(
        (s.vault.as_str(), s.name.as_str()),
        ("<redacted>", "<redacted>")
    );
    assert_eq!((s.not_before, s.expires), (None, None));
}

#[test]
fn a_certificate_event_is_ignored_not_refused() {
    let events = events(parse(
        &notification(EVENT_GRID),
        REAL_CERTIFICATE_ARRAY.as_bytes(),
    ));
    assert_eq!(
        events[0].kind,
        EventKind::Ignored {
            event_type: "Microsoft.KeyVault.CertificateNearExpiry".into()
        }
    );
    let events = events_of_cloudevent(REAL_CERTIFICATE_CLOUDEVENT);
    assert!(matches!(events[0].kind, EventKind::Ignored { .. }));
}

fn events_of_cloudevent(body: &str) -> Vec<Event> {
    events(parse(&notification(CLOUDEVENTS), body.as_bytes()))
}

#[test]
fn a_single_cloudevent_with_string_dates() {
    let events = events_of_cloudevent(DOC_CLOUDEVENT);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "00eccf70-95a7-4e7c-8299-2eb17ee9ad64");
    let s = secret(&events[0].kind);
    assert_eq!(s.vault, "sample-kv.vault.azure.net");
    assert_eq!(s.name, "newsecret");
    assert_eq!(
        s.version.as_deref(),
        Some("ee059b2bb5bc48398a53b168c6cdcb10")
    );
    assert_eq!(
        (s.not_before, s.expires),
        (Some(1559081980), Some(1559082102))
    );
}

#[test]
fn batches_in_both_schemas_keep_their_order() {
    let batch = format!("[{REAL_NEW_VERSION}, {REAL_NULL_DATES}, {REAL_NEW_VERSION}]");
    assert_eq!(
        events(parse(&notification(EVENT_GRID), batch.as_bytes())).len(),
        3
    );
    let batch = format!("[{DOC_CLOUDEVENT}, {REAL_CERTIFICATE_CLOUDEVENT}]");
    let ce = events(parse(
        &notification("application/cloudevents-batch+json; charset=UTF-8"),
        batch.as_bytes(),
    ));
    assert_eq!(ce.len(), 2);
    assert!(matches!(ce[0].kind, EventKind::SecretNewVersionCreated(_)));
    assert!(matches!(ce[1].kind, EventKind::Ignored { .. }));
    // The docs' CloudEvents sample wrapped in an array, with no header at all: by shape.
    let wrapped = format!("[{DOC_CLOUDEVENT}]");
    assert_eq!(
        events(parse(&HeaderMap::new(), wrapped.as_bytes())).len(),
        1
    );
}

#[test]
fn the_validation_event_gives_its_code_and_url() {
    let delivery = parse(
        &headers(&[
            ("aeg-event-type", "SubscriptionValidation"),
            ("content-type", EVENT_GRID),
        ]),
        DOC_VALIDATION.as_bytes(),
    )
    .unwrap();
    let Delivery::Validation { code, url } = delivery else {
        panic!("{delivery:?}")
    };
    assert_eq!(
        code.as_deref(),
        Some("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")
    );
    assert!(
        url.unwrap()
            .starts_with("https://rp-eastus2.eventgrid.azure.net:553/")
    );
    // Found by its event type even when the header is missing.
    assert!(matches!(
        parse(&HeaderMap::new(), DOC_VALIDATION.as_bytes()),
        Ok(Delivery::Validation { .. })
    ));
    // The header without a validation event is refused.
    let body = format!("[{REAL_NEW_VERSION}]");
    assert_eq!(
        parse(
            &headers(&[("aeg-event-type", "SubscriptionValidation")]),
            body.as_bytes()
        ),
        Err(EventsError::NoValidationCode)
    );
}

#[test]
fn the_doc_samples_typos_camel_case_and_expiry_events_are_read() {
    // The docs' sample has "ObjectName " and " ee05…"; old docs are camelCase.
    let body = r#"[{"id": "e1", "eventType": "Microsoft.KeyVault.SecretNearExpiry", "subject": "s",
        "data": {"vaultName": "kv", "ObjectName ": "DbPassword", "Version":" ee059b", "exp": 1.5e9}},
        {"id": "e2", "eventType": "microsoft.keyvault.secretexpired", "subject": "Other",
        "topic": "/subscriptions/x/providers/Microsoft.KeyVault/vaults/kv2", "data": {}, "extra": [1]}]"#;
    let events = events(parse(&HeaderMap::new(), body.as_bytes()));
    let EventKind::SecretNearExpiry(s) = &events[0].kind else {
        panic!("{:?}", events[0].kind)
    };
    assert_eq!((s.vault.as_str(), s.name.as_str()), ("kv", "DbPassword"));
    assert_eq!(s.version.as_deref(), Some("ee059b"));
    assert_eq!(s.expires, Some(1_500_000_000));
    let EventKind::SecretExpired(s) = &events[1].kind else {
        panic!("{:?}", events[1].kind)
    };
    assert_eq!(
        (s.vault.as_str(), s.name.as_str(), s.version.as_deref()),
        ("kv2", "Other", None)
    );
}

#[test]
fn a_subscription_deletion_needs_no_body() {
    let h = headers(&[("aeg-event-type", "SubscriptionDeletion")]);
    assert_eq!(parse(&h, b""), Ok(Delivery::SubscriptionDeletion));
}

#[test]
fn oversized_non_json_and_malformed_bodies_are_refused() {
    let body = format!("[{REAL_NEW_VERSION}]");
    assert_eq!(
        parse_with_limit(&notification(EVENT_GRID), body.as_bytes(), 100),
        Err(EventsError::TooLarge { limit: 100 })
    );
    let big = vec![b' '; kvref::events::DEFAULT_MAX_BODY + 1];
    assert!(matches!(
        parse(&HeaderMap::new(), &big),
        Err(EventsError::TooLarge { .. })
    ));
    assert_eq!(
        parse(&notification("text/plain"), body.as_bytes()),
        Err(EventsError::UnsupportedMediaType)
    );
    for bad in ["", "42", "\"x\"", "[1]", "[{}, null]", "{", "[{\"id\": 1}"] {
        assert!(
            matches!(
                parse(&HeaderMap::new(), bad.as_bytes()),
                Err(EventsError::Malformed(_))
            ),
            "{bad}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No input panics the parser, however the headers say.
    #[test]
    fn no_input_panics(body in proptest::collection::vec(any::<u8>(), 0..2048),
                       aeg in "(Notification|SubscriptionValidation|SubscriptionDeletion|[a-z]{0,8})",
                       ct in "(application/json|application/cloudevents\\+json|[ -~]{0,20})") {
        let mut h = HeaderMap::new();
        if let Ok(v) = aeg.parse() { h.insert("aeg-event-type", v); }
        if let Ok(v) = ct.parse() { h.insert("content-type", v); }
        let _ = parse(&h, &body);
    }

    /// Events shaped like Azure's, with any values in their fields, never panic and never are
    /// refused: leniency on what Azure sends.
    #[test]
    fn any_field_values_in_an_event_shape_parse(
        id in any::<String>(), vault in any::<String>(), name in any::<String>(),
        version in any::<String>(), nbf in prop_oneof![Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)),
            any::<String>().prop_map(serde_json::Value::from)],
        cloudevents in any::<bool>(),
    ) {
        let type_key = if cloudevents { "type" } else { "eventType" };
        let event = serde_json::json!({
            "id": id, type_key: "Microsoft.KeyVault.SecretNewVersionCreated", "subject": name,
            "data": {"Id": format!("https://{vault}/secrets/{name}/{version}"), "VaultName": vault,
                     "ObjectName": name, "Version": version, "NBF": nbf, "EXP": nbf},
        });
        let body = serde_json::to_vec(&[event]).unwrap();
        let delivery = parse(&HeaderMap::new(), &body);
        prop_assert!(matches!(delivery, Ok(Delivery::Events(ref e)) if e.len() == 1), "{delivery:?}");
    }
}
