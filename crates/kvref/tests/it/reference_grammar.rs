//! The reference grammar: every accepted form, and a table of malformed values with the column
//! and message each one must produce.

use kvref::reference::Reference;

const V: &str = "ec96f02080254f109c51a1f14cdb1931";

fn parse(value: &str) -> Reference {
    match Reference::parse(value) {
        Ok(Some(r)) => r,
        other => panic!("{value:?} should parse, got {other:?}"),
    }
}

#[test]
fn every_accepted_form_parses_to_the_same_reference() {
    let versionless =
        parse("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)");
    assert_eq!(versionless.vault_host(), "myvault.vault.azure.net");
    assert_eq!(versionless.vault_name(), "myvault");
    assert_eq!(versionless.secret_name(), "DbPassword");
    assert_eq!(versionless.version(), None);
    for form in [
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)",
        "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)",
        "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)",
        "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)",
        "@KeyVault(VaultName=myvault;SecretName=DbPassword)",
        "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;)",
        "@Microsoft.KeyVault(secretname=DbPassword;VAULTNAME=myvault)",
        "@Microsoft.KeyVault( VaultName = myvault ; SecretName = DbPassword )",
        "@Microsoft.KeyVault(\tSecretUri =\thttps://MyVault.VAULT.azure.net/secrets/DbPassword/ )",
        "  @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)\n",
        "@microsoft.keyvault(secreturi=HTTPS://myvault.vault.azure.net/SECRETS/DbPassword)",
    ] {
        assert_eq!(parse(form), versionless, "{form}");
    }

    let pinned = parse(&format!(
        "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/{V})"
    ));
    assert_eq!(pinned.version(), Some(V));
    for form in [
        format!(
            "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/{V}/)"
        ),
        format!(
            "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/{})",
            V.to_uppercase()
        ),
        format!("@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion={V})"),
        format!("@KeyVault(SecretVersion = {V}; SecretName = DbPassword; VaultName = myvault)"),
    ] {
        assert_eq!(parse(&form), pinned, "{form}");
    }
    assert_ne!(pinned, versionless);
}

#[test]
fn display_is_canonical_and_reparses() {
    let r = parse(&format!(
        "@KeyVault( vaultname=MyVault ; secretname=Db-1 ; secretversion={} )",
        V.to_uppercase()
    ));
    assert_eq!(
        r.to_string(),
        format!("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db-1/{V})")
    );
    assert_eq!(parse(&r.to_string()), r);
    assert_eq!(
        r.secret_url(),
        format!("https://myvault.vault.azure.net/secrets/Db-1/{V}")
    );
    assert_eq!(r.vault_url(), "https://myvault.vault.azure.net");
}

#[test]
fn other_clouds_and_configured_default_suffix() {
    for (uri, host) in [
        (
            "https://myvault.vault.azure.cn/secrets/Db",
            "myvault.vault.azure.cn",
        ),
        (
            "https://myvault.vault.usgovcloudapi.net/secrets/Db",
            "myvault.vault.usgovcloudapi.net",
        ),
        (
            "https://myvault.vault.example/secrets/Db",
            "myvault.vault.example",
        ),
    ] {
        assert_eq!(
            parse(&format!("@KeyVault(SecretUri={uri})")).vault_host(),
            host
        );
    }
    let china = Reference::parse_with_default_suffix(
        "@KeyVault(VaultName=myvault;SecretName=Db)",
        ".vault.azure.cn",
    )
    .unwrap()
    .unwrap();
    assert_eq!(china.vault_host(), "myvault.vault.azure.cn");
}

#[test]
fn names_at_the_limits() {
    let name127 = "a".repeat(127);
    assert_eq!(
        parse(&format!("@KeyVault(VaultName=abc;SecretName={name127})")).secret_name(),
        name127
    );
    assert_eq!(
        parse("@KeyVault(VaultName=abc;SecretName=-)").secret_name(),
        "-"
    );
    assert_eq!(
        parse("@KeyVault(VaultName=abc;SecretName=1)").secret_name(),
        "1"
    );
    assert_eq!(
        parse("@KeyVault(VaultName=abcdefghijklmnopqrstuvwx;SecretName=x)").vault_name(),
        "abcdefghijklmnopqrstuvwx"
    );
    assert_eq!(
        parse("@KeyVault(VaultName=a-b-c;SecretName=x)").vault_name(),
        "a-b-c"
    );
}

#[test]
fn values_that_are_not_references_are_not_errors() {
    for value in [
        "",
        "  ",
        "plain text",
        "https://myvault.vault.azure.net/secrets/Db",
        "SecretUri=https://myvault.vault.azure.net/secrets/Db",
        "prefix @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db)",
        "@",
        "@someone",
        "@KeyVaults",
        "@Microsoft.KeyVaultX(SecretUri=x)",
        "@Microsoft.Other(SecretUri=x)",
        "user@example.com",
    ] {
        assert_eq!(Reference::parse(value), Ok(None), "{value:?}");
    }
}

/// (value, column, message): every malformed value names where and what was expected.
#[test]
fn malformed_values_are_reported_with_position_and_expectation() {
    let long_name = format!(
        "@Microsoft.KeyVault(VaultName=myvault;SecretName={})",
        "a".repeat(128)
    );
    let cases: Vec<(String, usize, &str)> = vec![
        ("@Microsoft.KeyVault".into(), 20, "expected `(` after `@Microsoft.KeyVault`"),
        ("@KeyVault".into(), 10, "expected `(` after `@KeyVault`"),
        ("@KeyVault ".into(), 10, "expected `(` after `@KeyVault`"),
        ("@KeyVault (SecretUri=https://myvault.vault.azure.net/secrets/Db)".into(), 10, "expected `(` after `@KeyVault`, found a space"),
        ("@KeyVault[SecretUri=https://myvault.vault.azure.net/secrets/Db]".into(), 10, "expected `(` after `@KeyVault`, found `[`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db".into(), 73, "expected `)` to close the reference"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db) trailing".into(), 74, "unexpected text after `)`: a reference must be the whole value"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db))".into(), 74, "unexpected text after `)`: a reference must be the whole value"),
        ("@Microsoft.KeyVault()".into(), 21, "expected `SecretUri=…` or `VaultName=…;SecretName=…` inside the parentheses"),
        ("@Microsoft.KeyVault(   )".into(), 21, "expected `SecretUri=…` or `VaultName=…;SecretName=…` inside the parentheses"),
        ("@Microsoft.KeyVault(;)".into(), 21, "expected a parameter such as `SecretName=…` between `;` separators"),
        ("@Microsoft.KeyVault(VaultName=myvault;;SecretName=Db)".into(), 39, "expected a parameter such as `SecretName=…` between `;` separators"),
        ("@Microsoft.KeyVault(SecretUri)".into(), 30, "expected `=` after parameter name `SecretUri`"),
        ("@Microsoft.KeyVault(=https://myvault.vault.azure.net/secrets/Db)".into(), 21, "expected a parameter name before `=`"),
        ("@Microsoft.KeyVault(SecretUri=)".into(), 31, "expected a value after `SecretUri=`"),
        ("@Microsoft.KeyVault(SecretUri=   ;)".into(), 31, "expected a value after `SecretUri=`"),
        ("@Microsoft.KeyVault(Secret=Db)".into(), 21, "unknown parameter `Secret`; expected `SecretUri`, `VaultName`, `SecretName` or `SecretVersion`"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;Version=ec96f02080254f109c51a1f14cdb1931)".into(), 53, "unknown parameter `Version`; expected `SecretUri`, `VaultName`, `SecretName` or `SecretVersion`"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;vaultname=other)".into(), 53, "duplicate parameter `VaultName`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db;SecretUri=https://myvault.vault.azure.net/secrets/Db)".into(), 74, "duplicate parameter `SecretUri`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db;VaultName=myvault)".into(), 74, "`VaultName` cannot be combined with `SecretUri`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db;SecretVersion=ec96f02080254f109c51a1f14cdb1931)".into(), 74, "`SecretVersion` cannot be combined with `SecretUri`"),
        ("@Microsoft.KeyVault(VaultName=myvault)".into(), 38, "missing `SecretName`: `VaultName=` needs `SecretName=` too"),
        ("@Microsoft.KeyVault(SecretName=Db)".into(), 34, "missing `VaultName`: `SecretName=` needs `VaultName=` too (or use `SecretUri=`)"),
        ("@Microsoft.KeyVault(SecretName=Db;SecretVersion=ec96f02080254f109c51a1f14cdb1931)".into(), 81, "missing `VaultName`: `SecretName=` needs `VaultName=` too (or use `SecretUri=`)"),
        ("@Microsoft.KeyVault(VaultName=myvault.vault.azure.net;SecretName=Db)".into(), 38, "`VaultName` takes the vault's name (such as `myvault`), not a host or URL; use `SecretUri=` for a full URL"),
        ("@Microsoft.KeyVault(VaultName=https://myvault;SecretName=Db)".into(), 36, "`VaultName` takes the vault's name (such as `myvault`), not a host or URL; use `SecretUri=` for a full URL"),
        ("@Microsoft.KeyVault(VaultName=mv;SecretName=Db)".into(), 31, "vault names are 3 to 24 characters long, this one has 2"),
        ("@Microsoft.KeyVault(VaultName=abcdefghijklmnopqrstuvwxy;SecretName=Db)".into(), 31, "vault names are 3 to 24 characters long, this one has 25"),
        ("@Microsoft.KeyVault(VaultName=1vault;SecretName=Db)".into(), 31, "vault names must start with a letter"),
        ("@Microsoft.KeyVault(VaultName=my--vault;SecretName=Db)".into(), 33, "vault names may not contain consecutive hyphens"),
        ("@Microsoft.KeyVault(VaultName=myvault-;SecretName=Db)".into(), 38, "vault names may not end with a hyphen"),
        ("@Microsoft.KeyVault(VaultName=my_vault;SecretName=Db)".into(), 33, "vault names may contain only letters, digits and `-`, found `_`"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db_Password)".into(), 52, "secret names may contain only letters, digits and `-`, found `_`"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db Password)".into(), 52, "secret names may contain only letters, digits and `-`, found a space"),
        (long_name.clone(), 177, "secret names are at most 127 characters long, this one has 128"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;SecretVersion=abc)".into(), 67, "expected a 32-digit hexadecimal secret version, found 3 digits"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;SecretVersion=ec96f02080254f109c51a1f14cdb193z)".into(), 98, "expected a 32-digit hexadecimal secret version, found `z`"),
        ("@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;SecretVersion=ec96f02080254f109c51a1f14cdb19311)".into(), 67, "expected a 32-digit hexadecimal secret version, found 33 digits"),
        ("@Microsoft.KeyVault(SecretUri=http://myvault.vault.azure.net/secrets/Db)".into(), 31, "Key Vault is reached only over https: expected `https://`, found `http://`"),
        ("@Microsoft.KeyVault(SecretUri=ftp://myvault.vault.azure.net/secrets/Db)".into(), 31, "expected a URL starting with `https://`"),
        ("@Microsoft.KeyVault(SecretUri=myvault.vault.azure.net/secrets/Db)".into(), 31, "expected a URL starting with `https://`"),
        ("@Microsoft.KeyVault(SecretUri=https:///secrets/Db)".into(), 39, "expected the vault host after `https://`"),
        ("@Microsoft.KeyVault(SecretUri=https://user:pw@myvault.vault.azure.net/secrets/Db)".into(), 39, "a user name or password (`…@`) is not allowed in a vault URL"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net:443/secrets/Db)".into(), 62, "a port is not allowed in a vault URL: expected `/secrets/` after the host"),
        ("@Microsoft.KeyVault(SecretUri=https://127.0.0.1:8443/secrets/Db)".into(), 39, "an IP address is not allowed as a vault host: expected `{vault}.vault.azure.net` or another vault host"),
        ("@Microsoft.KeyVault(SecretUri=https://[::1]/secrets/Db)".into(), 39, "an IP address is not allowed as a vault host: expected `{vault}.vault.azure.net` or another vault host"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net./secrets/Db)".into(), 62, "a trailing dot is not allowed in the vault host"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault..vault.azure.net/secrets/Db)".into(), 47, "expected a host name label, found `.`"),
        ("@Microsoft.KeyVault(SecretUri=https://.vault.azure.net/secrets/Db)".into(), 39, "expected a host name label, found `.`"),
        ("@Microsoft.KeyVault(SecretUri=https://my_vault.vault.azure.net/secrets/Db)".into(), 41, "expected a host name (letters, digits, `-` and `.`), found `_`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net)".into(), 62, "expected `/secrets/{name}` after the vault host"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/)".into(), 63, "expected `/secrets/` after the vault host (only secrets can be referenced)"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/keys/Db)".into(), 63, "expected `/secrets/` after the vault host (only secrets can be referenced)"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets)".into(), 70, "expected `/` and a secret name after `/secrets`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/)".into(), 71, "expected a secret name after `/secrets/`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets//)".into(), 71, "expected a secret name after `/secrets/`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db//)".into(), 74, "expected a version or the end of the URL after the secret name, found `/`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/latest)".into(), 74, "expected a 32-digit hexadecimal secret version, found `l`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/ec96f02080254f109c51a1f14cdb1931/extra)".into(), 107, "unexpected path segment after the version: expected the end of the URL"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db?api-version=7.4)".into(), 73, "a query or fragment is not allowed in a vault URL"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db#frag)".into(), 73, "a query or fragment is not allowed in a vault URL"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db%20x)".into(), 73, "secret names may contain only letters, digits and `-`, found `%`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net\\secrets\\Db)".into(), 62, "expected a host name (letters, digits, `-` and `.`), found `\\`"),
        ("@Microsoft.KeyVault(SecretUri=\"https://myvault.vault.azure.net/secrets/Db\")".into(), 31, "expected a URL starting with `https://`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Dé)".into(), 72, "secret names may contain only letters, digits and `-`, found `é`"),
        ("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/D\0b)".into(), 72, "secret names may contain only letters, digits and `-`, found the control character U+0000"),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (value, column, message) in &cases {
        match Reference::parse(value) {
            Err(e) if e.column() == *column && e.message() == *message => {
                assert_eq!(
                    e.to_string(),
                    format!("invalid Key Vault reference at column {column}: {message}")
                );
            }
            other => failures.push(format!(
                "{value:?}: expected column {column} {message:?}, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn messages_never_echo_user_info() {
    let e = Reference::parse(
        "@KeyVault(SecretUri=https://admin:hunter2@myvault.vault.azure.net/secrets/Db)",
    )
    .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(!e.to_string().contains("admin"), "{e}");
}
