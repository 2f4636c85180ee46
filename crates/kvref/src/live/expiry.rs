//! Secrets' expiry (`exp`) as the refresher follows it: a cycle shortly before the nearest
//! expiry, so that a version rotated in time is picked up before the old one expires, and one
//! warning per version as its expiry nears and once it has passed. Names, versions and times
//! only, never a value.

use std::collections::HashSet;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::status::SecretVersion;

/// How long before a secret's expiry the refresher tries a cycle, unless configured.
pub(super) const DEFAULT_LEAD: Duration = Duration::from_secs(5 * 60);
/// How long before a secret's expiry the warnings start, unless configured: Key Vault's own
/// `SecretNearExpiry` event comes 30 days before.
pub(super) const DEFAULT_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// One version's expiry: `vault/secret@version` and `exp` in seconds.
type Key = (String, i64);

/// The expiry side of the refresher's schedule and its warnings.
#[derive(Debug)]
pub(super) struct ExpiryWatch {
    pub(super) lead: Duration,
    pub(super) warning: Duration,
    /// Expiries whose cycle already ran (or whose time had passed when first seen).
    served: HashSet<Key>,
    /// Expiries the timer is set for now: served once that timer fires.
    scheduled: Vec<Key>,
    /// Expiries already warned about: `true` for "has expired", `false` for "expires soon".
    warned: HashSet<(Key, bool)>,
}

impl Default for ExpiryWatch {
    fn default() -> Self {
        Self {
            lead: DEFAULT_LEAD,
            warning: DEFAULT_WARNING,
            served: HashSet::new(),
            scheduled: Vec::new(),
            warned: HashSet::new(),
        }
    }
}

/// The expiries of `versions`, one per distinct version, with an entry that names each.
fn expiries(versions: &[SecretVersion]) -> Vec<(Key, &SecretVersion)> {
    let mut seen = HashSet::new();
    versions
        .iter()
        .filter_map(|v| {
            let expires = v.expires?;
            let key = (
                format!("{}@{}", v.secret, v.version.as_deref().unwrap_or("?")),
                expires.as_second(),
            );
            seen.insert(key.clone()).then_some((key, v))
        })
        .collect()
}

impl ExpiryWatch {
    /// The timer the refresher set fired: the expiries it was set for are served.
    pub(super) fn timer_fired(&mut self) {
        self.served.extend(self.scheduled.drain(..));
    }

    /// When the refresher should try a cycle for the nearest expiry of `versions` not served
    /// yet: `lead` before it, if that is still ahead; `None` when there is none. The caller
    /// takes the earlier of this and its own wait, and says which it chose with
    /// [`chose`](Self::chose).
    pub(super) fn next_cycle(&mut self, versions: &[SecretVersion]) -> Option<Instant> {
        let now = Timestamp::now();
        let in_use = expiries(versions);
        // Forget what no longer applies: bounded by the versions in use.
        let keys: HashSet<&Key> = in_use.iter().map(|(k, _)| k).collect();
        self.served.retain(|k| keys.contains(k));
        self.warned.retain(|(k, _)| keys.contains(k));
        self.scheduled.clear();
        let mut best: Option<(Duration, Vec<Key>)> = None;
        for (key, version) in in_use {
            if self.served.contains(&key) {
                continue;
            }
            let Some(at) = version.expires.and_then(|e| e.checked_sub(self.lead).ok()) else {
                continue;
            };
            let ahead = match now.until(at).ok().and_then(|s| Duration::try_from(s).ok()) {
                Some(ahead) if !ahead.is_zero() => ahead,
                // Inside the lead already (or past expiry): the cycle that saw it was the one.
                _ => {
                    self.served.insert(key);
                    continue;
                }
            };
            match &mut best {
                Some((wait, keys)) if ahead == *wait => keys.push(key),
                Some((wait, _)) if ahead > *wait => {}
                _ => best = Some((ahead, vec![key])),
            }
        }
        let (wait, keys) = best?;
        self.scheduled = keys;
        Some(Instant::now() + wait)
    }

    /// The refresher chose its own wait over the expiry's: that expiry stays unserved.
    pub(super) fn chose_own(&mut self) {
        self.scheduled.clear();
    }

    /// Warns once per version as its expiry comes within `warning`, and once when it passed.
    pub(super) fn warn(&mut self, versions: &[SecretVersion]) {
        let now = Timestamp::now();
        for (key, version) in expiries(versions) {
            let Some(expires) = version.expires else {
                continue;
            };
            let expired = expires <= now;
            let near = now
                .until(expires)
                .ok()
                .and_then(|s| Duration::try_from(s).ok())
                .is_some_and(|left| left <= self.warning);
            if !(expired || near) || !self.warned.insert((key, expired)) {
                continue;
            }
            let (key, secret) = (version.key.as_str(), version.secret.as_str());
            let version = version.version.as_deref().unwrap_or("unknown");
            if expired {
                tracing::warn!(
                    key, secret, version, expired_at = %expires,
                    "kvref live: a secret in use has expired; Key Vault still serves it, but rotate it \
                     (set a new version) now",
                );
            } else {
                tracing::warn!(
                    key, secret, version, expires = %expires,
                    "kvref live: a secret in use expires soon; set a new version before then, the \
                     refresher picks it up",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(secret: &str, version: &str, expires_in: Option<i64>) -> SecretVersion {
        SecretVersion {
            key: format!("key-{secret}"),
            secret: format!("vault/{secret}"),
            version: Some(version.into()),
            expires: expires_in.map(|s| Timestamp::now() + jiff::SignedDuration::from_secs(s)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_nearest_expiry_not_served_sets_the_next_cycle_once() {
        let mut watch = ExpiryWatch {
            lead: Duration::from_secs(60),
            ..ExpiryWatch::default()
        };
        let versions = [
            version("far", "1", Some(7200)),
            version("near", "2", Some(3600)),
            version("none", "3", None),
            version("inside-the-lead", "4", Some(30)),
        ];
        let at = watch.next_cycle(&versions).expect("a cycle before `near`");
        let wait = at - Instant::now();
        // 3600 s less the lead, less the few wall-clock moments this test took.
        assert!(wait <= Duration::from_secs(3540), "{wait:?}");
        assert!(wait > Duration::from_secs(3530), "{wait:?}");
        // Its timer fired: next comes `far`, and `near` never again.
        watch.timer_fired();
        let at = watch.next_cycle(&versions).expect("a cycle before `far`");
        assert!(at - Instant::now() > Duration::from_secs(7000));
        watch.timer_fired();
        assert_eq!(watch.next_cycle(&versions), None);
        // A new version with its own expiry is followed again.
        let rotated = [version("near", "5", Some(3600))];
        assert!(watch.next_cycle(&rotated).is_some());
        // A timer the refresher set for its own reason serves nothing.
        watch.chose_own();
        assert!(watch.next_cycle(&rotated).is_some());
    }
}
