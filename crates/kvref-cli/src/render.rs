//! Writing resolved settings back out, as `kvref resolve` prints them: JSON, TOML or .env.

use serde_json::Value;

/// The output formats of `kvref resolve`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// The settings tree as JSON.
    Json,
    /// The settings tree as TOML (null values are left out: TOML has none).
    Toml,
    /// One `NAME=value` line per leaf: nested keys joined by `__`, upper case.
    Env,
}

/// Renders `tree` (an object) in `format`. `flat_names` keeps the keys of a flat source (a .env
/// file) as they are in `env` output instead of deriving `DB__PASSWORD` from `db.password`.
pub(crate) fn render(
    tree: &Value,
    format: OutputFormat,
    flat_names: bool,
) -> Result<String, String> {
    match format {
        OutputFormat::Json => serde_json::to_string_pretty(tree)
            .map(|mut s| {
                s.push('\n');
                s
            })
            .map_err(|e| e.to_string()),
        OutputFormat::Toml => {
            let value = to_toml(tree).unwrap_or(toml::Value::Table(toml::Table::new()));
            toml::to_string_pretty(&value).map_err(|e| e.to_string())
        }
        OutputFormat::Env => {
            let mut out = String::new();
            flatten_all(tree, &mut |key, leaf| {
                let name = if flat_names {
                    key.to_owned()
                } else {
                    env_name(key)
                };
                let text = match leaf {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                out.push_str(&name);
                out.push('=');
                out.push_str(&env_quote(&text));
                out.push('\n');
            });
            Ok(out)
        }
    }
}

/// `db.password` -> `DB__PASSWORD`, `hosts.0` -> `HOSTS__0`; characters a shell name cannot hold
/// become `_`.
fn env_name(key: &str) -> String {
    key.split('.')
        .map(|part| {
            part.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("__")
}

/// Bare when safe, otherwise double-quoted with `\`, `"`, `$` and control characters escaped.
fn env_quote(value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./:@+,%".contains(c));
    if bare {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '`' => out.push_str("\\`"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// Calls `leaf(dotted key, value)` for every leaf under `node` (strings, numbers, booleans,
/// nulls; not empty tables or arrays): the names of `env` output, `db.hosts.0` for
/// `DB__HOSTS__0`. Output only: settings are read through config's walker.
fn flatten_all(node: &Value, leaf: &mut dyn FnMut(&str, &Value)) {
    fn under(node: &Value, prefix: &mut String, leaf: &mut dyn FnMut(&str, &Value)) {
        let mut descend = |prefix: &mut String, name: &str, child: &Value| {
            let len = prefix.len();
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(name);
            under(child, prefix, leaf);
            prefix.truncate(len);
        };
        match node {
            Value::Object(map) => map.iter().for_each(|(k, v)| descend(prefix, k, v)),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    descend(prefix, &i.to_string(), v);
                }
            }
            leaf_value => leaf(prefix, leaf_value),
        }
    }
    under(node, &mut String::new(), leaf);
}

fn to_toml(value: &Value) -> Option<toml::Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(items) => toml::Value::Array(items.iter().filter_map(to_toml).collect()),
        Value::Object(map) => toml::Value::Table(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Value {
        serde_json::json!({
            "name": "app",
            "port": 8080,
            "db": {"password": "<redacted: myvault/Db@0123>", "hosts": ["a", "b"]},
            "nothing": null
        })
    }

    #[test]
    fn env_output_nests_with_double_underscores_and_quotes() {
        let out = render(&tree(), OutputFormat::Env, false).unwrap();
        assert!(out.ends_with('\n'));
        // Key order follows the tree's map, which may or may not keep insertion order.
        let mut lines: Vec<&str> = out.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "DB__HOSTS__0=a",
                "DB__HOSTS__1=b",
                "DB__PASSWORD=\"<redacted: myvault/Db@0123>\"",
                "NAME=app",
                "NOTHING=",
                "PORT=8080",
            ]
        );
    }

    #[test]
    fn env_output_keeps_flat_names() {
        let tree = serde_json::json!({"Db_Password": "a b$c\"d\n"});
        assert_eq!(
            render(&tree, OutputFormat::Env, true).unwrap(),
            "Db_Password=\"a b\\$c\\\"d\\n\"\n"
        );
    }

    #[test]
    fn toml_and_json_round_trip() {
        let toml_text = render(&tree(), OutputFormat::Toml, false).unwrap();
        let back: toml::Table = toml::from_str(&toml_text).unwrap();
        assert_eq!(
            back["db"]["password"].as_str(),
            Some("<redacted: myvault/Db@0123>")
        );
        assert!(!back.contains_key("nothing"));
        let json_text = render(&tree(), OutputFormat::Json, false).unwrap();
        let back: Value = serde_json::from_str(&json_text).unwrap();
        assert_eq!(back, tree());
    }
}
