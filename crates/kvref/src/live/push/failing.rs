//! A push while Key Vault is failing (the refresher's last cycle failed): the refreshes the
//! events call for are scheduled at once, but the delivery is refused (503) without its ids or
//! versions being remembered, so that Event Grid delivers it again and the retry is judged on
//! what the refresh did by then. Answering 200 would drop the event: its refresh could fail,
//! and Event Grid never retries a delivery it was told succeeded.

use super::{Inner, PushState};
use crate::events::{Event, EventKind};

impl PushState {
    /// Schedules a refresh of each followed secret that `events` announce a new version of
    /// (one not already in use), remembering nothing; returns how many were scheduled.
    pub(in crate::live) fn schedule_again(&self, events: &[Event]) -> usize {
        let mut guard = self.lock();
        let Inner {
            targets, pending, ..
        } = &mut *guard;
        let mut scheduled = 0;
        for event in events {
            let EventKind::SecretNewVersionCreated(secret) = &event.kind else {
                continue;
            };
            for (index, target) in targets.iter().enumerate() {
                let known = secret.version.as_deref().is_some_and(|v| target.knows(v));
                if !known && secret.is_secret(&target.host, &target.vault, &target.name) {
                    pending.insert(index);
                    scheduled += 1;
                }
            }
        }
        drop(guard);
        if scheduled > 0 {
            self.wake.notify_one();
        }
        scheduled
    }
}
