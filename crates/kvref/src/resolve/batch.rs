//! The fetches of one vault in one resolution, as many at once as its connections carry: over
//! HTTP/1.1 `concurrency_per_vault` (one connection each); over HTTP/2 the streams of one
//! connection, times the lanes the batch needs (see `transport::connections`). Until the
//! vault's first answer tells the protocol, one fetch goes (it discovers the challenge); the
//! batch widens as soon as the answer is in.
//!
//! The batch is one task (the resolver spawns one per vault, so the vaults spread over the
//! runtime's workers) and polls its fetches itself: a task per fetch would add an allocation,
//! a JoinSet entry and a wake-up for each secret, and the connections' own tasks already spread
//! the HTTP/2 and TLS work.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::reference::Reference;
use crate::transport::{HttpTransport, Protocol};
use crate::vault::{Secret, SecretClient, VaultError, on_lane};

/// One vault's share of a resolution, owned so that it runs in a task of its own.
pub(super) struct VaultBatch {
    pub(super) client: SecretClient,
    pub(super) transport: HttpTransport,
    pub(super) concurrency_per_vault: usize,
    pub(super) host: String,
    pub(super) deadline: Instant,
    /// Told once per settled fetch, when the caller reports progress.
    pub(super) settled: Option<mpsc::UnboundedSender<()>>,
}

impl VaultBatch {
    /// Fetches `batch` (each fetch with its index in the resolution); returns each index once.
    pub(super) async fn run(
        self,
        batch: Vec<(usize, Reference)>,
    ) -> Vec<(usize, Result<Secret, VaultError>)> {
        let total = batch.len();
        let mut learnt = self.transport.watch_protocols();
        let mut watching = true;
        let mut waiting = batch.into_iter().peekable();
        let mut in_flight = FuturesUnordered::new();
        let mut load = vec![0usize; self.transport.vault_lanes()];
        let mut results = Vec::with_capacity(total);
        loop {
            let protocol = self.transport.protocol_of(&self.host);
            let (lanes, per_lane) = self.connections_for(protocol, total);
            while in_flight.len() < lanes * per_lane {
                let Some((i, reference)) = waiting.next() else {
                    break;
                };
                // The least busy lane; ties go to the lowest, so lane 0 fills first.
                let lane = (0..lanes).min_by_key(|&l| load[l]).unwrap_or(0);
                load[lane] += 1;
                let client = &self.client;
                let deadline = self.deadline;
                // No timeout around the fetch: it ends by the deadline itself, with what the
                // vault last said. An outer timeout at the same instant could cut off a fetch
                // waiting for another's discovery of the vault and report a vault that kept
                // answering 429 as one that did not answer.
                in_flight.push(async move {
                    let fetched = on_lane(lane, client.fetch(&reference, deadline)).await;
                    (lane, i, fetched)
                });
            }
            tokio::select! {
                done = in_flight.next() => {
                    let Some((lane, i, fetched)) = done else { break };
                    load[lane] -= 1;
                    if let Some(settled) = &self.settled {
                        // The caller may have stopped listening: nothing to tell then.
                        let _ = settled.send(());
                    }
                    results.push((i, fetched));
                }
                // The first answer told the protocol: widen the batch at once.
                learnt_now = learnt.changed(),
                    if watching && protocol.is_none() && waiting.peek().is_some() =>
                {
                    // The transport is gone (cannot happen while `self` holds it): carry on at
                    // the width the first answers leave.
                    watching = learnt_now.is_ok();
                }
            }
        }
        results
    }

    /// The lanes and the requests in flight per lane for `total` fetches from the vault, which
    /// answered over `protocol` (`None`: not yet).
    fn connections_for(&self, protocol: Option<Protocol>, total: usize) -> (usize, usize) {
        match protocol {
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
