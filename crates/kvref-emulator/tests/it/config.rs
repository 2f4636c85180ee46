//! Configuration errors name the line; the sample is valid and seeds what the README promises.

use kvref_emulator::EmulatorConfig;

const BASE: &str = r#"tenant_id = "t"
[system_identity]
client_id = "c"
object_id = "o"
[[vaults]]
name = "myvault"
"#;

#[track_caller]
fn error_of(toml: &str) -> kvref_emulator::ConfigError {
    match EmulatorConfig::from_toml_str(toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e,
    }
}

#[test]
fn the_sample_is_valid() {
    let config = EmulatorConfig::sample();
    let vaults: Vec<&str> = config.vault_names().collect();
    assert_eq!(vaults.first(), Some(&"myvault"));
    assert!(vaults.len() >= 2);
    assert_eq!(
        EmulatorConfig::sample_toml(),
        include_str!("../../../../examples/emulator.toml")
    );
}

#[test]
fn unknown_fields_name_their_line() {
    let e = error_of(&format!("{BASE}colour = \"blue\"\n"));
    assert_eq!(e.line(), Some(7), "{e}");
    assert!(e.to_string().starts_with("line 7: "), "{e}");
    assert!(e.to_string().contains("colour"), "{e}");

    let e = error_of(
        "tenant_id = \"t\"\n[system_identity]\nclient_id = \"c\"\nobject_id = \"o\"\nclientid = \"x\"\n",
    );
    assert_eq!(e.line(), Some(5), "{e}");
}

#[test]
fn duplicate_vaults_name_the_second_line() {
    let e = error_of(&format!("{BASE}[[vaults]]\nname = \"MyVault\"\n"));
    assert_eq!(e.line(), Some(8), "{e}");
    assert!(e.message().contains("duplicate vault"), "{e}");
}

#[test]
fn bad_secret_names_name_their_line() {
    let e = error_of(&format!("{BASE}[[vaults.secrets]]\nname = \"bad_name\"\n"));
    assert_eq!(e.line(), Some(8), "{e}");
    assert!(
        e.message().contains("bad_name") && e.message().contains("myvault"),
        "{e}"
    );
}

#[test]
fn semantic_errors_name_their_line() {
    for (extra, line, needle) in [
        (
            "[[role_assignments]]\nprincipal = \"ghost\"\nvault = \"myvault\"\nrole = \"Key Vault Secrets User\"\n",
            8,
            "unknown principal",
        ),
        (
            "[[role_assignments]]\nprincipal = \"system\"\nvault = \"nowhere\"\nrole = \"Key Vault Secrets User\"\n",
            9,
            "unknown vault",
        ),
        (
            "[[role_assignments]]\nprincipal = \"system\"\nvault = \"myvault\"\nrole = \"Owner\"\n",
            10,
            "unknown role",
        ),
        ("[[vaults]]\nname = \"x\"\n", 8, "not valid"),
        (
            "[[vaults.secrets]]\nname = \"s\"\n[[vaults.secrets.versions]]\nvalue = \"v\"\nversion = \"XYZ\"\n",
            11,
            "32 lowercase hex",
        ),
        (
            "[[user_assigned_identities]]\nname = \"u\"\nclient_id = \"c\"\nobject_id = \"o2\"\n",
            9,
            "duplicate client_id",
        ),
    ] {
        let e = error_of(&format!("{BASE}{extra}"));
        assert_eq!(e.line(), Some(line), "{e}");
        assert!(e.message().contains(needle), "{e}");
    }
}

#[test]
fn errors_never_contain_secret_values() {
    let e = error_of(&format!(
        "{BASE}[[vaults.secrets]]\nname = \"bad name\"\n[[vaults.secrets.versions]]\nvalue = \"hunter2-value\"\n"
    ));
    assert!(!e.to_string().contains("hunter2"));
    // A type error: toml (through serde) would quote the value itself.
    for (value, quoted) in [
        ("12345678", "12345678"),
        ("[\"hunter2-in-a-list\"]", "hunter2"),
    ] {
        let e = error_of(&format!(
            "{BASE}[[vaults.secrets]]\nname = \"ok\"\n[[vaults.secrets.versions]]\nvalue = {value}\n"
        ));
        let text = e.to_string();
        assert!(text.contains("invalid type"), "{text}");
        assert!(e.line().is_some(), "{text}");
        assert!(!text.contains(quoted), "{text}");
    }
    let config = EmulatorConfig::sample();
    assert!(!format!("{config:?}").contains("from-the-emulator"));
}
