//! The refresher: a task that owns the last good resolution and, at each cycle, resolves again
//! what can have changed, rebuilds only when a version moved, and swaps the whole snapshot at
//! once. It keeps the last good snapshot through any failure and backs off; it ends when the last
//! `Live` is dropped or its token is cancelled, dropping the watch senders as it goes.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::LiveError;
use super::expiry::ExpiryWatch;
use super::make::{Check, Maker};
use super::push::PushState;
use super::reread::{Prepare, Read, changes_by_key};
use super::schedule::Schedule;
use super::status::{Change, Changes, Status, changes, lost_any, nearest_expiry, versions};
use crate::reference::Reference;
use crate::{Resolution, Resolver};

/// Where `refresh_now` sends its answer.
pub(super) type Reply = oneshot::Sender<Result<Changes, LiveError>>;

/// Everything the refresher task owns.
pub(super) struct Refresher<T> {
    pub(super) resolver: Resolver,
    pub(super) last_good: Resolution,
    pub(super) maker: Maker<T>,
    pub(super) schedule: Schedule,
    pub(super) current: Arc<ArcSwap<T>>,
    pub(super) generation: watch::Sender<u64>,
    pub(super) status: watch::Sender<Status>,
    pub(super) push: Arc<PushState>,
    pub(super) expiry: ExpiryWatch,
    /// With [`reread_sources`](super::LiveBuilder::reread_sources): the producer, what it read
    /// last, and the user's check for the makers it gives.
    pub(super) reread: Option<(Prepare<T>, Read, Option<Check<T>>)>,
}

/// What woke the refresher.
enum Wake {
    Stop,
    Asked(Reply),
    Pushed,
    Due,
}

impl<T: Send + Sync + 'static> Refresher<T> {
    /// Runs cycles, on time (the first at `next`) and on request, one at a time, until `stop`
    /// is cancelled.
    pub(super) async fn run(
        mut self,
        mut next: Instant,
        stop: CancellationToken,
        mut asks: mpsc::Receiver<Reply>,
    ) {
        loop {
            let wake = tokio::select! {
                biased;
                () = stop.cancelled() => Wake::Stop,
                asked = asks.recv() => asked.map_or(Wake::Stop, Wake::Asked),
                () = self.push.wake.notified() => Wake::Pushed,
                () = tokio::time::sleep_until(next) => Wake::Due,
            };
            let (reply, pushed) = match wake {
                Wake::Stop => break,
                Wake::Asked(reply) => (Some(reply), false),
                Wake::Pushed => (None, true),
                Wake::Due => {
                    self.expiry.timer_fired();
                    (None, false)
                }
            };
            // A full cycle covers whatever was pending too.
            let wanted = self.push.take_pending();
            if pushed && wanted.is_none() {
                // An expiry event, perhaps: shown without asking Key Vault anything.
                self.show_notices();
                continue;
            }
            let cycle = async {
                match &wanted {
                    Some(wanted) if pushed => self.cycle(wanted).await,
                    _ => match self.reread().await {
                        Some(result) => result,
                        None => self.cycle(&|_: &Reference| true).await,
                    },
                }
            };
            let result = tokio::select! {
                biased;
                () = stop.cancelled() => break,
                result = cycle => result,
            };
            // A pushed refresh read only the secrets it names: the timer stays where it was,
            // unless the refresh failed and the back-off comes first.
            let after = self.record(&result);
            if !pushed || result.is_err() || after < next {
                next = after;
            }
            self.push.follow(&self.last_good);
            self.show_notices();
            if let Some(reply) = reply {
                // The caller may have given up waiting; the cycle counts all the same.
                let _ = reply.send(result);
            }
        }
        self.status.send_modify(|s| s.next_attempt = None);
        tracing::debug!("kvref live: refresher stopped");
    }

    /// Reads the sources again, if asked to: `None` when the read is the same (or re-reading is
    /// off), else the cycle of the new settings, resolved in full, built, checked and swapped.
    async fn reread(&mut self) -> Option<Result<Changes, LiveError>> {
        let (prepare, last, check) = self.reread.as_ref()?;
        let prepared = match prepare() {
            Ok(prepared) => prepared,
            Err(error) => return Some(Err(error)),
        };
        let read = Read {
            settings: prepared.settings.clone(),
            fingerprint: prepared.fingerprint,
        };
        if read == *last {
            return None;
        }
        let mut maker = prepared.maker;
        if let Some(check) = check {
            maker.check(check.clone());
        }
        let fresh = self.resolver.resolve(prepared.settings).await;
        let value = match maker.make(fresh.clone()) {
            Ok(value) => value,
            Err(error) => return Some(Err(error)),
        };
        let changed = changes_by_key(&self.last_good, &fresh);
        self.current.store(Arc::new(value));
        self.last_good = fresh;
        self.maker = maker;
        if let Some((_, last, _)) = &mut self.reread {
            *last = read;
        }
        let generation = *self.generation.borrow() + 1;
        self.generation.send_replace(generation);
        tracing::info!(
            generation,
            "kvref live: the settings sources changed; swapped in"
        );
        Some(Ok(Changes {
            changed,
            generation,
        }))
    }

    /// One cycle: resolve again, compare versions, and if one moved, build, check and swap.
    async fn cycle(
        &mut self,
        wanted: &(dyn Fn(&Reference) -> bool + Sync),
    ) -> Result<Changes, LiveError> {
        let fresh = self.resolver.refresh_where(&self.last_good, wanted).await;
        if lost_any(&self.last_good, &fresh)
            && let Some(error) = fresh.error()
        {
            return Err(error.into());
        }
        let changed = changes(&self.last_good, &fresh);
        if changed.is_empty() {
            // The same versions, so the same values; but attributes (`exp`) may have moved.
            self.last_good = fresh;
            return Ok(Changes {
                changed,
                generation: *self.generation.borrow(),
            });
        }
        let value = self.maker.make(fresh.clone())?;
        self.current.store(Arc::new(value));
        self.last_good = fresh;
        let generation = *self.generation.borrow() + 1;
        self.generation.send_replace(generation);
        Ok(Changes {
            changed,
            generation,
        })
    }

    /// Puts what expiry events said (if that changed) into the status.
    fn show_notices(&self) {
        if let Some(notices) = self.push.take_notices() {
            self.status.send_modify(|s| s.expiry_notices = notices);
        }
    }

    /// Reports a cycle in the status and the log, and says when the next one is due: after
    /// the interval or the back-off, or before the nearest secret expiry if that comes first.
    fn record(&mut self, result: &Result<Changes, LiveError>) -> Instant {
        let now = jiff::Timestamp::now();
        let failures = match result {
            Ok(_) => 0,
            Err(_) => self.status.borrow().consecutive_failures.saturating_add(1),
        };
        let wait = self.schedule.wait(failures);
        let in_use = versions(&self.last_good);
        self.expiry.warn(&in_use);
        let next = schedule_next(&mut self.expiry, &in_use, Instant::now() + wait);
        match result {
            Ok(changes) if changes.is_empty() => tracing::debug!("kvref live: nothing rotated"),
            Ok(changes) => tracing::info!(
                generation = changes.generation,
                changed = %describe(&changes.changed),
                "kvref live: rotated secrets swapped in",
            ),
            Err(error) => tracing::warn!(
                consecutive_failures = failures,
                retry_in = ?wait,
                %error,
                "kvref live: refresh failed; keeping the last good settings",
            ),
        }
        self.status.send_modify(|status| {
            status.generation = *self.generation.borrow();
            status.consecutive_failures = failures;
            status.next_attempt = Some(next);
            match result {
                Ok(_) => {
                    status.last_success = Some(now);
                    status.last_error = None;
                    status.failing_since = None;
                    status.nearest_expiry = nearest_expiry(&in_use);
                    status.versions = in_use;
                }
                Err(error) => {
                    status.last_error = Some(error.to_string());
                    status.failing_since.get_or_insert(now);
                }
            }
        });
        next
    }
}

/// The earlier of `own` (the interval or the back-off) and a cycle before the nearest expiry.
pub(super) fn schedule_next(
    expiry: &mut ExpiryWatch,
    in_use: &[super::SecretVersion],
    own: Instant,
) -> Instant {
    match expiry.next_cycle(in_use) {
        Some(at) if at < own => at,
        _ => {
            expiry.chose_own();
            own
        }
    }
}

/// `key: vault/secret from -> to, …` for the log.
fn describe(changed: &[Change]) -> String {
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    changed
        .iter()
        .map(|c| {
            format!(
                "{}: {} {} -> {}",
                c.key,
                c.secret,
                version(&c.from),
                version(&c.to)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
