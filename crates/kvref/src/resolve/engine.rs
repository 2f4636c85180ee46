//! The engine under [`Resolver::resolve`] and [`Resolver::refresh`]: plan the distinct fetches,
//! run them vault by vault with bounded concurrency inside one deadline, fill in the outcomes.

use std::collections::{BTreeMap, HashMap};

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::reference::{Reference, SecretKey};
use crate::status::ResolveStatus;
use crate::vault::{Secret, VaultError};

use super::Resolver;
use super::batch::VaultBatch;
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
        progress: Option<&(dyn Fn(Progress) + Sync)>,
    ) -> Resolution {
        let deadline = self.deadline();
        let Plan {
            mut outcomes,
            waiting,
            fetches,
            ..
        } = plan;
        if let Some(progress) = progress {
            progress(Progress {
                settled: 0,
                total: fetches.len(),
            });
        }
        let results = self.fetch_all(fetches, deadline, progress).await;
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

    /// Fetches every distinct secret: each vault's batch in a task of its own (see
    /// [`VaultBatch`]), all in parallel. The caller's task hears from each vault once, when its
    /// batch is done (and, when it reports progress, as each fetch settles): not once per fetch.
    /// That task is often the one `block_on` drives on the main thread, outside the runtime's
    /// workers, and waking it costs a system call and a switch of threads each time.
    async fn fetch_all(
        &self,
        fetches: Vec<Reference>,
        deadline: Instant,
        progress: Option<&(dyn Fn(Progress) + Sync)>,
    ) -> Vec<Result<Secret, VaultError>> {
        let total = fetches.len();
        let mut by_vault: BTreeMap<String, Vec<(usize, Reference)>> = BTreeMap::new();
        for (i, reference) in fetches.into_iter().enumerate() {
            match by_vault.get_mut(reference.vault_host()) {
                Some(batch) => batch.push((i, reference)),
                None => {
                    by_vault.insert(reference.vault_host().to_owned(), vec![(i, reference)]);
                }
            }
        }
        let (settled_tx, mut settled_rx) = mpsc::unbounded_channel();
        let mut vaults = JoinSet::new();
        for (host, batch) in by_vault {
            let vault = VaultBatch {
                client: self.client.clone(),
                transport: self.transport.clone(),
                concurrency_per_vault: self.concurrency_per_vault,
                host,
                deadline,
                settled: progress.is_some().then(|| settled_tx.clone()),
            };
            vaults.spawn(vault.run(batch).in_current_span());
        }
        drop(settled_tx);
        let mut results: Vec<Option<Result<Secret, VaultError>>> =
            std::iter::repeat_with(|| None).take(total).collect();
        let mut settled = 0;
        let report = |settled: usize| {
            if let Some(progress) = progress {
                progress(Progress { settled, total });
            }
        };
        loop {
            tokio::select! {
                biased;
                Some(()) = settled_rx.recv(), if progress.is_some() => {
                    settled += 1;
                    report(settled);
                }
                done = vaults.join_next() => match done {
                    None => break,
                    Some(Ok(fetched)) => {
                        for (i, result) in fetched {
                            results[i] = Some(result);
                        }
                    }
                    // A fetch does not panic; if one did, the panic is the caller's.
                    Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // Cancelled by the runtime's shutdown: its fetches stay unfilled, below.
                    Some(Err(_)) => {}
                },
            }
        }
        // Every fetch has settled now: report the ones whose news was not read yet (they came
        // with their batch's end) and a cancelled batch's.
        while progress.is_some() && settled < total {
            settled += 1;
            report(settled);
        }
        // Every batch returns each of its fetches once; a cancelled batch returns none.
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(VaultError::cancelled())))
            .collect()
    }
}
