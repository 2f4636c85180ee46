//! The settings tree of a built `Config`: where each string leaf is, named as `config` names it.

use std::fmt;

use config::{Value, ValueKind};

/// One step from a table or an array to a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A table entry.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Where a value sits in the tree: the steps from the root, shown as `config` writes paths
/// (`servers[0].password`), the form `Config::get` and config's errors use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Path(pub(crate) Vec<Step>);

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

/// Every string leaf of `root` that may be a Key Vault reference, depth first, with its path.
/// Only these reach the resolver; every other value is never looked at again.
pub(crate) fn candidate_leaves(root: &Value) -> Vec<(Path, String)> {
    let mut leaves = Vec::new();
    walk(root, &mut Vec::new(), &mut leaves);
    leaves
}

fn walk(value: &Value, steps: &mut Vec<Step>, out: &mut Vec<(Path, String)>) {
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
            out.push((Path(steps.clone()), text.clone()));
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
