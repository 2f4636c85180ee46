//! Resolution: find the references in every profile, resolve them with the core, and merge one
//! overlay per secret (and replaced provider) on top of the user's figment.

use std::collections::{BTreeMap, BTreeSet};

use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Profile, Provider};
use kvref::secrecy::ExposeSecret;
use kvref::{Outcome, Resolver};

use crate::Error;
use crate::overlay::Overlay;
use crate::redact::Redactions;
use crate::walk::{self, Candidate};

/// The figment's values, or its own error (made safe: the figment may already hold secrets).
pub(crate) fn data_of(figment: &Figment) -> Result<Map<Profile, Dict>, Error> {
    figment
        .data()
        .map_err(|e| Error::redacted_figment(Redactions::of(figment).error(e)))
}

/// Resolves with a resolver made only when the figment holds a reference.
pub(crate) async fn resolve_lazily<F, Fut>(figment: Figment, resolver: F) -> Result<Figment, Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Resolver, kvref::Error>>,
{
    let data = data_of(&figment)?;
    let candidates = walk::candidates(&figment, &data);
    if candidates.is_empty() {
        // No request, no credential lookup: local mode would contact the emulator.
        tracing::debug!("kvref-figment: no Key Vault reference in the figment");
        return Ok(figment);
    }
    let resolver = resolver().await?;
    overlay(figment, data, &candidates, &resolver).await
}

async fn overlay(
    figment: Figment,
    current: Map<Profile, Dict>,
    candidates: &[Candidate],
    resolver: &Resolver,
) -> Result<Figment, Error> {
    let settings = candidates
        .iter()
        .map(|c| (c.key.clone(), c.literal.clone()));
    let resolved = resolver.resolve(settings).await.into_result()?;
    overlay_resolved(figment, current, candidates, &resolved)
}

/// Merges the `resolved` secrets of `candidates` (the resolver's input, in order) on top of
/// `figment`, whose values are `current`.
pub(crate) fn overlay_resolved(
    mut figment: Figment,
    mut current: Map<Profile, Dict>,
    candidates: &[Candidate],
    resolved: &kvref::Resolved,
) -> Result<Figment, Error> {
    // One overlay per (secret id, provider of the replaced value): the metadata names the secret
    // and interpolates keys as the replaced value's provider does.
    let mut groups: BTreeMap<(String, Tag), Vec<(usize, Value)>> = BTreeMap::new();
    for (index, outcome, secret) in resolved.secrets() {
        let Some(candidate) = candidates.get(index) else {
            continue;
        };
        groups
            .entry((secret_id(outcome), candidate.tag))
            .or_default()
            .push((index, Overlay::secret(secret.expose_secret())));
    }
    let dropped: BTreeSet<usize> = resolved.dropped().collect();
    for outcome in resolved.outcomes() {
        if let Some(candidate) = candidates.get(outcome.index())
            && dropped.contains(&outcome.index())
        {
            groups
                .entry((dropped_source(outcome), candidate.tag))
                .or_default()
                .push((outcome.index(), Overlay::dropped()));
        }
    }

    for ((source, tag), leaves) in groups {
        tracing::debug!(secret_id = %source, settings = leaves.len(), "kvref-figment: overlay");
        let mut overlay = Overlay::new(source, figment.get_metadata(tag));
        for (index, leaf) in leaves {
            overlay.insert(&current, &candidates[index], leaf);
        }
        let arrays_changed = overlay.touches_array;
        figment = figment.merge(overlay);
        if arrays_changed {
            current = data_of(&figment)?;
        }
    }
    Ok(figment)
}

/// The secret id: the secret's URL with the version Key Vault served.
fn secret_id(outcome: &Outcome) -> String {
    let Some(reference) = outcome.reference() else {
        return "a Key Vault secret".into();
    };
    let url = format!(
        "{}/secrets/{}",
        reference.vault_url(),
        reference.secret_name()
    );
    match outcome.resolved_version().or(reference.version()) {
        Some(version) => format!("{url}/{version}"),
        None => url,
    }
}

/// Where a dropped value "came from": the reference and why it was not resolved.
fn dropped_source(outcome: &Outcome) -> String {
    let what = outcome
        .reference()
        .map_or_else(|| "a malformed reference".into(), |r| r.secret_url());
    format!("{what} (not resolved: {}; dropped)", outcome.status())
}
