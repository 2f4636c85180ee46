//! Reading settings files (TOML, JSON, YAML, .env) and prefixed environment variables the way an
//! app reads them with the `config` crate, into one list of `(key, source, string value)` for the
//! resolver.
//!
//! A file is read within the limits of [`limits`] and parsed twice: by kvref's own parsers into a
//! tree (`serde_json::Value`), whose errors name the file, line and column but never quote the
//! file's text (a settings file may hold a plain secret next to the references) and which `kvref
//! resolve` writes back out; and by `config` itself, whose values kvref-config's walker lists with
//! config's key names (`db.password`, `hosts[0]`). Environment variables (and the lines of a .env
//! file) are named by config's `Environment` with `separator("__")`: `APP__DB__PASSWORD` is
//! `db.password`. Only string leaves can hold a Key Vault reference.

mod dotenv;
mod limits;

use std::path::{Path, PathBuf};

use config::{Environment, FileFormat, Source, ValueKind};
use kvref_config::Step;
use serde_json::{Map, Value};

/// One string leaf of the settings that may be a Key Vault reference.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The key as `config` names it, e.g. `db.password` or `hosts[0].token`: for people to read.
    /// Two leaves may share it (`{"a.b": .., "a": {"b": ..}}`), so [`Setting::place`] is what
    /// finds the leaf again.
    pub(crate) key: String,
    /// The exact place of the leaf in its file's tree.
    pub(crate) place: Place,
    /// Where it came from: a file name as given on the command line, or `env:NAME`.
    pub(crate) source: String,
    /// The raw value (may be a reference, may be a plain secret: never printed by `kvref check`).
    pub(crate) value: String,
}

// Values may be plain secrets: Debug shows the key and source only.
impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setting")
            .field("key", &self.key)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Where a setting sits in its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// In a TOML, JSON or YAML file's tree: the steps config's walker took, each table key as
    /// written (a key may contain dots).
    Tree(kvref_config::Path),
    /// A variable: an environment variable, or a line of a .env file (its name as written).
    Variable(String),
}

/// The formats `kvref` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Json,
    Yaml,
    Dotenv,
}

impl Format {
    /// The format a file name implies: `.toml`, `.json`, `.yaml`/`.yml`, and `.env` (also
    /// `.env.local`, `prod.env`).
    pub(crate) fn from_path(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let extension = name.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("");
        match extension {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "env" => Some(Format::Dotenv),
            _ if name.starts_with(".env") => Some(Format::Dotenv),
            _ => None,
        }
    }

    /// The name in messages.
    fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Dotenv => ".env",
        }
    }
}

/// A settings file could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    #[error(
        "{path}: unknown settings format; kvref reads .toml, .json, .yaml, .yml and .env files"
    )]
    UnknownFormat { path: String },
    #[error("{path}: cannot read the file: {reason}")]
    Read { path: String, reason: String },
    #[error("{path}: is {kind}; kvref reads settings from regular files only")]
    NotAFile { path: String, kind: &'static str },
    #[error(
        "{path}: larger than the limit of {} MiB for a settings file; kvref reads no more",
        limits::MAX_FILE_BYTES / (1024 * 1024)
    )]
    TooLarge { path: String },

    #[error("{path}: not valid {format}: {reason}")]
    Parse {
        path: String,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: the top level must be a table of settings, not a single value")]
    NotATable { path: String },
    // config's own message may quote the file; it is not shown.
    #[error(
        "{path}: valid {format}, but the `config` crate an app reads it with cannot (for example a \
         key that is a list or a table, or more than one YAML document)"
    )]
    NotReadByConfig { path: String, format: &'static str },
}

/// One settings file, parsed.
#[derive(Clone)]
pub(crate) struct SettingsFile {
    /// The path as given.
    pub(crate) path: PathBuf,
    /// The format it was read as.
    pub(crate) format: Format,
    /// The whole tree (an object at the top), as written.
    pub(crate) tree: Value,
    /// The string leaves that may be references, as `config` names them.
    settings: Vec<Setting>,
}

impl SettingsFile {
    /// Reads and parses `path`, choosing the format from its name.
    pub(crate) fn read(path: &Path) -> Result<SettingsFile, SettingsError> {
        let shown = path.display().to_string();
        let format = Format::from_path(path).ok_or_else(|| SettingsError::UnknownFormat {
            path: shown.clone(),
        })?;
        let text = limits::read_text(path).map_err(|e| match e {
            limits::LimitError::NotAFile(kind) => SettingsError::NotAFile {
                path: shown.clone(),
                kind,
            },
            limits::LimitError::TooLarge => SettingsError::TooLarge {
                path: shown.clone(),
            },
            limits::LimitError::Io(reason) => SettingsError::Read {
                path: shown.clone(),
                reason,
            },
        })?;
        // kvref's parser first: its errors quote nothing, and it refuses what would be too deep
        // (YAML flow nesting, serde's recursion limits) before config's recursive readers see it.
        let tree = parse(&text, format).map_err(|(format, reason)| SettingsError::Parse {
            path: shown.clone(),
            format,
            reason,
        })?;
        let Value::Object(top) = &tree else {
            return Err(SettingsError::NotATable { path: shown });
        };
        let settings = match config_format(format) {
            Some(file_format) => file_settings(&text, file_format, &shown).ok_or_else(|| {
                SettingsError::NotReadByConfig {
                    path: shown.clone(),
                    format: format.name(),
                }
            })?,
            // A .env file's names are mapped like environment variables without a prefix.
            None => variables(
                top.iter()
                    .filter_map(|(name, value)| Some((name.as_str(), value.as_str()?))),
                &Environment::default().separator("__"),
                |_| shown.clone(),
            ),
        };
        Ok(SettingsFile {
            path: path.to_owned(),
            format,
            tree,
            settings,
        })
    }

    /// The source label of this file's settings.
    pub(crate) fn source(&self) -> String {
        self.path.display().to_string()
    }

    /// Every string leaf that may be a reference, in key order.
    pub(crate) fn settings(&self) -> Vec<Setting> {
        self.settings.clone()
    }
}

fn config_format(format: Format) -> Option<FileFormat> {
    match format {
        Format::Toml => Some(FileFormat::Toml),
        Format::Json => Some(FileFormat::Json),
        Format::Yaml => Some(FileFormat::Yaml),
        Format::Dotenv => None,
    }
}

/// The candidate references of a file as `config` reads it; `None` if config cannot.
///
/// The file's table is walked as config's `File` source collects it, before a `Config` merges it:
/// merging splits a top-level key written `"a.b"` into `a` then `b`, so of `{"a.b": .., "a": {"b":
/// ..}}` only one would be seen, and the other would not be found again in the file's tree. Both
/// are named `a.b`, as an app's `Config` names them.
fn file_settings(text: &str, format: FileFormat, source: &str) -> Option<Vec<Setting>> {
    let table = config::File::from_str(text, format).collect().ok()?;
    let root = config::Value::new(None, ValueKind::Table(table));
    let settings = kvref_config::references(&root)
        .into_iter()
        .map(|leaf| Setting {
            key: leaf.path().to_string(),
            place: Place::Tree(leaf.path().clone()),
            source: source.to_owned(),
            value: leaf.value().to_owned(),
        })
        .collect();
    Some(settings)
}

/// The candidate references among `vars`, each named by `naming` (config's `Environment`) as an
/// app reading them would, from source `source(variable name)`. Each variable is collected alone,
/// so every row can say which variable it came from.
fn variables<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    naming: &Environment,
    source: impl Fn(&str) -> String,
) -> Vec<Setting> {
    let mut out = Vec::new();
    for (name, value) in vars {
        let one = config::Map::from_iter([(name.to_owned(), value.to_owned())]);
        // Collecting strings cannot fail (config only refuses values that are not Unicode).
        let Ok(table) = naming.clone().source(Some(one)).collect() else {
            continue;
        };
        let root = config::Value::new(None, ValueKind::Table(table));
        for leaf in kvref_config::references(&root) {
            let key = leaf.path().to_string();
            // A variable named just the prefix names no setting.
            if key.is_empty() {
                continue;
            }
            out.push(Setting {
                key,
                place: Place::Variable(name.to_owned()),
                source: source(name),
                value: leaf.value().to_owned(),
            });
        }
    }
    out.sort_by(|a, b| (&a.key, &a.source).cmp(&(&b.key, &b.source)));
    out
}

/// Environment variables under `prefix` that may be references, named as config's
/// `Environment` names them, from source `env:NAME`. `--env APP` reads as an app's
/// `Environment::with_prefix("APP").separator("__")` does (`APP__DB__PASSWORD` is `db.password`);
/// `--env APP_` as one with `.prefix_separator("_")` as well (`APP_DB__PASSWORD`); keys are lower
/// case, as config makes them.
pub(crate) fn from_env<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    prefix: &str,
) -> Vec<Setting> {
    let naming = match prefix.strip_suffix('_') {
        Some(stem) if !stem.is_empty() => Environment::with_prefix(stem).prefix_separator("_"),
        _ if prefix.is_empty() => Environment::default(),
        _ => Environment::with_prefix(prefix),
    };
    variables(vars, &naming.separator("__"), |name| format!("env:{name}"))
}

/// Parses `text` as `format` into a tree; on error, the format's name and a reason that quotes
/// no text of the file.
pub(crate) fn parse(text: &str, format: Format) -> Result<Value, (&'static str, String)> {
    match format {
        Format::Toml => {
            let table: toml::Table = toml::from_str(text).map_err(|e| {
                let at = e
                    .span()
                    .map(|span| format!(" at {}", line_column(text, span.start)))
                    .unwrap_or_default();
                ("TOML", format!("{}{at}", e.message().trim_end()))
            })?;
            Ok(from_toml(toml::Value::Table(table)))
        }
        Format::Json => serde_json::from_str(text).map_err(|e| {
            (
                "JSON",
                format!("syntax error at line {} column {}", e.line(), e.column()),
            )
        }),
        Format::Yaml => {
            if text.trim().is_empty() {
                return Ok(Value::Object(Map::new()));
            }
            // Before the parser: its cost grows with the square of this depth.
            if limits::yaml_flow_depth(text, limits::MAX_FLOW_DEPTH) > limits::MAX_FLOW_DEPTH {
                return Err((
                    "YAML",
                    format!(
                        "flow collections (`[`, `{{`) are nested deeper than the limit of {} levels",
                        limits::MAX_FLOW_DEPTH
                    ),
                ));
            }
            // `<<` merge keys stay plain keys: config (yaml-rust2) does not apply them, so an app
            // reads `prod.<<.db`, and the tree must match for `kvref resolve` to find that leaf.
            let yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                    .unwrap_or_default();
                ("YAML", format!("syntax error{at}"))
            })?;
            Ok(from_yaml(yaml))
        }
        Format::Dotenv => dotenv::parse_dotenv(text).map_err(|line| {
            (
                ".env",
                format!("line {line} is not `NAME=value` (or a comment)"),
            )
        }),
    }
}

fn line_column(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line} column {column}")
}

/// Replaces the string leaf at `place` in `tree` with `replacement`. Returns whether there was a
/// string leaf there.
pub(crate) fn replace_leaf(tree: &mut Value, place: &Place, replacement: Value) -> bool {
    let node = match place {
        Place::Variable(name) => tree.get_mut(name),
        Place::Tree(path) => path
            .steps()
            .iter()
            .try_fold(tree, |node, step| match (step, node) {
                (Step::Key(key), Value::Object(map)) => map.get_mut(key),
                (Step::Index(index), Value::Array(items)) => items.get_mut(*index),
                _ => None,
            }),
    };
    match node {
        Some(node) if node.is_string() => {
            *node = replacement;
            true
        }
        _ => false,
    }
}

fn from_toml(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(from_toml).collect()),
        toml::Value::Table(table) => {
            Value::Object(table.into_iter().map(|(k, v)| (k, from_toml(v))).collect())
        }
    }
}

fn from_yaml(value: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        Y::Mapping(mapping) => Value::Object(
            mapping
                .into_iter()
                .map(|(k, v)| (yaml_key(k), from_yaml(v)))
                .collect(),
        ),
        Y::Tagged(tagged) => from_yaml(tagged.value),
    }
}

fn yaml_key(key: serde_yaml_ng::Value) -> String {
    use serde_yaml_ng::Value as Y;
    match key {
        Y::String(s) => s,
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::Null => "null".to_owned(),
        Y::Tagged(tagged) => yaml_key(tagged.value),
        Y::Sequence(_) | Y::Mapping(_) => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)";
    const B: &str = "@Microsoft.KeyVault(VaultName=v;SecretName=b)";

    /// `(key, value)` of every candidate reference of `text`, as `kvref check` lists them.
    fn found(text: &str, format: Format) -> Vec<(String, String)> {
        file_settings(text, config_format(format).unwrap(), "f")
            .unwrap()
            .into_iter()
            .map(|s| (s.key, s.value))
            .collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn toml_nested_tables_and_arrays_are_named_as_config_names_them() {
        let text = format!(
            r#"
            name = "app"
            port = 8080
            when = 1979-05-27T07:32:00Z
            [db]
            password = "{A}"
            [[db.replicas]]
            url = "r0"
            [[db.replicas]]
            url = "{B}"
            tags = ["x", 3, "{A}"]
        "#
        );
        assert_eq!(
            found(&text, Format::Toml),
            pairs(&[
                ("db.password", A),
                ("db.replicas[1].tags[2]", A),
                ("db.replicas[1].url", B),
            ])
        );
    }

    #[test]
    fn json_and_yaml_are_named_alike() {
        let json = format!(r#"{{"a": {{"b": ["{A}", {{"c": "{B}"}}], "n": 1, "z": null}}}}"#);
        let yaml = format!("a:\n  b:\n    - \"{A}\"\n    - c: \"{B}\"\n  n: 1\n  z: ~\n");
        let expected = pairs(&[("a.b[0]", A), ("a.b[1].c", B)]);
        assert_eq!(found(&json, Format::Json), expected);
        assert_eq!(found(&yaml, Format::Yaml), expected);
    }

    #[test]
    fn yaml_non_string_keys_are_named_as_config_names_them() {
        let yaml = format!("1: \"{A}\"\ntrue: \"{B}\"\n");
        assert_eq!(found(&yaml, Format::Yaml), pairs(&[("1", A), ("true", B)]));
    }

    #[test]
    fn yaml_merge_keys_are_read_as_config_reads_them() {
        let yaml = format!("defaults: &defaults\n  db: \"{A}\"\nprod:\n  <<: *defaults\n");
        let found = file_settings(&yaml, FileFormat::Yaml, "f").unwrap();
        let keys: Vec<&str> = found.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["defaults.db", "prod.<<.db"]);
        let mut tree = parse(&yaml, Format::Yaml).unwrap();
        for setting in &found {
            assert!(
                replace_leaf(&mut tree, &setting.place, Value::from("R")),
                "{setting:?}"
            );
        }
        assert_eq!(tree["prod"]["<<"]["db"], "R");
    }

    #[test]
    fn dotenv_forms() {
        let text = "# comment\n\nexport A=plain value # note\nB='single # kept'\nC=\"dq \\\"x\\\"\\n\"\nD=\"multi\nline\"\nE=\n F = spaced \nG=a#b\n";
        assert_eq!(
            parse(text, Format::Dotenv).unwrap(),
            serde_json::json!({
                "A": "plain value",
                "B": "single # kept",
                "C": "dq \"x\"\n",
                "D": "multi\nline",
                "E": "",
                "F": "spaced",
                "G": "a#b",
            })
        );
    }

    #[test]
    fn dotenv_names_are_mapped_like_environment_variables() {
        let files = tempfile::tempdir().unwrap();
        let path = files.path().join(".env");
        std::fs::write(&path, format!("API_KEY={A}\nDB__PASSWORD={B}\nPLAIN=x\n")).unwrap();
        let file = SettingsFile::read(&path).unwrap();
        let found: Vec<(String, Place)> = file
            .settings()
            .into_iter()
            .map(|s| (s.key, s.place))
            .collect();
        assert_eq!(
            found,
            [
                ("api_key".to_owned(), Place::Variable("API_KEY".to_owned())),
                (
                    "db.password".to_owned(),
                    Place::Variable("DB__PASSWORD".to_owned())
                ),
            ]
        );
    }

    #[test]
    fn parse_errors_never_quote_the_file() {
        let secret = "hunter2-plain-secret";
        for (text, format) in [
            (format!("password = \"{secret}\nx = "), Format::Toml),
            (format!("{{\"password\": \"{secret}\" oops}}"), Format::Json),
            (format!("password: \"{secret}\n  - : ]["), Format::Yaml),
            (format!("{secret}\n"), Format::Dotenv),
            (format!("A='{secret}\n"), Format::Dotenv),
        ] {
            let (_, reason) = parse(&text, format).unwrap_err();
            assert!(!reason.contains(secret), "{format:?}: {reason}");
            assert!(reason.contains("line"), "{format:?}: {reason}");
        }
    }

    #[test]
    fn format_from_file_name() {
        for (name, format) in [
            ("settings.toml", Some(Format::Toml)),
            ("a/b/appsettings.JSON", Some(Format::Json)),
            ("x.yml", Some(Format::Yaml)),
            ("x.yaml", Some(Format::Yaml)),
            (".env", Some(Format::Dotenv)),
            (".env.local", Some(Format::Dotenv)),
            ("prod.env", Some(Format::Dotenv)),
            ("settings.ini", None),
        ] {
            assert_eq!(Format::from_path(Path::new(name)), format, "{name}");
        }
    }

    #[test]
    fn env_prefixes_read_as_configs_environment_reads_them() {
        let vars = [
            ("APP_DB__PASSWORD", A),
            ("APP__DB__PASSWORD", B),
            ("APPLE", A),
            ("APP_", A),
            ("OTHER", A),
            ("APP_PLAIN", "plain"),
        ];
        let found = |prefix| -> Vec<(String, String, String)> {
            from_env(vars.iter().copied(), prefix)
                .into_iter()
                .map(|s| (s.key, s.source, s.value))
                .collect()
        };
        let row = |key: &str, name: &str, value: &str| {
            (key.to_owned(), format!("env:{name}"), value.to_owned())
        };
        // `APP_`: names start with `APP_`, as with `.prefix_separator("_")`.
        assert_eq!(
            found("APP_"),
            [
                row("_db.password", "APP__DB__PASSWORD", B),
                row("db.password", "APP_DB__PASSWORD", A),
            ]
        );
        // `APP`: config's `Environment::with_prefix("APP").separator("__")`.
        assert_eq!(found("APP"), [row("db.password", "APP__DB__PASSWORD", B)]);
    }

    #[test]
    fn replace_leaf_follows_the_exact_path() {
        let text =
            format!(r#"{{"a": {{"b": ["s", {{"c": "{A}"}}]}}, "x.y": "{A}", "x": {{"y": "w"}}}}"#);
        let mut tree = parse(&text, Format::Json).unwrap();
        let places: Vec<Place> = file_settings(&text, FileFormat::Json, "f")
            .unwrap()
            .into_iter()
            .map(|s| s.place)
            .collect();
        assert_eq!(places.len(), 2);
        for place in &places {
            assert!(replace_leaf(&mut tree, place, Value::from("R")));
        }
        assert!(!replace_leaf(
            &mut tree,
            &Place::Variable("nothing".into()),
            Value::from("no")
        ));
        assert_eq!(tree["a"]["b"][1]["c"], "R");
        assert_eq!(tree["a"]["b"][0], "s");
        assert_eq!(tree["x.y"], "R");
        assert_eq!(tree["x"]["y"], "w");
    }

    #[test]
    fn colliding_dotted_keys_keep_distinct_places() {
        let text = format!(r#"{{"a.b": "{A}", "a": {{"b": "{B}"}}}}"#);
        let found = file_settings(&text, FileFormat::Json, "c.json").unwrap();
        let mut tree = parse(&text, Format::Json).unwrap();
        assert_eq!(found.len(), 2);
        for setting in &found {
            assert_eq!(setting.key, "a.b");
            let shown = Value::from(format!("from {}", setting.value));
            assert!(replace_leaf(&mut tree, &setting.place, shown));
        }
        assert_eq!(tree["a.b"], format!("from {A}"));
        assert_eq!(tree["a"]["b"], format!("from {B}"));
    }
}
