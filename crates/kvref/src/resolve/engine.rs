//! The engine under [`Resolver::resolve`] and [`Resolver::refresh`]: plan the distinct fetches,
//! run them vault by vault with bounded concurrency inside one deadline, fill in the outcomes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::reference::{Reference, SecretKey};
use crate::status::ResolveStatus;
use crate::vault::{Secret, VaultError};

use super::Resolver;
use super::builder::MAX_BUDGET;
use super::diagnose::describe_failure;
use super::outcome::{Outcome, Progress, Resolution};

/// Outcomes in input order, and the distinct fetches the pending ones wait for.
#[derive(Default)]
pub(super) struct Plan {
    pub(super) outcomes: Vec<Outcome>,
    /// Per pending outcome: (its position in `outcomes`, the index of its fetch).
    waiting: Vec<(usize, usize)>,
    fetches: Vec<Reference>,
    fetch_index: HashMap<SecretKey, usize>,
}

impl Plan {
    /// Adds an outcome that is already settled (malformed, not allowed, or kept from before).
    pub(super) fn settled(&mut self, outcome: Outcome) {
        self.outcomes.push(outcome);
    }

    /// Adds an outcome that waits for its reference to be fetched; each distinct (vault, name,
    /// version) is fetched once, however many settings name it.
    pub(super) fn pending(&mut self, outcome: Outcome, reference: &Reference) {
        let fetches = &mut self.fetches;
        let index = *self.fetch_index.entry(reference.key()).or_insert_with(|| {
            fetches.push(reference.clone());
            fetches.len() - 1
        });
        self.waiting.push((self.outcomes.len(), index));
        self.outcomes.push(outcome);
    }
}

impl Resolver {
    /// The deadline of a resolution that starts now: saturating, whatever the budget.
    fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.budget)
            .or_else(|| now.checked_add(MAX_BUDGET))
            .unwrap_or(now)
    }

    /// Fetches what `plan` waits for and settles its outcomes.
    pub(super) async fn run(
        &self,
        plan: Plan,
        progress: &(impl Fn(Progress) + Sync),
    ) -> Resolution {
        let deadline = self.deadline();
        let Plan {
            mut outcomes,
            waiting,
            fetches,
            ..
        } = plan;
        progress(Progress {
            settled: 0,
            total: fetches.len(),
        });
        let results = self.fetch_all(&fetches, deadline, progress).await;
        for (outcome_index, fetch_index) in waiting {
            let outcome = &mut outcomes[outcome_index];
            match &results[fetch_index] {
                Ok(secret) => {
                    outcome.status = ResolveStatus::Resolved;
                    outcome.resolved_version = secret.version().map(str::to_owned);
                    outcome.value = Some(secret.value().clone());
                    outcome.attributes = secret.attributes().clone();
                    outcome.error_code = None;
                    outcome.message = None;
                    outcome.fix = None;
                }
                Err(error) => {
                    outcome.value = None;
                    outcome.resolved_version = None;
                    outcome.attributes = Default::default();
                    describe_failure(outcome, error, self.budget, &self.allowed);
                }
            }
        }
        Resolution {
            outcomes,
            policy: self.policy,
        }
    }

    /// Fetches every distinct secret, vault by vault in parallel, bounded per vault.
    async fn fetch_all(
        &self,
        fetches: &[Reference],
        deadline: Instant,
        progress: &(impl Fn(Progress) + Sync),
    ) -> Vec<Result<Secret, VaultError>> {
        let settled = AtomicUsize::new(0);
        let total = fetches.len();
        let mut by_vault: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in fetches.iter().enumerate() {
            by_vault.entry(r.vault_host()).or_default().push(i);
        }
        let per_vault = by_vault.into_values().map(|indices| {
            stream::iter(indices)
                // No timeout around the fetch: it ends by the deadline itself, with what the
                // vault last said. An outer timeout at the same instant could cut off a fetch
                // waiting for another's discovery of the vault and report a vault that kept
                // answering 429 as one that did not answer.
                .map(|i| {
                    let settled = &settled;
                    async move {
                        let fetched = self.client.fetch(&fetches[i], deadline).await;
                        progress(Progress {
                            settled: settled.fetch_add(1, Ordering::Relaxed) + 1,
                            total,
                        });
                        (i, fetched)
                    }
                })
                .buffer_unordered(self.concurrency_per_vault)
                .collect::<Vec<_>>()
        });
        // Every fetch ends (by the deadline at the latest), so each index comes back once.
        let mut results: Vec<(usize, Result<Secret, VaultError>)> =
            futures_util::future::join_all(per_vault)
                .await
                .into_iter()
                .flatten()
                .collect();
        results.sort_unstable_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, fetched)| fetched).collect()
    }
}
