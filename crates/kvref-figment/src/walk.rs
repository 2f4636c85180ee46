//! The one walker of a figment's value tree: every leaf of every profile with the path to it,
//! and on top of it the string leaves that may be Key Vault references.

use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Profile};

/// One step from a value to one of its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A dictionary entry.
    Key(String),
    /// An array element.
    Index(usize),
}

/// Calls `visit` with the profile, the path from the profile's root and the value of every leaf
/// (anything but a dictionary or an array) of `data`.
pub(crate) fn for_each_leaf(
    data: &Map<Profile, Dict>,
    visit: &mut impl FnMut(&Profile, &[Step], &Value),
) {
    let mut path = Vec::new();
    for (profile, dict) in data {
        for (key, value) in dict {
            path.push(Step::Key(key.clone()));
            descend(profile, value, &mut path, visit);
            path.pop();
        }
    }
}

fn descend(
    profile: &Profile,
    value: &Value,
    path: &mut Vec<Step>,
    visit: &mut impl FnMut(&Profile, &[Step], &Value),
) {
    match value {
        Value::Dict(_, dict) => {
            for (key, child) in dict {
                path.push(Step::Key(key.clone()));
                descend(profile, child, path, visit);
                path.pop();
            }
        }
        Value::Array(_, items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(Step::Index(index));
                descend(profile, child, path, visit);
                path.pop();
            }
        }
        leaf => visit(profile, path, leaf),
    }
}

/// A string leaf that may be a reference.
#[derive(Clone, Debug)]
pub(crate) struct Candidate {
    /// The profile the leaf was found in; its overlay goes under the same profile.
    pub(crate) profile: Profile,
    /// From the profile's root dictionary to the leaf.
    pub(crate) path: Vec<Step>,
    /// The tag of the provider the leaf came from.
    pub(crate) tag: Tag,
    /// The setting's name as figment's own errors print it: the providing metadata's
    /// interpolation, `default.db.password` for a file, `DB.PASSWORD` for `Env`.
    pub(crate) key: String,
    /// The value as written.
    pub(crate) literal: String,
}

/// Every string leaf of every profile of `data` that passes kvref's cheap pre-filter.
pub(crate) fn candidates(figment: &Figment, data: &Map<Profile, Dict>) -> Vec<Candidate> {
    let mut found = Vec::new();
    for_each_leaf(data, &mut |profile, path, value| {
        if let Value::String(tag, text) = value
            && kvref::reference::may_be_reference(text)
        {
            found.push(Candidate {
                profile: profile.clone(),
                path: path.to_vec(),
                tag: *tag,
                key: key_name(figment, profile, *tag, path),
                literal: text.clone(),
            });
        }
    });
    found
}

/// The key as figment's errors name it: the providing metadata's interpolation of the profile
/// and the path (array indices as numbers, as figment's own error paths write them).
fn key_name(figment: &Figment, profile: &Profile, tag: Tag, path: &[Step]) -> String {
    let keys: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Key(key) => key.clone(),
            Step::Index(index) => index.to_string(),
        })
        .collect();
    match figment.get_metadata(tag) {
        Some(metadata) => metadata.interpolate(profile, &keys),
        None => format!("{profile}.{}", keys.join(".")),
    }
}
