//! The settings tree of a built `Config`: where each string leaf is, named as `config` names it.

use std::fmt;

use config::{Value, ValueKind};

/// One step from a table or an array to a child.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// A table entry.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Where a value sits in the tree: the steps from the root, shown as `config` writes paths
/// (`servers[0].password`), the form `Config::get` and config's errors use.
///
/// ```
/// let config = config::Config::builder()
///     .set_override("servers[0].password", "@KeyVault(VaultName=myvault;SecretName=Db)")?
///     .build()?;
/// let leaf = &kvref_config::references(&config.cache)[0];
/// assert_eq!(leaf.path().to_string(), "servers[0].password");
/// assert_eq!(leaf.path().steps().len(), 3);
/// # Ok::<(), config::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub(crate) Vec<Step>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(key) if position == 0 => f.write_str(key)?,
                Step::Key(key) => write!(f, ".{key}")?,
                Step::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl Path {
    /// The steps from the root, first to last: what finds the value again in another tree of
    /// the same shape (a table key may itself contain a dot, which the written form hides).
    pub fn steps(&self) -> &[Step] {
        &self.0
    }

    /// Parses `a.b[0].c`; `None` for anything else. Only for looking keys up, so it need not
    /// reject what config's own parser would.
    pub(crate) fn parse(text: &str) -> Option<Path> {
        let mut steps = Vec::new();
        for part in text.split('.') {
            let (key, mut indices) = part.split_at(part.find('[').unwrap_or(part.len()));
            if key.is_empty() {
                return None;
            }
            steps.push(Step::Key(key.to_owned()));
            while let Some(rest) = indices.strip_prefix('[') {
                let (index, after) = rest.split_once(']')?;
                steps.push(Step::Index(index.trim().parse().ok()?));
                indices = after;
            }
            if !indices.is_empty() {
                return None;
            }
        }
        Some(Path(steps))
    }

    /// The value at this path, if the tree has one.
    pub(crate) fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.0
            .iter()
            .try_fold(root, |value, step| match (step, &value.kind) {
                (Step::Key(key), ValueKind::Table(table)) => table.get(key),
                (Step::Index(index), ValueKind::Array(array)) => array.get(*index),
                _ => None,
            })
    }

    /// The value at this path, for replacing it; `None` when the tree has no such place.
    pub(crate) fn get_mut<'v>(&self, root: &'v mut Value) -> Option<&'v mut Value> {
        self.0
            .iter()
            .try_fold(root, |value, step| match (step, &mut value.kind) {
                (Step::Key(key), ValueKind::Table(table)) => table.get_mut(key),
                (Step::Index(index), ValueKind::Array(array)) => array.get_mut(*index),
                _ => None,
            })
    }
}

/// A string value that may be a Key Vault reference ([`kvref::reference::may_be_reference`]),
/// and where it is. Its Debug shows the path only.
#[derive(Clone, PartialEq, Eq)]
pub struct Leaf {
    path: Path,
    value: String,
}

impl Leaf {
    /// Where the value is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value as the tree holds it: a candidate reference for the resolver.
    pub fn value(&self) -> &str {
        &self.value
    }

    pub(crate) fn into_path(self) -> Path {
        self.path
    }
}

impl fmt::Debug for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaf")
            .field("path", &self.path.to_string())
            .finish_non_exhaustive()
    }
}

/// Every string leaf under `root` that may be a Key Vault reference (nested tables, arrays), with
/// its path named as `config` names it, in path order: the walk [`resolve`](crate::resolve) does,
/// for tools that report on references without resolving them (the `kvref` command). Only these
/// reach the resolver; every other value is never looked at again. For a built `Config`, pass
/// `&config.cache`.
///
/// ```
/// let config = config::Config::builder()
///     .add_source(config::File::from_str(
///         "port = 8080\n[db]\npassword = \"@Microsoft.KeyVault(VaultName=myvault;SecretName=Db)\"\n\
///          hosts = [\"a\", \"@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Api)\"]\n",
///         config::FileFormat::Toml,
///     ))
///     .build()?;
/// let found: Vec<String> = kvref_config::references(&config.cache)
///     .iter()
///     .map(|leaf| leaf.path().to_string())
///     .collect();
/// assert_eq!(found, ["db.hosts[1]", "db.password"]);
/// # Ok::<(), config::ConfigError>(())
/// ```
pub fn references(root: &Value) -> Vec<Leaf> {
    let mut leaves = Vec::new();
    walk(root, &mut Vec::new(), &mut leaves);
    // Tables are hash maps: sorted, the same settings give the same list every time.
    leaves.sort_by(|a, b| a.path.cmp(&b.path));
    leaves
}

fn walk(value: &Value, steps: &mut Vec<Step>, out: &mut Vec<Leaf>) {
    match &value.kind {
        ValueKind::Table(table) => {
            for (key, child) in table {
                steps.push(Step::Key(key.clone()));
                walk(child, steps, out);
                steps.pop();
            }
        }
        ValueKind::Array(array) => {
            for (index, child) in array.iter().enumerate() {
                steps.push(Step::Index(index));
                walk(child, steps, out);
                steps.pop();
            }
        }
        ValueKind::String(text) if kvref::reference::may_be_reference(text) => {
            out.push(Leaf {
                path: Path(steps.clone()),
                value: text.clone(),
            });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_and_read_as_config_writes_them() {
        for text in ["a", "a.b", "servers[0].password", "m[1][2].x", "a-b_c.d"] {
            assert_eq!(Path::parse(text).unwrap().to_string(), text);
        }
        for text in ["", "a..b", "a[x]", "a[0", "a[0]b", ".a"] {
            assert_eq!(Path::parse(text), None, "{text}");
        }
    }
}
