//! The command line: subcommands, their options and help texts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::OutputFormat;

/// Check and resolve Azure Key Vault references in application settings, before deploying.
///
/// A setting whose value is `@Microsoft.KeyVault(SecretUri=...)`, `@Microsoft.KeyVault(VaultName=...;
/// SecretName=...)` or `@KeyVault(...)` is looked up in Key Vault with the identity this machine
/// has (managed identity on Azure, workload identity, a service principal from the environment,
/// or your Azure CLI login), exactly as the kvref library does at start-up.
///
/// Local development: set KVREF_EMULATOR=http://127.0.0.1:PORT (or pass --emulator) to talk to a
/// kvref emulator instead of Azure.
///
/// Exit status: 0 when every reference resolves, 1 when any does not, 2 on a usage error or when
/// the check cannot run (unreadable file, emulator not reachable).
#[derive(Debug, Parser)]
#[command(name = "kvref", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Find every Key Vault reference in settings files and environment variables and check that
    /// it resolves; one row per reference with its status and, when it fails, the fix.
    Check(CheckArgs),
    /// Print the settings of a file with every reference resolved (secrets redacted unless
    /// --show-secrets).
    Resolve(ResolveArgs),
    /// Run the kvref emulator (Key Vault, managed identity endpoints, Entra ID) on this machine.
    Emulator(EmulatorArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Settings files to scan: .toml, .json, .yaml/.yml, .env. Keys are named as the `config`
    /// crate names them: dotted paths (`db.password`), array items in brackets (`hosts[0]`).
    #[arg(value_name = "FILE", required_unless_present = "env")]
    pub(crate) files: Vec<PathBuf>,

    /// Also scan environment variables under PREFIX, read as config's `Environment` with
    /// separator `__` reads them (`APP__DB__PASSWORD` with `--env APP`, `APP_DB__PASSWORD` with
    /// `--env APP_`, are setting `db.password`). May be repeated.
    #[arg(long, value_name = "PREFIX")]
    pub(crate) env: Vec<String>,

    /// How to print the report.
    #[arg(long, value_enum, default_value_t = CheckFormat::Table)]
    pub(crate) format: CheckFormat,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

/// Report formats of `kvref check`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum CheckFormat {
    /// Aligned columns for a terminal.
    Table,
    /// `{"references": [...], "summary": {...}}` for scripts and CI.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// The settings file (.toml, .json, .yaml/.yml, .env).
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Output format (defaults to the input's kind: JSON for .json and .yaml, TOML for .toml, env
    /// for .env).
    #[arg(long, value_enum)]
    pub(crate) format: Option<OutputFormat>,

    /// Print secret values instead of `<redacted: vault/secret@version>`.
    #[arg(long)]
    pub(crate) show_secrets: bool,

    #[command(flatten)]
    pub(crate) connection: ConnectionArgs,
}

/// How to reach Key Vault: identity selection, local emulator, limits.
#[derive(Debug, Args)]
pub(crate) struct ConnectionArgs {
    /// Use a kvref emulator on this machine instead of Azure (same as KVREF_EMULATOR); only a
    /// loopback http:// URL is accepted.
    #[arg(long, value_name = "URL")]
    pub(crate) emulator: Option<String>,

    /// Use the user-assigned managed identity with this client id (overrides AZURE_CLIENT_ID).
    #[arg(long, value_name = "ID", conflicts_with_all = ["object_id", "resource_id"])]
    pub(crate) client_id: Option<String>,

    /// Use the user-assigned managed identity with this object (principal) id.
    #[arg(long, value_name = "ID", conflicts_with = "resource_id")]
    pub(crate) object_id: Option<String>,

    /// Use the user-assigned managed identity with this Azure resource id.
    #[arg(long, value_name = "ID")]
    pub(crate) resource_id: Option<String>,

    /// Give up on references still unresolved after this many seconds (retries of throttled
    /// requests included).
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub(crate) timeout: Option<Duration>,

    /// Also allow vaults under this DNS suffix (e.g. `.vault.contoso.example`); the Azure clouds'
    /// vault suffixes are always allowed. May be repeated.
    #[arg(long, value_name = "SUFFIX")]
    pub(crate) allow_vault_suffix: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// The emulator configuration (TOML: tenant, identities, vaults, secrets, role assignments).
    #[arg(long, value_name = "FILE")]
    pub(crate) config: PathBuf,

    /// Port for the HTTPS listener (Key Vault, Entra ID); 0 or absent picks a free one.
    #[arg(long, value_name = "PORT")]
    pub(crate) https_port: Option<u16>,

    /// Port for the plain HTTP listener (identity endpoints, control API); 0 or absent picks a
    /// free one.
    #[arg(long, value_name = "PORT")]
    pub(crate) http_port: Option<u16>,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err("give a number of seconds between 0 and 86400".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn usage_errors() {
        for args in [
            vec!["kvref", "check"],
            vec!["kvref", "check", "a.toml", "--format", "yaml"],
            vec![
                "kvref",
                "check",
                "a.toml",
                "--client-id",
                "a",
                "--object-id",
                "b",
            ],
            vec![
                "kvref",
                "check",
                "a.toml",
                "--object-id",
                "a",
                "--resource-id",
                "b",
            ],
            vec!["kvref", "check", "a.toml", "--timeout", "soon"],
            vec!["kvref", "resolve"],
            vec!["kvref", "resolve", "a.toml", "--format", "table"],
            vec!["kvref", "emulator"],
            vec!["kvref", "frobnicate"],
        ] {
            let error = Cli::try_parse_from(&args).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn env_alone_is_enough_for_check() {
        let cli = Cli::try_parse_from(["kvref", "check", "--env", "APP_"]).unwrap();
        let Command::Check(args) = cli.command else {
            panic!("not check")
        };
        assert!(args.files.is_empty());
        assert_eq!(args.env, ["APP_"]);
        assert_eq!(args.format, CheckFormat::Table);
    }

    #[test]
    fn timeout_in_seconds() {
        assert_eq!(parse_seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_seconds("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
    }
}
