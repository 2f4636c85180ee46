//! Properties of the reference grammar: parsing never panics, and the canonical form reparses to
//! the same reference.

use kvref::reference::{AllowedHosts, Reference};
use proptest::prelude::*;

fn vault_name() -> impl Strategy<Value = String> {
    "[a-zA-Z]([a-zA-Z0-9]|-[a-zA-Z0-9]){2,11}"
}

fn secret_name() -> impl Strategy<Value = String> {
    "[0-9a-zA-Z-]{1,127}"
}

fn version() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[0-9a-fA-F]{32}")
}

fn spaces() -> impl Strategy<Value = String> {
    "[ \t]{0,2}"
}

fn case_mix(text: &str, upper: bool) -> String {
    if upper {
        text.to_uppercase()
    } else {
        text.to_lowercase()
    }
}

/// A valid reference written in any of the accepted forms.
fn written_reference() -> impl Strategy<Value = String> {
    (
        vault_name(),
        secret_name(),
        version(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        spaces(),
        spaces(),
        prop::sample::select(vec![
            ".vault.azure.net",
            ".vault.azure.cn",
            ".vault.usgovcloudapi.net",
        ]),
    )
        .prop_map(
            |(vault, name, version, short, uri_form, upper, slash, s1, s2, suffix)| {
                let prefix = if short {
                    "@KeyVault("
                } else {
                    "@Microsoft.KeyVault("
                };
                let body = if uri_form {
                    let version = version.map(|v| format!("/{v}")).unwrap_or_default();
                    let slash = if slash { "/" } else { "" };
                    format!(
                        "{}{s1}={s2}https://{vault}{suffix}/secrets/{name}{version}{slash}",
                        case_mix("SecretUri", upper)
                    )
                } else {
                    let version = version
                        .map(|v| {
                            format!("{s1};{s2}{}{s1}={s2}{v}", case_mix("SecretVersion", upper))
                        })
                        .unwrap_or_default();
                    format!(
                        "{}{s1}={s2}{vault}{s1};{s2}{}={name}{version}",
                        case_mix("VaultName", upper),
                        case_mix("SecretName", !upper)
                    )
                };
                format!("{s1}{prefix}{s2}{body}{s1}){s2}")
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(value in any::<String>()) {
        let _ = Reference::parse(&value);
    }

    #[test]
    fn reference_like_strings_never_panic(
        prefix in prop::sample::select(vec!["@Microsoft.KeyVault(", "@KeyVault(", "@keyvault(", "@KeyVault"]),
        body in "[ -~\u{80}-\u{10ffff}]{0,80}",
        close in any::<bool>(),
    ) {
        let value = format!("{prefix}{body}{}", if close { ")" } else { "" });
        if let Err(e) = Reference::parse(&value) {
            // The column points inside the value (or just past its end).
            prop_assert!(e.column() >= 1 && e.column() <= value.chars().count() + 1);
        }
    }

    #[test]
    fn canonical_form_round_trips(written in written_reference()) {
        let parsed = Reference::parse(&written);
        prop_assert!(matches!(parsed, Ok(Some(_))), "{:?} -> {:?}", written, parsed);
        let reference = parsed.unwrap().unwrap();
        let canonical = reference.to_string();
        prop_assert_eq!(Reference::parse(&canonical), Ok(Some(reference.clone())));
        prop_assert!(AllowedHosts::default().is_allowed(reference.vault_host()));
    }

    #[test]
    fn allow_list_never_panics(host in any::<String>()) {
        let _ = AllowedHosts::default().is_allowed(&host);
    }
}
