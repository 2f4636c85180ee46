//! A token cache in front of any credential: one request in flight per (scope, tenant) however
//! many callers ask, refresh ahead of expiry in the background, and the old token kept when a
//! refresh fails.
//!
//! When to refresh is decided on `tokio::time::Instant`s computed when a token arrives (its
//! remaining lifetime by the wall clock, laid onto the monotonic clock), so a wall-clock jump does
//! not expire tokens early or late, and tests can move time with `tokio::time::pause`.
//!
//! A caller that holds a valid token never waits for the identity endpoint: past the refresh
//! point it gets the cached token at once and one background task (per (scope, tenant)) fetches
//! the next. Only a caller with no valid token waits, for the one fetch in flight.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{AccessToken, CredentialError, TokenCredential, TokenRequest};

/// How long before expiry a token is refreshed when its issuer gave no `refresh_on`.
pub const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(5 * 60);
/// After a failed refresh (while the old token is still valid), how long to wait before trying again.
const RETRY_FAILED_REFRESH_AFTER: Duration = Duration::from_secs(30);

/// Caches the tokens of an inner credential.
///
/// - However many tasks ask at once for the same (scope, tenant), the inner credential sees one
///   request; the others wait for its result.
/// - A token is refreshed at its `refresh_on` (but never before half-way through its life), or
///   5 minutes before it expires (for tokens that live less than 10 minutes, half-way through
///   their life). The refresh runs in a background task (`tokio::spawn`), one at a time per
///   (scope, tenant); callers keep getting the still-valid token at once meanwhile.
/// - If a refresh fails while the old token is still valid, the old token is kept (the failure
///   is logged at warn level, without any token) and the refresh is tried again 30 s later.
/// - Dropping the cache, or [`TokenCache::clear`], stops the refreshes under way.
/// - Tokens are never logged.
///
/// Outside a tokio runtime no background task can be started: the token is then used until it
/// expires and the next caller fetches a new one.
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use kvref::credential::{AccessToken, CredentialError, TokenCache, TokenCredential, TokenRequest};
///
/// #[derive(Debug, Default)]
/// struct Counting(std::sync::atomic::AtomicUsize);
///
/// #[async_trait]
/// impl TokenCredential for Counting {
///     fn name(&self) -> &str { "Counting" }
///     async fn get_token(&self, _: &TokenRequest) -> Result<AccessToken, CredentialError> {
///         self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///         Ok(AccessToken::new("t", jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let inner = Arc::new(Counting::default());
/// let cache = TokenCache::new(inner.clone());
/// let request = TokenRequest::new("https://vault.azure.net/.default");
/// cache.get_token(&request).await.unwrap();
/// cache.get_token(&request).await.unwrap();
/// assert_eq!(inner.0.load(std::sync::atomic::Ordering::SeqCst), 1);
/// # });
/// ```
pub struct TokenCache {
    inner: Arc<dyn TokenCredential>,
    slots: Mutex<HashMap<TokenRequest, Arc<Slot>>>,
}

/// The cache state for one (scope, tenant).
#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Held by whoever is fetching a token: the background refresh, or a caller with no valid
    /// token. So there is one fetch at a time, and waiters line up behind it.
    flight: Arc<tokio::sync::Mutex<()>>,
    /// The background refresh last started, to stop it when the slot is dropped from the cache.
    refresh: Mutex<Option<AbortHandle>>,
}

#[derive(Default)]
struct SlotState {
    cached: Option<Cached>,
    /// Counts finished fetches, so callers that waited for one can take its result.
    generation: u64,
    last_error: Option<CredentialError>,
}

#[derive(Clone)]
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    expires_at: Instant,
}

/// `now + duration`, or an instant decades away when that would overflow.
fn saturating_after(now: Instant, duration: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration)
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}

impl TokenCache {
    /// A cache in front of `inner`.
    pub fn new(inner: Arc<dyn TokenCredential>) -> Self {
        Self {
            inner,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The credential behind the cache.
    pub fn inner(&self) -> &Arc<dyn TokenCredential> {
        &self.inner
    }

    /// Forgets every cached token (for example after Key Vault rejected one) and stops the
    /// refreshes under way.
    pub fn clear(&self) {
        let slots = std::mem::take(&mut *self.slots.lock().unwrap_or_else(PoisonError::into_inner));
        for slot in slots.values() {
            slot.stop_refresh();
        }
    }

    /// Waits until the fetches under way (background refreshes, and callers fetching a token
    /// they do not have) have finished; it starts none. For an orderly shutdown, or a test that
    /// wants to see a refresh land.
    pub async fn refreshes_finished(&self) {
        let slots: Vec<Arc<Slot>> = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for slot in slots {
            drop(slot.flight.lock().await);
        }
    }

    fn slot(&self, request: &TokenRequest) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(request.clone()).or_default().clone()
    }

    /// Starts one background refresh for `slot`, unless a fetch is already under way or the
    /// token was refreshed meanwhile.
    fn refresh_in_background(&self, slot: &Arc<Slot>, request: &TokenRequest) {
        let Ok(flight) = slot.flight.clone().try_lock_owned() else {
            return;
        };
        if slot.fresh_token(Instant::now()).is_some() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(
                credential = self.inner.name(),
                scope = %request.scope,
                "no tokio runtime to refresh the token in; it is used until it expires"
            );
            slot.postpone_refresh();
            return;
        };
        let inner = self.inner.clone();
        let task_slot = slot.clone();
        let request = request.clone();
        // The task owns what it uses (the credential, the slot, the request), so it cannot
        // outlive them, and it ends with the one fetch it makes.
        let task = runtime.spawn(async move {
            let _flight = flight;
            let result = inner.get_token(&request).await;
            if let Err(error) = &result {
                tracing::warn!(
                    credential = inner.name(),
                    scope = %request.scope,
                    error = %error,
                    "background token refresh failed; keeping the current token until it \
                     expires and trying again in {} s",
                    RETRY_FAILED_REFRESH_AFTER.as_secs()
                );
            }
            task_slot.finish(&result);
        });
        *slot.refresh.lock().unwrap_or_else(PoisonError::into_inner) = Some(task.abort_handle());
    }
}

impl Slot {
    fn fresh_token(&self, now: Instant) -> Option<AccessToken> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .cached
            .as_ref()
            .filter(|c| c.is_fresh(now))
            .map(|c| c.token.clone())
    }

    /// Records the outcome of a fetch. A failure keeps the cached token (still used while
    /// valid) and moves its refresh point out by the back-off.
    fn finish(&self, result: &Result<AccessToken, CredentialError>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        match result {
            Ok(token) => {
                state.cached = Some(Cached::new(token.clone()));
                state.last_error = None;
            }
            Err(error) => {
                state.last_error = Some(error.clone());
                if let Some(current) = state.cached.as_mut() {
                    current.postpone();
                }
            }
        }
    }

    fn postpone_refresh(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(current) = state.cached.as_mut() {
            current.postpone();
        }
    }

    fn stop_refresh(&self) {
        if let Some(task) = self
            .refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl Cached {
    fn new(token: AccessToken) -> Self {
        let now = Instant::now();
        let wall_now = Timestamp::now();
        let until = |at: Timestamp| {
            Duration::try_from(at.duration_since(wall_now)).unwrap_or(Duration::ZERO)
        };
        let lifetime = until(token.expires_on());
        let expires_at = saturating_after(now, lifetime);
        let refresh_at = match token.refresh_on() {
            // A refresh_on in the past (or just after receipt) would make every caller refresh:
            // keep at least half the token's remaining life before refreshing.
            Some(refresh_on) => {
                saturating_after(now, until(refresh_on).clamp(lifetime / 2, lifetime))
            }
            None => saturating_after(now, lifetime - REFRESH_BEFORE_EXPIRY.min(lifetime / 2)),
        };
        Self {
            token,
            refresh_at,
            expires_at,
        }
    }

    /// Tries the refresh again after the back-off (never after expiry).
    fn postpone(&mut self) {
        let retry_at = saturating_after(Instant::now(), RETRY_FAILED_REFRESH_AFTER);
        self.refresh_at = retry_at.min(self.expires_at);
    }

    fn is_fresh(&self, now: Instant) -> bool {
        now < self.refresh_at
    }

    fn is_valid(&self, now: Instant) -> bool {
        now < self.expires_at
    }
}

#[async_trait]
impl TokenCredential for TokenCache {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        let slot = self.slot(request);
        let (cached, generation) = {
            let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            (state.cached.clone(), state.generation)
        };
        let now = Instant::now();
        if let Some(cached) = cached.as_ref().filter(|c| c.is_valid(now)) {
            if !cached.is_fresh(now) {
                self.refresh_in_background(&slot, request);
            }
            return Ok(cached.token.clone());
        }
        // No usable token: wait for the one fetch in flight, or be it.
        let _flight = slot.flight.lock().await;
        {
            let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            if let Some(current) = state.cached.as_ref().filter(|c| c.is_valid(now)) {
                return Ok(current.token.clone());
            }
            if state.generation != generation {
                // A fetch finished while we waited; it failed (or we would have a token).
                if let Some(error) = &state.last_error {
                    return Err(error.clone());
                }
            }
        }
        let result = self.inner.get_token(request).await;
        slot.finish(&result);
        result
    }

    /// Drops the cached token if it is `refused` (a newer one, fetched meanwhile, stays).
    fn forget(&self, request: &TokenRequest, refused: &str) {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(request)
            .cloned();
        if let Some(slot) = slot {
            let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state
                .cached
                .as_ref()
                .is_some_and(|c| c.token.secret() == refused)
            {
                state.cached = None;
            }
        }
        self.inner.forget(request, refused);
    }
}

impl Drop for TokenCache {
    fn drop(&mut self) {
        // Nobody can read what a refresh under way would store.
        let slots = self.slots.get_mut().unwrap_or_else(PoisonError::into_inner);
        for slot in slots.values() {
            slot.stop_refresh();
        }
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self
            .slots
            .lock()
            .map(|slots| slots.len())
            .unwrap_or_default();
        f.debug_struct("TokenCache")
            .field("inner", &self.inner)
            .field("entries", &entries)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::CredentialErrorKind;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const GATE: usize = 1000;

    /// Hands out tokens with a fixed lifetime, or fails when told to.
    #[derive(Debug)]
    struct Scripted {
        calls: AtomicUsize,
        lifetime: jiff::SignedDuration,
        fail: std::sync::atomic::AtomicBool,
        gate: tokio::sync::Semaphore,
        /// When set, tokens carry a `refresh_on` this far from their issue time.
        refresh_in: Option<jiff::SignedDuration>,
    }

    impl Scripted {
        fn new(lifetime_secs: i64) -> Arc<Self> {
            Arc::new(Self {
                calls: AtomicUsize::new(0),
                lifetime: jiff::SignedDuration::from_secs(lifetime_secs),
                fail: false.into(),
                gate: tokio::sync::Semaphore::new(GATE),
                refresh_in: None,
            })
        }

        fn with_refresh_in(lifetime_secs: i64, refresh_in_secs: i64) -> Arc<Self> {
            let mut scripted = Arc::into_inner(Self::new(lifetime_secs)).unwrap();
            scripted.refresh_in = Some(jiff::SignedDuration::from_secs(refresh_in_secs));
            Arc::new(scripted)
        }
    }

    #[async_trait]
    impl TokenCredential for Scripted {
        fn name(&self) -> &str {
            "Scripted"
        }
        async fn get_token(&self, _: &TokenRequest) -> Result<AccessToken, CredentialError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let _permit = self.gate.acquire().await.unwrap();
            // Let the other callers pile up behind this request, as network I/O would.
            tokio::time::sleep(Duration::from_millis(10)).await;
            if self.fail.load(Ordering::SeqCst) {
                return Err(CredentialError::new(
                    CredentialErrorKind::Unreachable,
                    "Scripted",
                    "down",
                ));
            }
            let issued = Timestamp::now();
            let token = AccessToken::new(format!("token-{n}"), issued + self.lifetime);
            Ok(match self.refresh_in {
                Some(refresh_in) => token.with_refresh_on(issued + refresh_in),
                None => token,
            })
        }
    }

    fn request() -> TokenRequest {
        TokenRequest::new("https://vault.azure.net/.default")
    }

    /// The token the cache hands out now.
    async fn secret_of(cache: &TokenCache) -> String {
        cache
            .get_token(&request())
            .await
            .unwrap()
            .secret()
            .to_owned()
    }

    /// The token the cache hands out once the refresh under way (if any) has landed.
    async fn settled_secret_of(cache: &TokenCache) -> String {
        cache.refreshes_finished().await;
        secret_of(cache).await
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_fetch() {
        let inner = Scripted::new(3600);
        let cache = Arc::new(TokenCache::new(inner.clone()));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get_token(&request()).await.unwrap() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().secret(), "token-1");
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        // Another tenant is another entry.
        cache
            .get_token(&request().with_tenant("other"))
            .await
            .unwrap();
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_share_a_failure() {
        let inner = Scripted::new(3600);
        inner.fail.store(true, Ordering::SeqCst);
        let cache = Arc::new(TokenCache::new(inner.clone()));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get_token(&request()).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_err());
        }
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        // A later caller tries again.
        inner.fail.store(false, Ordering::SeqCst);
        assert!(cache.get_token(&request()).await.is_ok());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_five_minutes_before_expiry_once() {
        let inner = Scripted::new(3600);
        let cache = TokenCache::new(inner.clone());
        assert_eq!(secret_of(&cache).await, "token-1");
        tokio::time::advance(Duration::from_secs(3600 - 301)).await;
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        // The caller past the refresh point gets the valid token at once.
        assert_eq!(secret_of(&cache).await, "token-1");
        assert_eq!(settled_secret_of(&cache).await, "token-2");
        assert_eq!(settled_secret_of(&cache).await, "token-2");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_on_in_the_past_waits_until_half_way() {
        let inner = Scripted::with_refresh_in(3600, -60);
        let cache = TokenCache::new(inner.clone());
        for _ in 0..5 {
            assert_eq!(settled_secret_of(&cache).await, "token-1");
        }
        tokio::time::advance(Duration::from_secs(1800 - 10)).await;
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(secret_of(&cache).await, "token-1");
        assert_eq!(settled_secret_of(&cache).await, "token-2");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_on_is_followed_when_after_half_way() {
        let inner = Scripted::with_refresh_in(3600, 2400);
        let cache = TokenCache::new(inner.clone());
        assert_eq!(secret_of(&cache).await, "token-1");
        tokio::time::advance(Duration::from_secs(2400 - 10)).await;
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        tokio::time::advance(Duration::from_secs(20)).await;
        secret_of(&cache).await;
        assert_eq!(settled_secret_of(&cache).await, "token-2");
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_tokens_refresh_half_way() {
        let inner = Scripted::new(120);
        let cache = TokenCache::new(inner.clone());
        cache.get_token(&request()).await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        tokio::time::advance(Duration::from_secs(2)).await;
        secret_of(&cache).await;
        assert_eq!(settled_secret_of(&cache).await, "token-2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_keeps_the_valid_token() {
        let inner = Scripted::new(3600);
        let cache = TokenCache::new(inner.clone());
        cache.get_token(&request()).await.unwrap();
        inner.fail.store(true, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(3600 - 200)).await;
        assert_eq!(secret_of(&cache).await, "token-1");
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // Not retried on every call...
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // ...but again 30 s later.
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(secret_of(&cache).await, "token-1");
        assert_eq!(settled_secret_of(&cache).await, "token-1");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        // Once expired, the failure shows.
        tokio::time::advance(Duration::from_secs(200)).await;
        assert!(cache.get_token(&request()).await.is_err());
    }

    /// Moves past the refresh point and returns once the background refresh is inside
    /// `inner`, held there until the returned permits are dropped.
    async fn held_refresh<'a>(
        cache: &TokenCache,
        inner: &'a Scripted,
        after: Duration,
    ) -> tokio::sync::SemaphorePermit<'a> {
        let held = inner.gate.acquire_many(GATE as u32).await.unwrap();
        tokio::time::advance(after).await;
        assert_eq!(secret_of(cache).await, "token-1");
        while inner.calls.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        held
    }

    #[tokio::test(start_paused = true)]
    async fn callers_during_a_refresh_get_the_old_token_and_start_no_other() {
        let inner = Scripted::new(3600);
        let cache = TokenCache::new(inner.clone());
        cache.get_token(&request()).await.unwrap();
        let held = held_refresh(&cache, &inner, Duration::from_secs(3400)).await;
        for _ in 0..10 {
            assert_eq!(secret_of(&cache).await, "token-1");
        }
        drop(held);
        assert_eq!(settled_secret_of(&cache).await, "token-2");
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_that_fails_after_the_old_token_expired_reports_the_failure() {
        let inner = Scripted::new(3600);
        let cache = Arc::new(TokenCache::new(inner.clone()));
        cache.get_token(&request()).await.unwrap();
        inner.fail.store(true, Ordering::SeqCst);
        let held = held_refresh(&cache, &inner, Duration::from_secs(3500)).await;
        // The old token expires while the refresh is still under way: a caller now waits for it.
        tokio::time::advance(Duration::from_secs(200)).await;
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get_token(&request()).await })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap().is_err());
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_cache_stops_its_refresh() {
        let inner = Scripted::new(3600);
        let cache = TokenCache::new(inner.clone());
        cache.get_token(&request()).await.unwrap();
        let held = held_refresh(&cache, &inner, Duration::from_secs(3400)).await;
        let slot = cache.slot(&request());
        drop(cache);
        // The aborted task let go of the flight lock without storing anything.
        drop(slot.flight.lock().await);
        drop(held);
        let state = slot.state.lock().unwrap();
        assert_eq!(state.generation, 1);
        assert_eq!(state.cached.as_ref().unwrap().token.secret(), "token-1");
    }

    #[test]
    fn far_future_instants_saturate() {
        let now = Instant::now();
        assert!(saturating_after(now, Duration::MAX) > now);
        assert_eq!(
            saturating_after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }

    #[test]
    fn debug_never_shows_tokens() {
        let inner = Scripted::new(60);
        let cache = TokenCache::new(inner);
        assert!(!format!("{cache:?}").contains("token-"));
    }
}
