//! The proptest twin of the `emulator_config` fuzz target: any text gives a configuration or a
//! bounded error, never a panic, and text appended to a configuration that holds a secret value
//! never makes an error show that value.

use kvref_emulator::EmulatorConfig;
use proptest::prelude::*;

const PLANTED: &str = "planted-secret-0123456789";

fn around(text: &str) -> String {
    format!(
        "{}\n{text}",
        EmulatorConfig::sample_toml().replace("db-password-from-the-emulator", PLANTED)
    )
}

/// TOML-ish lines: the keys and tables the configuration has, with any values.
fn toml_like() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("value"),
        Just("name"),
        Just("enabled"),
        Just("tenant_id"),
        Just("requests"),
        Just("principal"),
        Just("role"),
        Just("vault"),
        Just("content_type"),
        Just("version"),
    ];
    let value = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        ".{0,20}".prop_map(|s| format!("{s:?}")),
        Just("true".to_owned()),
        Just("[1, \"x\"]".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ];
    let table = prop_oneof![
        Just(""),
        Just("[[vaults]]\n"),
        Just("[[vaults.secrets]]\n"),
        Just("[throttle]\n"),
        Just("[[role_assignments]]\n"),
        Just("[[vaults.secrets.versions]]\n"),
    ];
    proptest::collection::vec((table, key, value), 0..6).prop_map(|lines| {
        lines
            .iter()
            .map(|(t, k, v)| format!("{t}{k} = {v}\n"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_is_a_configuration_or_a_bounded_error(text in prop_oneof![".{0,300}", toml_like()]) {
        if let Err(error) = EmulatorConfig::from_toml_str(&text) {
            prop_assert!(error.message().len() <= 4096);
        }
    }

    #[test]
    fn errors_never_show_the_secret_value_of_the_configuration(text in prop_oneof![".{0,200}", toml_like()]) {
        if let Err(error) = EmulatorConfig::from_toml_str(&around(&text)) {
            prop_assert!(!error.to_string().contains(PLANTED), "{}", error);
        }
    }
}

/// The input the fuzz target found: a table named after the planted value, which the error then
/// names. The text, not the configuration, held the value: no leak, and no panic.
#[test]
fn a_table_named_after_the_value_is_only_named_back() {
    let error =
        EmulatorConfig::from_toml_str(&around("[42planted-secret-01234567892]")).unwrap_err();
    assert!(error.line().is_some(), "{error}");
}
