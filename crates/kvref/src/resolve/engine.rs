//! The engine under [`Resolver::resolve`] and [`Resolver::refresh`]: plan the distinct fetches,
//! run them vault by vault with bounded concurrency inside one deadline, fill in the outcomes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument;

use crate::reference::{Reference, SecretKey};
use crate::status::ResolveStatus;
use crate::transport::Protocol;
use crate::vault::on_lane;
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
        let mut by_vault: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in fetches.iter().enumerate() {
            by_vault.entry(r.vault_host()).or_default().push(i);
        }
        let run = Run {
            fetches,
            deadline,
            progress,
            settled: &settled,
        };
        let per_vault = by_vault
            .into_iter()
            .map(|(host, indices)| self.fetch_vault(&run, host, indices));
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

    /// Fetches the secrets of one vault, as many at once as its connections carry: over
    /// HTTP/1.1 `concurrency_per_vault` (one connection each); over HTTP/2 the streams of one
    /// connection, times the lanes the batch needs (see `transport::connections`). Until the
    /// vault's first answer tells the protocol, one fetch goes (it discovers the challenge); the
    /// batch widens as soon as the answer is in.
    async fn fetch_vault(
        &self,
        run: &Run<'_, impl Fn(Progress) + Sync>,
        host: &str,
        indices: Vec<usize>,
    ) -> Vec<(usize, Result<Secret, VaultError>)> {
        let total = indices.len();
        let mut learnt = self.transport.watch_protocols();
        let mut watching = true;
        let mut waiting = indices.into_iter();
        let mut in_flight = JoinSet::new();
        // The lane and the fetch of each task in flight.
        let mut started = HashMap::new();
        let mut load = vec![0usize; self.transport.vault_lanes()];
        let mut results = Vec::with_capacity(total);
        loop {
            let known = self.transport.protocol_of(host).is_some();
            let (lanes, per_lane) = self.connections_for(host, total);
            while in_flight.len() < lanes * per_lane {
                let Some(i) = waiting.next() else { break };
                // The least busy lane; ties go to the lowest, so lane 0 fills first.
                let lane = (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0);
                load[lane] += 1;
                let client = self.client.clone();
                let reference = run.fetches[i].clone();
                let deadline = run.deadline;
                // A task each, so that the fetches of a batch run on every worker of the
                // runtime rather than all inside the caller's task. No timeout around the
                // fetch: it ends by the deadline itself, with what the vault last said. An
                // outer timeout at the same instant could cut off a fetch waiting for another's
                // discovery of the vault and report a vault that kept answering 429 as one that
                // did not answer.
                let task = in_flight.spawn(
                    async move { on_lane(lane, client.fetch(&reference, deadline)).await }
                        .in_current_span(),
                );
                started.insert(task.id(), (lane, i));
            }
            tokio::select! {
                done = in_flight.join_next_with_id() => {
                    let (id, fetched) = match done {
                        Some(Ok((id, fetched))) => (id, fetched),
                        // A fetch does not panic; if one did, the panic is the caller's.
                        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Some(Err(e)) => (e.id(), Err(VaultError::cancelled())),
                        None => break,
                    };
                    // Every task's id was noted when it was spawned.
                    let Some((lane, i)) = started.remove(&id) else { continue };
                    load[lane] -= 1;
                    (run.progress)(Progress {
                        settled: run.settled.fetch_add(1, Ordering::Relaxed) + 1,
                        total: run.fetches.len(),
                    });
                    results.push((i, fetched));
                }
                // The first answer told the protocol: widen the batch at once.
                learnt_now = learnt.changed(),
                    if watching && !known && !waiting.as_slice().is_empty() =>
                {
                    // The transport is gone (cannot happen while `self` holds it): carry on at
                    // the width the first answers leave.
                    watching = learnt_now.is_ok();
                }
            }
        }
        results
    }

    /// The lanes and the requests in flight per lane for `total` fetches from `host`.
    fn connections_for(&self, host: &str, total: usize) -> (usize, usize) {
        match self.transport.protocol_of(host) {
            Some(Protocol::Http2) => {
                let streams = self.transport.h2_streams_per_connection();
                let lanes = total
                    .div_ceil(streams)
                    .clamp(1, self.transport.vault_lanes());
                (lanes, streams)
            }
            Some(Protocol::Http1) => (1, self.concurrency_per_vault),
            // Only the first fetch goes before the vault's first answer: the others would wait
            // for its challenge anyway, and sent now they would all pile onto one connection
            // before the batch can be spread over the lanes it needs.
            None => (1, 1),
        }
    }
}

/// What every fetch of one resolution shares.
struct Run<'a, P> {
    fetches: &'a [Reference],
    deadline: Instant,
    progress: &'a P,
    settled: &'a AtomicUsize,
}
