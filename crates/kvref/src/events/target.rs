//! What a webhook hands its events to: a [`Live`](crate::live::Live), or anything else that
//! can take them. Taking means scheduling: the answer to Event Grid must not wait for Key Vault.

use super::Event;

/// Takes the events of an authenticated delivery and schedules what they call for.
pub trait PushTarget: Send + Sync {
    /// Schedules the refreshes `events` call for (deduplicated and coalesced as the target
    /// sees fit) and returns at once. `Err` when it cannot take them now: the webhook answers
    /// 503 and Event Grid delivers again later.
    fn push(&self, events: &[Event]) -> Result<Pushed, PushUnavailable>;
}

/// What a [`PushTarget`] did with a delivery's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pushed {
    /// Secrets whose refresh was scheduled (or joined one already pending).
    pub scheduled: usize,
    /// Events already seen (same id) or about a version already in use or scheduled.
    pub duplicates: usize,
    /// Events about no secret the target follows: other vaults, other secrets, pinned versions,
    /// other event types.
    pub unmatched: usize,
}

/// Why a [`PushTarget`] cannot take events now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PushUnavailable(pub String);
