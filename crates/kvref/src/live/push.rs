//! Push refresh for a [`Live`]: events from Event Grid (through
//! [`Webhook`](crate::events::Webhook)) or [`Live::notify_new_version`] schedule a refresh of
//! just the secrets they name. Only references that follow the latest version match (by vault
//! host or name and secret name, case-insensitively); events are deduplicated by id (the last
//! [`SEEN_IDS`] kept) and by version (one already in use or already scheduled causes no
//! request); a burst for one secret becomes one refresh. The timer keeps running as the safety
//! net: a pushed refresh does not move it.
//!
//! `SecretNearExpiry` and `SecretExpired` events about a secret in use (pinned or not) are
//! logged and kept as [`ExpiryNotice`]s for [`Live::status`], with no request to Key Vault; a
//! notice goes once the snapshot stops using the version it is about.

mod failing;

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use super::Live;
use super::status::ExpiryNotice;
use crate::Resolution;
use crate::events::{Event, EventKind, PushTarget, PushUnavailable, Pushed, SecretEvent};
use crate::reference::Reference;

/// How many event ids are remembered for deduplication.
pub(super) const SEEN_IDS: usize = 4096;
/// How many versions per secret are remembered as seen (served or scheduled).
const KNOWN_VERSIONS: usize = 16;
/// How many expiry notices are kept (one per secret version in use at most).
const NOTICES: usize = 256;

/// A secret the snapshot uses, pinned or not, for expiry events.
struct InUse {
    host: String,
    vault: String,
    name: String,
    version: Option<String>,
    key: String,
}

/// A secret the snapshot follows the latest version of.
struct Target {
    host: String,
    vault: String,
    name: String,
    /// Versions served or already scheduled, newest last.
    known: VecDeque<String>,
}

impl Target {
    fn is(&self, host: &str, name: &str) -> bool {
        self.host.eq_ignore_ascii_case(host) && self.name.eq_ignore_ascii_case(name)
    }

    fn knows(&self, version: &str) -> bool {
        self.known.iter().any(|v| v.eq_ignore_ascii_case(version))
    }

    fn remember(&mut self, version: &str) {
        if !self.knows(version) {
            if self.known.len() == KNOWN_VERSIONS {
                self.known.pop_front();
            }
            self.known.push_back(version.to_owned());
        }
    }
}

#[derive(Default)]
struct Inner {
    targets: Vec<Target>,
    /// Indices into `targets` waiting for the refresher.
    pending: HashSet<usize>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
    in_use: Vec<InUse>,
    notices: Vec<ExpiryNotice>,
    /// Whether `notices` changed since the refresher last took them.
    notices_changed: bool,
}

impl Inner {
    /// Whether `id` was seen before; remembers it (boundedly) if not. Empty ids are never
    /// duplicates: they come from [`Live::notify_new_version`].
    fn seen_before(&mut self, id: &str) -> bool {
        if id.is_empty() {
            return false;
        }
        if self.seen.contains(id) {
            return true;
        }
        if self.seen_order.len() == SEEN_IDS
            && let Some(oldest) = self.seen_order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.seen.insert(id.to_owned());
        self.seen_order.push_back(id.to_owned());
        false
    }
}

/// What the [`Live`] handle and its refresher share for pushes.
#[derive(Default)]
pub(super) struct PushState {
    inner: Mutex<Inner>,
    /// Woken when something is pending; a wake with nobody waiting is kept for the next wait.
    pub(super) wake: Notify,
}

impl PushState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every operation leaves the state consistent, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Follows the secrets of `resolution` that track the latest version, keeping what was
    /// known of each (called at start and after every cycle).
    pub(super) fn follow(&self, resolution: &Resolution) {
        let mut inner = self.lock();
        inner.in_use = resolution
            .outcomes()
            .iter()
            .filter_map(|o| {
                let r = o.reference()?;
                Some(InUse {
                    host: r.vault_host().to_owned(),
                    vault: r.vault_name().to_owned(),
                    name: r.secret_name().to_owned(),
                    version: o.resolved_version().map(str::to_owned),
                    key: o.key().to_owned(),
                })
            })
            .collect();
        // A notice about a version no longer in use (rotated away) has done its work.
        let before = inner.notices.len();
        let Inner {
            notices, in_use, ..
        } = &mut *inner;
        notices.retain(|n| in_use.iter().any(|u| n.is_about(u)));
        if inner.notices.len() != before {
            inner.notices_changed = true;
        }
        let mut old = std::mem::take(&mut inner.targets);
        let mut targets: Vec<Target> = Vec::new();
        for outcome in resolution.outcomes() {
            let Some(reference) = outcome.reference().filter(|_| outcome.follows_latest()) else {
                continue;
            };
            let (host, name) = (reference.vault_host(), reference.secret_name());
            let index = match targets.iter().position(|t| t.is(host, name)) {
                Some(index) => index,
                None => {
                    let known = old
                        .iter_mut()
                        .find(|t| t.is(host, name))
                        .map(|t| std::mem::take(&mut t.known))
                        .unwrap_or_default();
                    targets.push(Target {
                        host: host.to_owned(),
                        vault: reference.vault_name().to_owned(),
                        name: name.to_owned(),
                        known,
                    });
                    targets.len() - 1
                }
            };
            if let Some(version) = outcome.resolved_version() {
                targets[index].remember(version);
            }
        }
        // Pending refreshes of secrets still followed stay pending, under their new index.
        let pending: Vec<(String, String)> = inner
            .pending
            .drain()
            .filter_map(|i| old.get(i).map(|t| (t.host.clone(), t.name.clone())))
            .collect();
        inner.pending = pending
            .iter()
            .filter_map(|(h, n)| targets.iter().position(|t| t.is(h, n)))
            .collect();
        inner.targets = targets;
    }

    /// Takes what is pending: a filter of the references to refresh now, or `None` when
    /// nothing is (a full cycle took it already).
    pub(super) fn take_pending(&self) -> Option<impl Fn(&Reference) -> bool + Sync + use<>> {
        let mut guard = self.lock();
        let Inner {
            targets, pending, ..
        } = &mut *guard;
        let keys: Vec<(String, String)> = pending
            .drain()
            .filter_map(|i| targets.get(i).map(|t| (t.host.clone(), t.name.clone())))
            .collect();
        (!keys.is_empty()).then_some(move |r: &Reference| {
            keys.iter().any(|(host, name)| {
                r.vault_host().eq_ignore_ascii_case(host)
                    && r.secret_name().eq_ignore_ascii_case(name)
            })
        })
    }

    /// The expiry notices, if they changed since the last call.
    pub(super) fn take_notices(&self) -> Option<Vec<ExpiryNotice>> {
        let mut inner = self.lock();
        std::mem::take(&mut inner.notices_changed).then(|| inner.notices.clone())
    }

    fn push(&self, events: &[Event]) -> Pushed {
        let mut pushed = Pushed::default();
        let mut noted = false;
        let mut inner = self.lock();
        for event in events {
            if inner.seen_before(&event.id) {
                pushed.duplicates += 1;
                continue;
            }
            match &event.kind {
                EventKind::SecretNewVersionCreated(secret) => {
                    schedule(&mut inner, secret, &mut pushed);
                }
                EventKind::SecretNearExpiry(s) | EventKind::SecretExpired(s) => {
                    let expired = matches!(event.kind, EventKind::SecretExpired(_));
                    noted |= note_expiry(&mut inner, s, expired);
                    pushed.unmatched += 1;
                }
                _ => pushed.unmatched += 1,
            }
        }
        drop(inner);
        if pushed.scheduled > 0 || noted {
            self.wake.notify_one();
        }
        pushed
    }
}

impl ExpiryNotice {
    /// Whether this notice is about `secret` (and the version it uses, when it names one).
    fn is_about(&self, secret: &InUse) -> bool {
        let same = self.secret.split_once('/').is_some_and(|(vault, name)| {
            vault.eq_ignore_ascii_case(&secret.vault) && name.eq_ignore_ascii_case(&secret.name)
        });
        same && same_version(&self.version, &secret.version)
    }
}

/// Whether a notice about version `about` concerns a secret used at version `used`: always
/// when either is unknown.
fn same_version(about: &Option<String>, used: &Option<String>) -> bool {
    match (about, used) {
        (Some(about), Some(used)) => about.eq_ignore_ascii_case(used),
        _ => true,
    }
}

/// Logs and keeps an expiry event about a secret in use; returns whether it was one.
fn note_expiry(inner: &mut Inner, event: &SecretEvent, expired: bool) -> bool {
    let users: Vec<&InUse> = inner
        .in_use
        .iter()
        .filter(|u| event.is_secret(&u.host, &u.vault, &u.name))
        .filter(|u| same_version(&event.version, &u.version))
        .collect();
    let Some(first) = users.first() else {
        return false;
    };
    let notice = ExpiryNotice {
        secret: format!("{}/{}", first.vault, first.name),
        keys: users.iter().map(|u| u.key.clone()).collect(),
        version: event.version.clone().or_else(|| first.version.clone()),
        expires: event
            .expires
            .and_then(|s| jiff::Timestamp::from_second(s).ok()),
        expired,
        received: jiff::Timestamp::now(),
    };
    tracing::warn!(
        secret = %notice.secret,
        keys = %notice.keys.join(", "),
        version = notice.version.as_deref().unwrap_or("unknown"),
        expires = ?notice.expires.map(|t| t.to_string()),
        "kvref live: {}",
        if expired {
            "Key Vault says a secret in use has expired; set a new version"
        } else {
            "Key Vault says a secret in use expires within 30 days; set a new version before then"
        },
    );
    let same = |n: &ExpiryNotice| n.secret == notice.secret && n.version == notice.version;
    inner.notices.retain(|n| !same(n));
    if inner.notices.len() == NOTICES {
        inner.notices.remove(0);
    }
    inner.notices.push(notice);
    inner.notices_changed = true;
    true
}

/// Schedules a refresh of every followed secret `secret` names, unless its version is known.
fn schedule(inner: &mut Inner, secret: &SecretEvent, pushed: &mut Pushed) {
    let mut matched = false;
    let mut scheduled = false;
    let mut stale = false;
    let Inner {
        targets, pending, ..
    } = inner;
    for (index, target) in targets.iter_mut().enumerate() {
        if !secret.is_secret(&target.host, &target.vault, &target.name) {
            continue;
        }
        matched = true;
        match secret.version.as_deref() {
            Some(version) if target.knows(version) => stale = true,
            version => {
                if let Some(version) = version {
                    target.remember(version);
                }
                pending.insert(index);
                scheduled = true;
            }
        }
    }
    if scheduled {
        pushed.scheduled += 1;
    } else if stale {
        pushed.duplicates += 1;
    } else if !matched {
        pushed.unmatched += 1;
    }
}

impl<T> Live<T> {
    /// Schedules a refresh of the references that `events` name (matched by vault and secret
    /// name, ignoring case; pinned references and other vaults are left alone) and
    /// returns at once. `Err` once the refresher has stopped, and while Key Vault is failing
    /// (the last cycle failed) for events that call for a refresh: that refresh is tried at
    /// once all the same, and the webhook's 503 makes Event Grid deliver again, so the event is
    /// not lost if this refresh fails too.
    pub fn push(&self, events: &[Event]) -> Result<Pushed, PushUnavailable> {
        if self.handle.asks.is_closed() {
            return Err(PushUnavailable(
                "the settings refresher has stopped; nothing can be refreshed".into(),
            ));
        }
        let failing = self.handle.status.borrow().consecutive_failures > 0;
        if failing && self.handle.push.schedule_again(events) > 0 {
            return Err(PushUnavailable(
                "the last refresh from Key Vault failed; the pushed secrets are read again now, and Event Grid delivers again later".into(),
            ));
        }
        Ok(self.handle.push.push(events))
    }

    /// Schedules a refresh of the references to secret `name` in `vault` (its host,
    /// `myvault.vault.azure.net`, or its name), as a `SecretNewVersionCreated` event would.
    pub fn notify_new_version(&self, vault: &str, name: &str) -> Result<Pushed, PushUnavailable> {
        let event = Event::new_version(vault, name);
        self.push(std::slice::from_ref(&event))
    }
}

impl<T: Send + Sync> PushTarget for Live<T> {
    fn push(&self, events: &[Event]) -> Result<Pushed, PushUnavailable> {
        Live::push(self, events)
    }
}
