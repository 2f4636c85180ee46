//! Entry points for fuzzing the parsers of outside data (fuzz/) and their proptest twins (below).
//!
//! Each function takes any bytes, runs one parser on them and panics only when a property fails:
//! the parser must give a value or an error, its error must be bounded in size and must not
//! quote what it refused (a body that failed to parse may still hold a token or a secret).
//! Built only with the `fuzzing` feature or for kvref's own tests; never part of the API.

use jiff::Timestamp;

use crate::credential::{self, ServicesAuthConnectionString};
use crate::reference::Reference;
use crate::vault::{self, Challenge};

/// The longest error or description a parser may give for any input, in bytes. Parsers quote at
/// most a few bounded fragments (a host, a name, a key), so anything longer is unbounded output.
pub const MAX_MESSAGE: usize = 2048;

/// A token value no input contains unless the fuzzer writes it: errors must never show it.
const PLANTED: &str = "planted-token-0123456789";

fn bounded(what: &str, message: &str) {
    assert!(
        message.len() <= MAX_MESSAGE,
        "{what}: a message of {} bytes for one input",
        message.len()
    );
}

/// A token response of any identity source (IMDS, App Service, Arc, Cloud Shell, Service
/// Fabric and Entra share one parser), an identity endpoint's error body, and the developer
/// tools' outputs (`az account get-access-token`, `azd auth token`).
pub fn token_response(data: &[u8]) {
    let now = Timestamp::from_second(1_700_000_000).expect("a valid timestamp");
    match credential::parse_token_response(data, now) {
        Ok(token) => {
            assert!(!token.secret().is_empty(), "an empty token was accepted");
            assert!(token.expires_on() > now, "an expired token was accepted");
        }
        Err(error) => bounded("token response", &error.0),
    }
    // The same body with a planted token: whatever else is wrong, the error must not show it.
    let planted = plant(data, "access_token");
    let names_it = String::from_utf8_lossy(data).contains(PLANTED);
    if let Err(error) = credential::parse_token_response(&planted, now)
        && !names_it
    {
        assert!(!error.0.contains(PLANTED), "the error quotes the token");
    }
    if let Some(description) = credential::describe_error_body(data) {
        bounded("identity error body", &description);
        assert!(!description.contains('\n'), "a description spans lines");
    }
    let env = crate::Env::from_pairs([("TZ", "UTC")]);
    for output in [
        credential::parse_az_output(data, &env),
        credential::parse_azd_output(data),
    ] {
        match output {
            Ok(token) => assert!(!token.secret().is_empty(), "an empty token was accepted"),
            Err(message) => bounded("developer tool output", &message),
        }
    }
}

/// A Key Vault answer: the first byte picks the reference asked for (versionless or pinned) and
/// whether the answer is a 200 `SecretBundle` or an error body; the rest is the body.
pub fn vault_body(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let reference = if selector & 1 == 0 {
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/)"
    } else {
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/ec96f02080254f109c51a1f14cdb1931)"
    };
    let reference = Reference::parse(reference)
        .expect("a valid reference")
        .expect("a reference");
    match vault::parse_secret(body, &reference) {
        Ok(secret) => {
            let id = url::Url::parse(secret.id()).expect("an accepted id is a URL");
            assert_eq!(
                id.host_str(),
                Some(reference.vault_host()),
                "a secret of another vault was accepted"
            );
            if let Some(version) = secret.version() {
                assert_eq!(version.len(), 32, "a version that is not 32 hex digits");
            }
            if let Some(pinned) = reference.version() {
                assert_eq!(
                    secret.version(),
                    Some(pinned),
                    "another version was accepted"
                );
            }
        }
        Err(error) => bounded("secret body", &error.to_string()),
    }
    // The same answer with a planted value: whatever else is wrong, the error must not show it.
    let names_it = String::from_utf8_lossy(body).contains(PLANTED);
    if let Err(error) = vault::parse_secret(&plant(body, "value"), &reference)
        && !names_it
    {
        assert!(
            !error.to_string().contains(PLANTED),
            "the error shows the secret value"
        );
    }
    let parsed = vault::ServiceError::parse(body, Some(PLANTED));
    let fields = [&parsed.code, &parsed.inner_code, &parsed.message];
    for text in fields.into_iter().flatten() {
        assert!(
            text.len() <= 4 * 4096 + 16,
            "a service text of {} bytes",
            text.len()
        );
        assert!(!text.contains(PLANTED), "the token sent is shown");
        assert!(
            !text.chars().any(char::is_control),
            "a control character is shown"
        );
    }
}

/// A `WWW-Authenticate` header: the challenge must name a scope, and only a vault host under the
/// audience it names may pass `verify`.
pub fn www_authenticate(data: &[u8]) {
    let header = String::from_utf8_lossy(data);
    match Challenge::parse(&header) {
        Ok(challenge) => {
            assert!(
                challenge.scope().ends_with("/.default"),
                "a scope without /.default"
            );
            for host in ["myvault.vault.azure.net", "vault.azure.net", "evil.example"] {
                if challenge.verify(host).is_ok() {
                    let audience = challenge.scope().trim_end_matches("/.default");
                    let audience = audience.trim_start_matches("https://");
                    assert!(
                        host.ends_with(&format!(".{audience}")),
                        "{host} passed for the audience {audience}"
                    );
                }
            }
        }
        Err(error) => bounded("challenge", &error.to_string()),
    }
}

/// `AzureServicesAuthConnectionString`: errors name keys, never values, and `Debug` hides values.
pub fn connection_string(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(error) = ServicesAuthConnectionString::parse(text) {
        bounded("connection string", &error.to_string());
    }
    // The same text with a planted AppKey: neither its Debug nor its error may show it (unless
    // the text itself names it, as libFuzzer's comparison hints soon make it do, in any case:
    // key names are shown lower-cased).
    if text
        .to_ascii_lowercase()
        .contains(&PLANTED.to_ascii_lowercase())
    {
        return;
    }
    let planted = format!("AppKey={PLANTED};{text}");
    let shown = match ServicesAuthConnectionString::parse(&planted) {
        Ok(parsed) => format!("{parsed:?}"),
        Err(error) => error.to_string(),
    };
    assert!(!shown.contains(PLANTED), "the AppKey is shown");
}

/// `body` with `field` set to [`PLANTED`], when it is a JSON object; else a JSON object holding
/// the planted value and the body's text under another field.
fn plant(body: &[u8], field: &str) -> Vec<u8> {
    let mut value = serde_json::from_slice::<serde_json::Value>(body).unwrap_or_else(|_| {
        serde_json::json!({ "expires_on": String::from_utf8_lossy(body), "id": String::from_utf8_lossy(body) })
    });
    if let Some(object) = value.as_object_mut() {
        object.insert(field.into(), PLANTED.into());
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// JSON-ish text: the shapes the parsers look for, with any values, so that proptest reaches
    /// past `serde_json`'s first error.
    fn json_like() -> impl Strategy<Value = Vec<u8>> {
        let key = prop_oneof![
            Just("access_token"),
            Just("expires_on"),
            Just("expires_in"),
            Just("refresh_in"),
            Just("value"),
            Just("id"),
            Just("error"),
            Just("message"),
            Just("innererror"),
            Just("code"),
            Just("accessToken"),
            Just("token"),
            Just("expiresOn"),
            Just("contentType"),
        ];
        let value = prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            ".{0,40}".prop_map(|s| serde_json::Value::String(s).to_string()),
            Just(
                "\"https://myvault.vault.azure.net/secrets/Db/ec96f02080254f109c51a1f14cdb1931\""
                    .to_owned()
            ),
            Just(
                "{\"code\":\"Forbidden\",\"innererror\":{\"code\":\"SecretDisabled\"}}".to_owned()
            ),
            Just("null".to_owned()),
        ];
        proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
            let fields: Vec<String> = pairs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", fields.join(",")).into_bytes()
        })
    }

    fn any_input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            ".{0,300}".prop_map(String::into_bytes),
            json_like(),
        ]
    }

    /// The inputs libFuzzer found that name the planted value themselves (a key, a table name):
    /// the harness, not the parser, was wrong; they stay as regression inputs.
    #[test]
    fn inputs_that_name_the_planted_value_are_no_leak() {
        connection_string(b" planted-token-0123456789&='\n\n    .");
        connection_string(b"\x1a\x1a\x1a\x01\x1apLanted-token-0123456789\x1a\x1a\x1a\x1a\x1a\x1a\x1f\0=;runas=\x08");
        token_response(br#"{"planted-token-0123456789": 1}"#);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn token_responses_never_panic_and_stay_bounded(input in any_input()) {
            token_response(&input);
        }

        #[test]
        fn vault_bodies_never_panic_and_stay_bounded(selector in any::<u8>(), input in any_input()) {
            let mut data = vec![selector];
            data.extend(input);
            vault_body(&data);
        }

        #[test]
        fn challenges_never_panic_and_only_verify_their_audience(
            input in prop_oneof![
                ".{0,200}".prop_map(String::into_bytes),
                (".{0,30}", "[a-z.]{0,30}", ".{0,30}").prop_map(|(a, host, b)| {
                    format!("Bearer {a}resource=\"https://{host}\", authorization=\"{b}\"").into_bytes()
                }),
            ]
        ) {
            www_authenticate(&input);
        }

        #[test]
        fn connection_strings_never_panic_or_show_values(
            input in prop_oneof![
                ".{0,200}",
                proptest::collection::vec(("[A-Za-z]{0,10}", "[^;]{0,20}"), 0..5).prop_map(|pairs| {
                    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";")
                }),
            ]
        ) {
            connection_string(input.as_bytes());
        }
    }
}
