//! `kvref resolve`: a settings file with its references resolved, secrets redacted unless
//! `--show-secrets` asks for them.

use kvref::Env;
use kvref::Outcome;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::check::FoundSettings;
use crate::cli::ResolveArgs;
use crate::render::{OutputFormat, render};
use crate::settings::{Format, SettingsFile, replace_leaf};
use crate::{CliError, EXIT_FAILED, EXIT_OK, connect, write_stdout};

pub(crate) async fn run(args: ResolveArgs) -> Result<u8, CliError> {
    let env = Env::from_process();
    let file = SettingsFile::read(&args.file)?;
    let found = FoundSettings::new(file.settings());
    let resolver = connect::resolver(&args.connection, &env).await?;
    let resolution = resolver.resolve(found.resolver_input()).await;

    if let Some(error) = resolution.error() {
        // The library's own text: key, vault, secret, status, code, message and fix; never a value.
        eprintln!("error: {}: {error}", file.source());
        eprintln!("Run `kvref check {}` for the full report.", file.source());
        return Ok(EXIT_FAILED);
    }

    let mut tree = file.tree.clone();
    for outcome in resolution.outcomes() {
        let Some(value) = outcome.value() else {
            continue;
        };
        let setting = found.setting(outcome);
        let shown = if args.show_secrets {
            value.expose_secret().to_owned()
        } else {
            redacted(outcome)
        };
        replace_leaf(&mut tree, &setting.place, Value::String(shown));
    }
    let format = args.format.unwrap_or(match file.format {
        Format::Toml => OutputFormat::Toml,
        Format::Json | Format::Yaml => OutputFormat::Json,
        Format::Dotenv => OutputFormat::Env,
    });
    let text = render(&tree, format, file.format == Format::Dotenv)
        .map_err(|e| CliError(format!("cannot write the settings as {format:?}: {e}")))?;
    write_stdout(&text)?;
    Ok(EXIT_OK)
}

/// `<redacted: myvault/DbPassword@0123...>`: what was resolved, without the value.
fn redacted(outcome: &Outcome) -> String {
    format!(
        "<redacted: {}>",
        outcome.provenance().unwrap_or_else(|| "secret".into())
    )
}
