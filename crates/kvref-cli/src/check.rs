//! `kvref check`: every reference in the given settings, resolved, one row each.

use std::collections::{HashMap, HashSet};

use kvref::Env;
use kvref::resolve::Outcome;

use crate::cli::{CheckArgs, CheckFormat};
use crate::report::{Report, Row};
use crate::settings::{self, Setting, SettingsFile};
use crate::{CliError, EXIT_FAILED, EXIT_OK, connect, progress, write_stdout};

pub(crate) async fn run(args: CheckArgs) -> Result<u8, CliError> {
    let env = Env::from_process();
    let found = collect(&args, &env)?;
    let keyed = KeyedSettings::new(found);
    tracing::info!(
        settings = keyed.settings.len(),
        "scanning settings for references"
    );

    let resolver = connect::resolver(&args.connection, &env).await?;
    let progress = progress::Progress::start(keyed.reference_like_count());
    let resolution = resolver
        .resolve_with_progress(keyed.resolver_input(), |p| progress.update(p))
        .await;
    progress.finish();

    let report = Report::new(keyed.rows(resolution.outcomes()));
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

/// Settings with a key each that is unique across sources, so that every outcome of the resolver
/// maps back to exactly one (key, source).
pub(crate) struct KeyedSettings {
    settings: Vec<Setting>,
    unique_keys: Vec<String>,
    positions: HashMap<String, usize>,
}

impl KeyedSettings {
    pub(crate) fn new(settings: Vec<Setting>) -> KeyedSettings {
        let mut taken: HashSet<String> = HashSet::new();
        let unique_keys: Vec<String> = settings
            .iter()
            .map(|s| {
                // The same key again (in a second source, or twice in one file as `{"a.b": ..,
                // "a": {"b": ..}}`): keep the rows apart with the source, then a count.
                let mut candidate = s.key.clone();
                if taken.contains(&candidate) {
                    candidate = format!("{} ({})", s.key, s.source);
                }
                let mut n = 2;
                while taken.contains(&candidate) {
                    candidate = format!("{} ({} #{n})", s.key, s.source);
                    n += 1;
                }
                taken.insert(candidate.clone());
                candidate
            })
            .collect();
        let positions = unique_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        KeyedSettings {
            settings,
            unique_keys,
            positions,
        }
    }

    /// `(unique key, value)` pairs for the resolver.
    pub(crate) fn resolver_input(&self) -> Vec<(String, String)> {
        self.unique_keys
            .iter()
            .cloned()
            .zip(self.settings.iter().map(|s| s.value.clone()))
            .collect()
    }

    /// The setting the resolver knows as `unique_key`.
    pub(crate) fn setting(&self, unique_key: &str) -> Option<&Setting> {
        self.settings.get(*self.positions.get(unique_key)?)
    }

    /// How many values look like references (to decide whether to show a progress bar; the
    /// resolver decides what they are).
    fn reference_like_count(&self) -> usize {
        self.settings
            .iter()
            .filter(|s| s.value.trim_start().starts_with('@'))
            .count()
    }

    /// One row per outcome. The resolver keeps its input order, so the rows come in the order
    /// the settings were found.
    pub(crate) fn rows<'a>(&self, outcomes: impl IntoIterator<Item = &'a Outcome>) -> Vec<Row> {
        outcomes
            .into_iter()
            .map(|outcome| {
                let (key, source) = match self.setting(outcome.key()) {
                    Some(s) => (s.key.clone(), s.source.clone()),
                    None => (outcome.key().to_owned(), String::new()),
                };
                row(key, source, outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(key: &str, source: &str) -> Setting {
        Setting {
            key: key.to_owned(),
            path: Vec::new(),
            source: source.to_owned(),
            value: String::new(),
        }
    }

    #[test]
    fn repeated_keys_get_distinct_unique_keys() {
        let keyed = KeyedSettings::new(vec![
            setting("a.b", "c.json"),
            setting("a.b", "c.json"),
            setting("a.b", "c.json"),
            setting("a.b", "env:A__B"),
            setting("a.b (c.json)", "c.json"),
        ]);
        let keys: Vec<String> = keyed.resolver_input().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "a.b",
                "a.b (c.json)",
                "a.b (c.json #2)",
                "a.b (env:A__B)",
                "a.b (c.json) (c.json)",
            ]
        );
        for (i, key) in keys.iter().enumerate() {
            assert!(std::ptr::eq(
                keyed.setting(key).unwrap(),
                &keyed.settings[i]
            ));
        }
    }
}
