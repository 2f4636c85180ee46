//! The overlay providers: one per resolved secret (and provider it replaces a value of), merged
//! on top of the user's figment, so that each secret carries its own "Azure Key Vault" metadata
//! while every other value keeps its tag and provenance.

use figment::value::{Dict, Empty, Map, Tag, Value};
use figment::{Metadata, Profile, Provider, Source};

use crate::walk::{Candidate, Step};

/// The metadata name of every value this crate puts into a figment; its source is
/// [`Source::Custom`] with the secret id. How to tell a secret's provenance apart:
///
/// ```
/// fn from_key_vault(figment: &figment::Figment, key: &str) -> Option<String> {
///     let metadata = figment.find_metadata(key)?;
///     (metadata.name == kvref_figment::METADATA_NAME)
///         .then(|| metadata.source.as_ref()?.custom().map(str::to_owned))?
/// }
/// let plain = figment::Figment::from(("port", 8080));
/// assert_eq!(from_key_vault(&plain, "port"), None);
/// ```
pub const METADATA_NAME: &str = "Azure Key Vault";

/// A provider holding a few leaves, each at its original path and profile.
pub(crate) struct Overlay {
    metadata: Metadata,
    data: Map<Profile, Dict>,
    /// Whether a leaf sits in an array: figment replaces arrays whole, so the overlay holds a
    /// copy of the array as it is now, and the next overlay must start from the merged result.
    pub(crate) touches_array: bool,
}

impl Overlay {
    /// An overlay whose values come from `source` (the secret id, or why a value was dropped),
    /// named and interpolated like the provider of the value it replaces (so figment's errors
    /// name the key the way the app wrote it).
    pub(crate) fn new(source: String, replaced: Option<&Metadata>) -> Overlay {
        let mut metadata = replaced.cloned().unwrap_or_default();
        metadata.name = METADATA_NAME.into();
        metadata.source = Some(Source::Custom(source));
        metadata.provide_location = None;
        Overlay {
            metadata,
            data: Map::new(),
            touches_array: false,
        }
    }

    /// Puts `leaf` at `candidate`'s path under its profile. `current` is the figment's data now:
    /// the overlay's dictionaries take the tags of the dictionaries they merge into (figment
    /// keeps the incoming dictionary's tag), and arrays are copied with their elements' tags.
    pub(crate) fn insert(
        &mut self,
        current: &Map<Profile, Dict>,
        candidate: &Candidate,
        leaf: Value,
    ) {
        let Some(original) = current.get(&candidate.profile) else {
            return;
        };
        let root = self.data.entry(candidate.profile.clone()).or_default();
        self.touches_array |= candidate.path.iter().any(|s| matches!(s, Step::Index(_)));
        place_in_dict(root, original, &candidate.path, leaf);
    }

    /// A resolved secret: a plain string, tagged with this overlay's metadata by figment.
    pub(crate) fn secret(value: &str) -> Value {
        Value::String(Tag::Default, value.to_owned())
    }

    /// A dropped setting (`UnresolvedPolicy::Drop`): figment cannot delete a key by merging, so
    /// the key becomes empty (`None` for an `Option` field).
    pub(crate) fn dropped() -> Value {
        Value::Empty(Tag::Default, Empty::None)
    }
}

/// Sparse placement: only the dictionaries on the way to the leaf, merged key by key by figment.
fn place_in_dict(target: &mut Dict, original: &Dict, path: &[Step], leaf: Value) {
    let Some((Step::Key(key), rest)) = path.split_first() else {
        return;
    };
    let Some(original_child) = original.get(key) else {
        return;
    };
    if rest.is_empty() {
        target.insert(key.clone(), leaf);
        return;
    }
    match original_child {
        Value::Dict(tag, original_dict) => {
            let entry = target
                .entry(key.clone())
                .or_insert_with(|| Value::Dict(*tag, Dict::new()));
            if let Value::Dict(_, dict) = entry {
                place_in_dict(dict, original_dict, rest, leaf);
            }
        }
        Value::Array(..) => {
            let entry = target
                .entry(key.clone())
                .or_insert_with(|| original_child.clone());
            replace_in_copy(entry, rest, leaf);
        }
        _ => {}
    }
}

/// Placement inside a copied array: everything below is already a full copy.
fn replace_in_copy(target: &mut Value, path: &[Step], leaf: Value) {
    let Some((step, rest)) = path.split_first() else {
        *target = leaf;
        return;
    };
    let child = match (step, target) {
        (Step::Index(index), Value::Array(_, items)) => items.get_mut(*index),
        (Step::Key(key), Value::Dict(_, dict)) => dict.get_mut(key),
        _ => None,
    };
    if let Some(child) = child {
        replace_in_copy(child, rest, leaf);
    }
}

impl Provider for Overlay {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(self.data.clone())
    }
}
