//! Reading settings files (TOML, JSON, YAML, .env) and prefixed environment variables into one
//! flat list of `(dotted key, source, string value)` for the resolver.
//!
//! Every format is read into one tree (`serde_json::Value`) so that `kvref resolve` can write the
//! same shape back out. Nested tables become dotted keys (`db.password`) and array items their index
//! (`hosts.0`). Only string leaves can hold a Key Vault reference; other leaves are kept in the tree
//! but never listed.
//!
//! Parse errors name the file, line and column but never quote the file's text: a settings file
//! may hold a plain secret next to the references.

mod limits;

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// One string leaf of the settings.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    /// The dotted key, e.g. `db.password` or `hosts.0`: for people to read. Two leaves may share
    /// it (`{"a.b": .., "a": {"b": ..}}`), so [`Setting::path`] is what finds the leaf again.
    pub(crate) key: String,
    /// The exact place of the leaf in its file's tree (empty for an environment variable).
    pub(crate) path: Vec<Segment>,
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

/// One step from a node of the settings tree to a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A table's member, by its exact name (which may contain dots).
    Key(String),
    /// An array's item.
    Index(usize),
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
}

/// One settings file, parsed.
#[derive(Clone)]
pub(crate) struct SettingsFile {
    /// The path as given.
    pub(crate) path: PathBuf,
    /// The format it was read as.
    pub(crate) format: Format,
    /// The whole tree (an object at the top).
    pub(crate) tree: Value,
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
        let tree = parse(&text, format).map_err(|(format, reason)| SettingsError::Parse {
            path: shown.clone(),
            format,
            reason,
        })?;
        if !tree.is_object() {
            return Err(SettingsError::NotATable { path: shown });
        }
        Ok(SettingsFile {
            path: path.to_owned(),
            format,
            tree,
        })
    }

    /// The source label of this file's settings.
    pub(crate) fn source(&self) -> String {
        self.path.display().to_string()
    }

    /// Every string leaf, in key order.
    pub(crate) fn settings(&self) -> Vec<Setting> {
        let source = self.source();
        let mut out = Vec::new();
        flatten(&self.tree, &mut |path, key, value| {
            out.push(Setting {
                key: key.to_owned(),
                path: path.to_vec(),
                source: source.clone(),
                value: value.to_owned(),
            })
        });
        out
    }
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
            let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(" at line {} column {}", l.line(), l.column()))
                    .unwrap_or_default();
                ("YAML", format!("syntax error{at}"))
            })?;
            // `<<: *defaults` merge keys, as YAML-reading config libraries apply them.
            yaml.apply_merge().map_err(|_| {
                (
                    "YAML",
                    "a `<<` merge key does not name a mapping".to_owned(),
                )
            })?;
            Ok(from_yaml(yaml))
        }
        Format::Dotenv => parse_dotenv(text).map_err(|line| {
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

/// Calls `leaf(path, dotted key, value)` for every string leaf under `node`.
pub(crate) fn flatten(node: &Value, leaf: &mut dyn FnMut(&[Segment], &str, &str)) {
    flatten_under(
        node,
        &mut Vec::new(),
        &mut String::new(),
        &mut |path, key, value| {
            if let Value::String(s) = value {
                leaf(path, key, s);
            }
        },
    );
}

/// Calls `leaf(dotted key, value)` for every leaf under `node` (strings, numbers, booleans,
/// nulls; not empty tables or arrays).
pub(crate) fn flatten_all(node: &Value, leaf: &mut dyn FnMut(&str, &Value)) {
    flatten_under(
        node,
        &mut Vec::new(),
        &mut String::new(),
        &mut |_, key, value| leaf(key, value),
    );
}

/// Walks the leaves below `path` (whose dotted form is `prefix`); both are restored before
/// returning.
fn flatten_under(
    node: &Value,
    path: &mut Vec<Segment>,
    prefix: &mut String,
    leaf: &mut dyn FnMut(&[Segment], &str, &Value),
) {
    let mut descend =
        |path: &mut Vec<Segment>, prefix: &mut String, segment: Segment, child: &Value| {
            let len = prefix.len();
            if !prefix.is_empty() {
                prefix.push('.');
            }
            match &segment {
                Segment::Key(k) => prefix.push_str(k),
                Segment::Index(i) => prefix.push_str(&i.to_string()),
            }
            path.push(segment);
            flatten_under(child, path, prefix, leaf);
            path.pop();
            prefix.truncate(len);
        };
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                descend(path, prefix, Segment::Key(k.clone()), v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                descend(path, prefix, Segment::Index(i), v);
            }
        }
        leaf_value => leaf(path, prefix, leaf_value),
    }
}

/// Replaces the string leaf at `path` (as [`flatten`] gives it) with `replacement`.
/// Returns whether there was a string leaf there.
pub(crate) fn replace_leaf(tree: &mut Value, path: &[Segment], replacement: Value) -> bool {
    let mut node = tree;
    for segment in path {
        let child = match (segment, node) {
            (Segment::Key(k), Value::Object(map)) => map.get_mut(k),
            (Segment::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match child {
            Some(child) => node = child,
            None => return false,
        }
    }
    if node.is_string() {
        *node = replacement;
        true
    } else {
        false
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

/// Parses a .env file: `NAME=value` lines, optional `export `, `#` comments, values unquoted
/// (an inline ` #` starts a comment), in single quotes (literal) or double quotes (`\n`, `\t`,
/// `\"`, `\\` escapes; may span lines). No variable expansion: a check must see the file as
/// written. On error, the 1-based line number.
fn parse_dotenv(text: &str) -> Result<Value, usize> {
    let mut map = Map::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, raw)) = lines.next() {
        let line_no = index + 1;
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (name, rest) = line.split_once('=').ok_or(line_no)?;
        let name = name.trim();
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid_name {
            return Err(line_no);
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            let end = body.find('\'').ok_or(line_no)?;
            trailing_comment_only(&body[end + 1..], line_no)?;
            body[..end].to_owned()
        } else if let Some(body) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut current = body.to_owned();
            loop {
                match unescape_until_quote(&current, &mut value) {
                    Some(after) => {
                        trailing_comment_only(&current[after..], line_no)?;
                        break;
                    }
                    None => {
                        // The quoted value continues on the next line.
                        let (_, next) = lines.next().ok_or(line_no)?;
                        value.push('\n');
                        current = next.to_owned();
                    }
                }
            }
            value
        } else {
            let end = rest.find(" #").unwrap_or(rest.len());
            rest[..end].trim_end().to_owned()
        };
        map.insert(name.to_owned(), Value::String(value));
    }
    Ok(Value::Object(map))
}

/// Appends the unescaped text of `s` up to an unescaped `"` to `out`; returns the byte offset just
/// after that quote, or `None` when the line ends first.
fn unescape_until_quote(s: &str, out: &mut String) -> Option<usize> {
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(i + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    None
}

fn trailing_comment_only(rest: &str, line_no: usize) -> Result<(), usize> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(line_no)
    }
}

/// Environment variables whose name starts with `prefix`, as settings: `APP_DB__PASSWORD` with
/// prefix `APP_` (or `APP`) becomes key `db.password` (double underscore nests, lower case, as
/// the `config` crate does) from source `env:APP_DB__PASSWORD`.
pub(crate) fn from_env<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    prefix: &str,
) -> Vec<Setting> {
    let mut out = Vec::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(prefix) else {
            continue;
        };
        let rest = if prefix.ends_with('_') || prefix.is_empty() {
            rest
        } else {
            match rest.strip_prefix('_') {
                Some(r) => r,
                None => continue,
            }
        };
        if rest.is_empty() {
            continue;
        }
        out.push(Setting {
            key: rest.to_ascii_lowercase().replace("__", "."),
            path: Vec::new(),
            source: format!("env:{name}"),
            value: value.to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(text: &str, format: Format) -> Vec<(String, String)> {
        let tree = parse(text, format).unwrap();
        let mut out = Vec::new();
        flatten(&tree, &mut |_, k, v| out.push((k.to_owned(), v.to_owned())));
        // Map order depends on serde_json's `preserve_order` feature somewhere in the build.
        out.sort();
        out
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn toml_nested_tables_and_arrays_flatten_to_dotted_keys() {
        let text = r#"
            name = "app"
            port = 8080
            when = 1979-05-27T07:32:00Z
            [db]
            password = "@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)"
            [[db.replicas]]
            url = "r0"
            [[db.replicas]]
            url = "r1"
            tags = ["x", 3, "y"]
        "#;
        assert_eq!(
            leaves(text, Format::Toml),
            pairs(&[
                (
                    "db.password",
                    "@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)"
                ),
                ("db.replicas.0.url", "r0"),
                ("db.replicas.1.tags.0", "x"),
                ("db.replicas.1.tags.2", "y"),
                ("db.replicas.1.url", "r1"),
                ("name", "app"),
                ("when", "1979-05-27T07:32:00Z"),
            ])
        );
    }

    #[test]
    fn json_and_yaml_flatten_alike() {
        let json = r#"{"a": {"b": ["s", {"c": "d"}], "n": 1, "z": null, "t": true}}"#;
        let yaml = "a:\n  b:\n    - s\n    - c: d\n  n: 1\n  z: ~\n  t: true\n";
        let expected = pairs(&[("a.b.0", "s"), ("a.b.1.c", "d")]);
        assert_eq!(leaves(json, Format::Json), expected);
        assert_eq!(leaves(yaml, Format::Yaml), expected);
    }

    #[test]
    fn yaml_merge_keys_are_applied() {
        let yaml = "defaults: &defaults\n  db: \"@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)\"\nprod:\n  <<: *defaults\n  name: p\n";
        assert_eq!(
            leaves(yaml, Format::Yaml),
            pairs(&[
                (
                    "defaults.db",
                    "@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)"
                ),
                (
                    "prod.db",
                    "@KeyVault(SecretUri=https://v.vault.azure.net/secrets/a)"
                ),
                ("prod.name", "p"),
            ])
        );
    }

    #[test]
    fn yaml_non_string_keys_and_tags() {
        let yaml = "1: one\ntrue: yes-string\nx: !custom tagged\n";
        assert_eq!(
            leaves(yaml, Format::Yaml),
            pairs(&[("1", "one"), ("true", "yes-string"), ("x", "tagged")])
        );
    }

    #[test]
    fn dotenv_forms() {
        let text = "# comment\n\nexport A=plain value # note\nB='single # kept'\nC=\"dq \\\"x\\\"\\n\"\nD=\"multi\nline\"\nE=\n F = spaced \nG=a#b\n";
        assert_eq!(
            leaves(text, Format::Dotenv),
            pairs(&[
                ("A", "plain value"),
                ("B", "single # kept"),
                ("C", "dq \"x\"\n"),
                ("D", "multi\nline"),
                ("E", ""),
                ("F", "spaced"),
                ("G", "a#b"),
            ])
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
    fn env_prefix_with_or_without_underscore() {
        let vars = [
            ("APP_DB__PASSWORD", "v1"),
            ("APPLE", "no"),
            ("APP_", "empty-name"),
            ("OTHER", "no"),
        ];
        for prefix in ["APP_", "APP"] {
            let found = from_env(vars.iter().copied(), prefix);
            assert_eq!(found.len(), 1, "{prefix}");
            assert_eq!(found[0].key, "db.password");
            assert_eq!(found[0].source, "env:APP_DB__PASSWORD");
            assert_eq!(found[0].value, "v1");
        }
    }

    #[test]
    fn replace_leaf_follows_the_exact_path() {
        let mut tree = parse(
            r#"{"a": {"b": ["s", {"c": "d"}]}, "x.y": "z", "x": {"y": "w"}}"#,
            Format::Json,
        )
        .unwrap();
        let key = |k: &str| Segment::Key(k.to_owned());
        assert!(replace_leaf(
            &mut tree,
            &[key("a"), key("b"), Segment::Index(1), key("c")],
            Value::from("D")
        ));
        assert!(replace_leaf(&mut tree, &[key("x.y")], Value::from("Z")));
        assert!(!replace_leaf(
            &mut tree,
            &[key("a"), key("b"), Segment::Index(7)],
            Value::from("none")
        ));
        assert!(!replace_leaf(
            &mut tree,
            &[key("a")],
            Value::from("not a leaf")
        ));
        assert!(!replace_leaf(
            &mut tree,
            &[key("a"), Segment::Index(0)],
            Value::from("no")
        ));
        assert_eq!(tree["a"]["b"][1]["c"], "D");
        assert_eq!(tree["x.y"], "Z");
        assert_eq!(tree["x"]["y"], "w");
    }

    #[test]
    fn colliding_dotted_keys_keep_distinct_paths() {
        let file = SettingsFile {
            path: PathBuf::from("c.json"),
            format: Format::Json,
            tree: parse(r#"{"a.b": "one", "a": {"b": "two"}}"#, Format::Json).unwrap(),
        };
        let mut found: Vec<(String, Vec<Segment>, String)> = file
            .settings()
            .into_iter()
            .map(|s| (s.key, s.path, s.value))
            .collect();
        found.sort_by(|x, y| x.2.cmp(&y.2));
        let key = |k: &str| Segment::Key(k.to_owned());
        assert_eq!(
            found,
            vec![
                ("a.b".to_owned(), vec![key("a.b")], "one".to_owned()),
                ("a.b".to_owned(), vec![key("a"), key("b")], "two".to_owned()),
            ]
        );
    }
}
