//! The tests that need the process environment, in a binary of their own: `figment::Jail` sets
//! real environment variables and changes the current directory (process-global), and
//! [`kvref_figment::resolve`] reads `KVREF_EMULATOR` from the process like an app does.

// `Jail::expect_with` takes closures returning `figment::Result`, whose error is figment's.
#![allow(clippy::result_large_err)]

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use kvref::secrecy::{ExposeSecret, SecretString};
use kvref_emulator::{Emulator, EmulatorConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Settings {
    db: Db,
}

#[derive(Deserialize)]
struct Db {
    host: String,
    password: SecretString,
}

/// Runs `scenario` in a jail with a fresh emulator, `KVREF_EMULATOR` pointing at it.
fn in_jail(scenario: impl AsyncFnOnce(&mut figment::Jail, &Emulator)) {
    figment::Jail::expect_with(|jail| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let emu = Emulator::start(EmulatorConfig::sample()).await.unwrap();
            jail.set_env("KVREF_EMULATOR", format!("http://{}", emu.http_addr()));
            scenario(jail, &emu).await;
        });
        Ok(())
    });
}

#[test]
fn env_prefixed_split_overrides_a_file_with_a_reference() {
    in_jail(async |jail, _emu| {
        jail.create_file(
            "settings.toml",
            "[db]\nhost = 'db.internal'\npassword = 'from-the-file'\n",
        )
        .unwrap();
        jail.set_env(
            "APP_DB__PASSWORD",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)",
        );
        let figment = Figment::new()
            .merge(Toml::file("settings.toml"))
            .merge(Env::prefixed("APP_").split("__"));
        let figment = kvref_figment::resolve(figment).await.unwrap();
        let settings: Settings = kvref_figment::extract(&figment).unwrap();

        assert_eq!(settings.db.host, "db.internal");
        assert_eq!(
            settings.db.password.expose_secret(),
            "db-password-from-the-emulator"
        );
        let metadata = figment.find_metadata("db.password").unwrap();
        assert_eq!(metadata.name, "Azure Key Vault");
        let id = metadata.source.as_ref().and_then(|s| s.custom()).unwrap();
        assert!(
            id.starts_with("https://myvault.vault.azure.net/secrets/DbPassword/"),
            "{id}"
        );
        assert!(
            figment
                .find_metadata("db.host")
                .unwrap()
                .name
                .starts_with("TOML")
        );
    });
}

#[test]
fn a_failing_environment_reference_is_named_as_the_environment_names_it() {
    in_jail(async |jail, _emu| {
        jail.set_env(
            "APP_DB__PASSWORD",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=NoSuchSecret)",
        );
        let figment = Figment::from(Env::prefixed("APP_").split("__"));
        let error = kvref_figment::resolve(figment).await.unwrap_err();
        let keys: Vec<&str> = error.as_kvref().unwrap().failed_keys().collect();
        assert_eq!(keys, ["DB.PASSWORD"]);
    });
}

#[test]
fn without_references_resolve_builds_no_resolver() {
    figment::Jail::expect_with(|jail| {
        // Nothing listens here: `Resolver::from_env` would fail to reach the "emulator".
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        jail.set_env("KVREF_EMULATOR", format!("http://{dead}"));
        jail.set_env("APP_DB__HOST", "db.internal");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let with_reference = Figment::from(Toml::string(
                "token = '@KeyVault(VaultName=myvault;SecretName=ApiKey)'",
            ));
            let error = kvref_figment::resolve(with_reference).await.unwrap_err();
            assert!(
                error.as_kvref().is_some_and(kvref::Error::is_local),
                "{error}"
            );

            let figment = Figment::from(Env::prefixed("APP_").split("__"));
            let figment = kvref_figment::resolve(figment).await.unwrap();
            let host: String = kvref_figment::extract_inner(&figment, "db.host").unwrap();
            assert_eq!(host, "db.internal");
        });
        Ok(())
    });
}
