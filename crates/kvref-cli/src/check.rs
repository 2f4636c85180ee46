//! `kvref check`: every reference in the given settings, resolved, one row each.

use kvref::Env;
use kvref::Outcome;

use crate::cli::{CheckArgs, CheckFormat};
use crate::report::{Report, Row};
use crate::settings::{self, Setting, SettingsFile};
use crate::{CliError, EXIT_FAILED, EXIT_OK, connect, progress, write_stdout};

pub(crate) async fn run(args: CheckArgs) -> Result<u8, CliError> {
    let env = Env::from_process();
    let found = collect(&args, &env)?;
    let found = FoundSettings::new(found);
    tracing::info!(
        settings = found.settings.len(),
        "scanning settings for references"
    );

    let resolver = connect::resolver(&args.connection, &env).await?;
    let progress = progress::Progress::start(found.len());
    let resolution = resolver
        .resolve_with_progress(found.resolver_input(), |p| progress.update(p))
        .await;
    progress.finish();

    let report = Report::new(found.rows(resolution.outcomes()));
    match args.format {
        CheckFormat::Json => write_stdout(&(report.to_json() + "\n"))?,
        CheckFormat::Table => write_stdout(&report.to_table())?,
    }
    Ok(if report.all_resolved() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// The settings of every file, then of every prefix's environment variables, in that order.
fn collect(args: &CheckArgs, env: &Env) -> Result<Vec<Setting>, CliError> {
    let mut found = Vec::new();
    for path in &args.files {
        found.extend(SettingsFile::read(path)?.settings());
    }
    for prefix in &args.env {
        let vars = env.names().filter_map(|name| Some((name, env.get(name)?)));
        found.extend(settings::from_env(vars, prefix));
    }
    Ok(found)
}

/// The settings found, in order: an outcome's [`Outcome::index`] is its setting's position here.
pub(crate) struct FoundSettings {
    settings: Vec<Setting>,
}

impl FoundSettings {
    pub(crate) fn new(settings: Vec<Setting>) -> FoundSettings {
        FoundSettings { settings }
    }

    /// `(key, value)` pairs for the resolver, in order.
    pub(crate) fn resolver_input(&self) -> impl Iterator<Item = (&str, &str)> {
        self.settings
            .iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
    }

    /// The setting an outcome is about.
    pub(crate) fn setting(&self, outcome: &Outcome) -> &Setting {
        &self.settings[outcome.index()]
    }

    /// How many settings there are: each is already a reference candidate, since the walker
    /// keeps only those (for the progress bar).
    pub(crate) fn len(&self) -> usize {
        self.settings.len()
    }

    /// One report row per outcome, with the setting's own key and source.
    pub(crate) fn rows<'a>(&self, outcomes: impl IntoIterator<Item = &'a Outcome>) -> Vec<Row> {
        outcomes
            .into_iter()
            .map(|outcome| {
                let setting = self.setting(outcome);
                row(setting.key.clone(), setting.source.clone(), outcome)
            })
            .collect()
    }
}

fn row(key: String, source: String, outcome: &Outcome) -> Row {
    let reference = outcome.reference();
    Row {
        key,
        source,
        reference: reference.map(|r| r.to_string()),
        vault: reference.map(|r| r.vault_name().to_owned()),
        secret: reference.map(|r| r.secret_name().to_owned()),
        version: reference.and_then(|r| r.version().map(str::to_owned)),
        status: outcome.status(),
        resolved_version: outcome.resolved_version().map(str::to_owned),
        error_code: outcome.error_code().map(str::to_owned),
        message: outcome.message().map(str::to_owned),
        fix: outcome.fix().map(str::to_owned),
    }
}
