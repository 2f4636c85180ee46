//! The fault matrix: every fault the emulator can inject, at start-up and in a refresh (by poll
//! and by push), each with the outcome it must have: served (retried within the budget, the
//! journal showing the faults it went through), refused with a clear error naming the setting,
//! its status and the fix (a refresh keeping the last good snapshot, then recovering), or, for
//! Event Grid's duplicate and out-of-order deliveries, ignored. One table, one test; it prints
//! the table and the number of cases. Time is paused: waits and timeouts are virtual.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kvref::credential::{ManagedIdentityCredential, ManagedIdentityOptions, TokenCredential};
use kvref::events::{Delivery, Event};
use kvref::live::Live;
use kvref::secrecy::ExposeSecret;
use kvref::transport::HttpTransport;
use kvref::vault::RetryPolicy;
use kvref::{Env, ResolveStatus, Resolved, Resolver};
use kvref_emulator::{Emulator, Endpoint, Fault};
use tokio::time::Instant;

use crate::support::CountingCredential;
use crate::support::emu;

const A: &str = "@KeyVault(VaultName=vault1;SecretName=s0)";
const OLD: &str = "value-vault1-0";
const NEW: &str = "rotated-value-0";
/// The resolver's budget: long enough for IMDS's 70 s of 410s.
const BUDGET: Duration = Duration::from_secs(120);
const TOKEN_LIFETIME_SECS: u64 = 3600;
/// Refreshes happen after this much (virtual) time: the start-up token has expired, so every
/// refresh asks the identity endpoint again and identity faults reach it.
const LATER: Duration = Duration::from_secs(2 * TOKEN_LIFETIME_SECS);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Startup,
    Poll,
    Push,
}

/// Which managed identity the app has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Identity {
    AppService,
    Imds,
    /// App Service's endpoint, refusing connections for its first 1.5 s.
    RefusingAtFirst,
}

/// What goes wrong.
#[derive(Clone, Debug)]
enum Inject {
    Vault(Fault),
    Identity(Fault),
    /// The version in use disabled.
    DisableSecret,
    /// The setting names a vault the emulator does not have.
    UnknownVault,
    /// Key Vault refuses the token it was sent as expired (401 with the same challenge).
    TokenRefusedAsExpired(Option<u32>),
    /// The same Event Grid delivery twice.
    DuplicateDelivery,
    /// The delivery of the new version, then a late one of the old version.
    OutOfOrderDelivery,
    /// Nothing injected: the identity's own behaviour is the fault.
    Nothing,
}

/// What must happen.
#[derive(Clone, Debug)]
enum Expect {
    /// Served the right value within the budget, after at least `after` of virtual time, the
    /// journal of `endpoint` showing exactly `seen` besides its 200s and challenge 401s.
    Served {
        endpoint: Endpoint,
        seen: &'static [u16],
        after: Duration,
    },
    /// Refused: the setting's status, the message saying `says`, the fix saying `fix`; in a
    /// refresh the last good snapshot stays and the next cycle after the mend recovers.
    Refused {
        status: ResolveStatus,
        says: &'static str,
        fix: &'static str,
    },
    /// A push that refreshes nothing more: `duplicates` events counted as such, the value the
    /// newest one.
    Ignored { duplicates: usize },
}

struct Case {
    fault: &'static str,
    phase: Phase,
    identity: Identity,
    inject: Inject,
    expect: Expect,
}

fn vault_fault(status: Option<u16>, times: Option<u32>) -> Fault {
    Fault {
        endpoint: Endpoint::KeyVault,
        status,
        times,
        ..Fault::default()
    }
}

fn with_headers(mut fault: Fault, headers: &[(&str, &str)]) -> Fault {
    fault.headers = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<BTreeMap<_, _>>();
    fault
}

fn error_body(mut fault: Fault, code: &str, inner: Option<&str>) -> Fault {
    let mut error = serde_json::json!({"code": code, "message": "from the fault matrix"});
    if let Some(inner) = inner {
        error["innererror"] = serde_json::json!({ "code": inner });
    }
    fault.body = Some(serde_json::json!({ "error": error }));
    fault
}

fn served(seen: &'static [u16]) -> Expect {
    Expect::Served {
        endpoint: Endpoint::KeyVault,
        seen,
        after: Duration::ZERO,
    }
}

fn refused(status: ResolveStatus, says: &'static str, fix: &'static str) -> Expect {
    Expect::Refused { status, says, fix }
}

/// The faults, each with the same expectation in every phase it applies to.
fn faults() -> Vec<(&'static str, Identity, Inject, Expect, &'static [Phase])> {
    use Phase::*;
    const ALL: &[Phase] = &[Startup, Poll, Push];
    const REFRESH: &[Phase] = &[Poll, Push];
    let app = Identity::AppService;
    let mut latency = vault_fault(None, Some(1));
    latency.delay_ms = 2_000;
    let mut hanging = vault_fault(None, Some(1));
    hanging.delay_ms = 3_600_000;
    let mut hanging_always = hanging.clone();
    hanging_always.times = None;
    let mut slow_body = vault_fault(None, Some(1));
    slow_body.chunk_delay_ms = 1_000;
    let mut slow_body_always = slow_body.clone();
    slow_body_always.times = None;
    let mut oversized = vault_fault(None, None);
    oversized.body_bytes = Some(10 * 1024 * 1024);
    let mut endless = vault_fault(None, None);
    endless.endless_body = true;
    let mut dropped = vault_fault(None, Some(2));
    dropped.drop_connection = true;
    let mut dropped_always = dropped.clone();
    dropped_always.times = None;
    let identity = |status: u16, times: Option<u32>, endpoint: Endpoint| Fault {
        endpoint,
        status: Some(status),
        times,
        ..Fault::default()
    };
    let identity_down = Fault {
        endpoint: Endpoint::AppService,
        drop_connection: true,
        times: None,
        ..Fault::default()
    };
    let throttled = |times| with_headers(vault_fault(Some(429), times), &[("Retry-After", "3")]);
    let forbidden = |times| {
        error_body(
            vault_fault(Some(403), times),
            "Forbidden",
            Some("ForbiddenByRbac"),
        )
    };
    vec![
        (
            "latency 2 s",
            app,
            Inject::Vault(latency),
            Expect::Served {
                endpoint: Endpoint::KeyVault,
                seen: &[],
                after: Duration::from_secs(2),
            },
            ALL,
        ),
        (
            "429 with Retry-After: 3, twice",
            app,
            Inject::Vault(throttled(Some(2))),
            Expect::Served {
                endpoint: Endpoint::KeyVault,
                seen: &[429, 429],
                after: Duration::from_secs(6),
            },
            ALL,
        ),
        (
            "429 without Retry-After, twice",
            app,
            Inject::Vault(vault_fault(Some(429), Some(2))),
            served(&[429, 429]),
            ALL,
        ),
        (
            "429 with Retry-After, for ever",
            app,
            Inject::Vault(throttled(None)),
            refused(ResolveStatus::Throttled, "429", "4,000 requests per 10 s"),
            ALL,
        ),
        (
            "500 twice",
            app,
            Inject::Vault(vault_fault(Some(500), Some(2))),
            served(&[500, 500]),
            ALL,
        ),
        (
            "503 twice",
            app,
            Inject::Vault(vault_fault(Some(503), Some(2))),
            served(&[503, 503]),
            ALL,
        ),
        (
            "503 for ever",
            app,
            Inject::Vault(vault_fault(Some(503), None)),
            refused(
                ResolveStatus::OtherReasons,
                "503",
                "kept failing with HTTP 503",
            ),
            ALL,
        ),
        (
            "dropped connection twice",
            app,
            Inject::Vault(dropped),
            served(&[0, 0]),
            ALL,
        ),
        (
            "dropped connection for ever",
            app,
            Inject::Vault(dropped_always),
            refused(ResolveStatus::OtherReasons, "connection", "mid-request"),
            ALL,
        ),
        (
            "hanging response once",
            app,
            Inject::Vault(hanging),
            Expect::Served {
                endpoint: Endpoint::KeyVault,
                seen: &[],
                after: Duration::from_secs(5),
            },
            ALL,
        ),
        (
            "hanging response for ever",
            app,
            Inject::Vault(hanging_always),
            refused(ResolveStatus::FetchTimedOut, "time", "within the budget"),
            ALL,
        ),
        (
            "slow body once",
            app,
            Inject::Vault(slow_body),
            Expect::Served {
                endpoint: Endpoint::KeyVault,
                seen: &[],
                after: Duration::from_secs(5),
            },
            ALL,
        ),
        (
            "slow body for ever",
            app,
            Inject::Vault(slow_body_always),
            refused(ResolveStatus::FetchTimedOut, "time", "within the budget"),
            ALL,
        ),
        (
            "oversized body (10 MiB)",
            app,
            Inject::Vault(oversized),
            refused(
                ResolveStatus::OtherReasons,
                "at most 25 KB",
                "captive portal",
            ),
            ALL,
        ),
        (
            "endless body",
            app,
            Inject::Vault(endless),
            refused(
                ResolveStatus::OtherReasons,
                "at most 25 KB",
                "captive portal",
            ),
            ALL,
        ),
        (
            "IMDS 410 for 62 s, then a token",
            Identity::Imds,
            Inject::Identity(identity(410, Some(5), Endpoint::Imds)),
            Expect::Served {
                endpoint: Endpoint::Imds,
                seen: &[410, 410, 410, 410, 410],
                after: Duration::from_secs(62),
            },
            ALL,
        ),
        (
            "IMDS 410 for ever (past 70 s)",
            Identity::Imds,
            Inject::Identity(identity(410, None, Endpoint::Imds)),
            refused(ResolveStatus::FetchTimedOut, "410", "identity"),
            ALL,
        ),
        (
            "token endpoint 503 twice",
            app,
            Inject::Identity(identity(503, Some(2), Endpoint::AppService)),
            Expect::Served {
                endpoint: Endpoint::AppService,
                seen: &[503, 503],
                after: Duration::ZERO,
            },
            ALL,
        ),
        (
            "token endpoint down",
            app,
            Inject::Identity(identity_down),
            refused(ResolveStatus::FetchTimedOut, "App Service", "identity"),
            ALL,
        ),
        (
            "identity endpoint refusing connections for 1.5 s after start",
            Identity::RefusingAtFirst,
            Inject::Nothing,
            served(&[]),
            &[Startup],
        ),
        (
            // The client drops that token and answers the same challenge once with a fresh one.
            "token refused as expired once (401, same challenge)",
            app,
            Inject::TokenRefusedAsExpired(Some(1)),
            Expect::Served {
                endpoint: Endpoint::KeyVault,
                seen: &[],
                after: Duration::ZERO,
            },
            ALL,
        ),
        (
            "token refused as expired, a fresh one too",
            app,
            Inject::TokenRefusedAsExpired(None),
            refused(ResolveStatus::UnauthorizedClient, "AKV10022", "clock"),
            ALL,
        ),
        (
            "cached token past its lifetime",
            app,
            Inject::Nothing,
            Expect::Served {
                endpoint: Endpoint::AppService,
                seen: &[],
                after: Duration::ZERO,
            },
            REFRESH,
        ),
        (
            "role removed",
            app,
            Inject::Vault(forbidden(None)),
            refused(
                ResolveStatus::AccessToKeyVaultDenied,
                "ForbiddenByRbac",
                "az role assignment create",
            ),
            ALL,
        ),
        (
            "role not propagated yet: 403 once, then 200",
            app,
            Inject::Vault(forbidden(Some(1))),
            refused(
                ResolveStatus::AccessToKeyVaultDenied,
                "ForbiddenByRbac",
                "az role assignment create",
            ),
            ALL,
        ),
        (
            "secret disabled",
            app,
            Inject::DisableSecret,
            refused(
                ResolveStatus::SecretDisabled,
                "SecretDisabled",
                "--enabled true",
            ),
            ALL,
        ),
        (
            "secret deleted",
            app,
            Inject::Vault(error_body(
                vault_fault(Some(404), None),
                "SecretNotFound",
                None,
            )),
            refused(
                ResolveStatus::SecretNotFound,
                "SecretNotFound",
                "az keyvault secret recover",
            ),
            ALL,
        ),
        (
            "vault unknown",
            app,
            Inject::UnknownVault,
            refused(ResolveStatus::VaultNotFound, "nosuchvault", "vault name"),
            &[Startup],
        ),
        (
            "Event Grid duplicate delivery",
            app,
            Inject::DuplicateDelivery,
            Expect::Ignored { duplicates: 1 },
            &[Push],
        ),
        (
            "Event Grid out-of-order delivery",
            app,
            Inject::OutOfOrderDelivery,
            Expect::Ignored { duplicates: 1 },
            &[Push],
        ),
    ]
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (fault, identity, inject, expect, phases) in faults() {
        for &phase in phases {
            cases.push(Case {
                fault,
                phase,
                identity,
                inject: inject.clone(),
                expect: expect.clone(),
            });
        }
    }
    cases
}

fn value_of(resolved: &Resolved) -> Result<String, String> {
    resolved
        .secrets()
        .find(|(_, outcome, _)| outcome.key() == "a")
        .map(|(_, _, secret)| secret.expose_secret().to_owned())
        .ok_or_else(|| "a did not resolve".to_owned())
}

struct Fixture {
    emu: Emulator,
    credential: Arc<CountingCredential>,
    _proxy: Option<tokio::task::JoinHandle<()>>,
}

impl Fixture {
    async fn start(identity: Identity) -> Fixture {
        let toml = emu::vaults_toml(&["vault1"], 1).replace(
            "token_lifetime_secs = 86400",
            &format!("token_lifetime_secs = {TOKEN_LIFETIME_SECS}"),
        );
        let emu = emu::start(&toml).await;
        let (env, proxy) = match identity {
            Identity::AppService => (Env::from_pairs(emu.env("app_service")), None),
            Identity::Imds => (Env::from_pairs(emu.env("imds")), None),
            Identity::RefusingAtFirst => {
                let (addr, proxy) = refusing_then_forwarding(emu.http_addr()).await;
                let mut env = Env::from_pairs(emu.env("app_service"));
                let endpoint = env.get("IDENTITY_ENDPOINT").unwrap().to_owned();
                let endpoint = endpoint.replace(&emu.http_addr().to_string(), &addr.to_string());
                env.set("IDENTITY_ENDPOINT", &endpoint);
                (env, Some(proxy))
            }
        };
        let options = ManagedIdentityOptions::new(env, HttpTransport::builder().build().unwrap());
        let inner: Arc<dyn TokenCredential> =
            Arc::new(ManagedIdentityCredential::new(options).unwrap());
        Fixture {
            emu,
            credential: CountingCredential::wrap(inner),
            _proxy: proxy,
        }
    }

    fn resolver(&self) -> Resolver {
        let transport = HttpTransport::builder()
            .add_root_certificate_pem(self.emu.ca_cert_pem())
            .route(".vault.azure.net", self.emu.https_addr())
            .request_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Resolver::builder()
            .credential(self.credential.clone())
            .transport(transport)
            .retry_policy(RetryPolicy::default())
            .budget(BUDGET)
            .build()
            .unwrap()
    }

    async fn seen(&self, endpoint: Endpoint) -> Vec<u16> {
        self.emu
            .requests()
            .await
            .iter()
            .filter(|e| e.endpoint == endpoint && e.status != 200 && e.status != 401)
            .map(|e| e.status)
            .collect()
    }

    async fn inject(&self, inject: &Inject, phase: Phase, version: &str) {
        match inject {
            Inject::Vault(fault) | Inject::Identity(fault) => {
                self.emu.add_fault(fault.clone()).await
            }
            Inject::DisableSecret => self.emu.set_enabled("vault1", "s0", version, false).await,
            Inject::TokenRefusedAsExpired(times) => {
                let challenge = format!(
                    "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"https://vault.azure.net\"",
                    self.emu.tenant_id()
                );
                let fault = with_headers(
                    vault_fault(Some(401), *times),
                    &[("WWW-Authenticate", challenge.as_str())],
                );
                let mut fault = fault;
                fault.body = Some(serde_json::json!({"error": {"code": "Unauthorized",
                    "message": "AKV10022: Token validation failed: the token has expired."}}));
                if phase == Phase::Startup {
                    // The first request of a start-up carries no token: its 401 is the real
                    // challenge; the fault answers the one that carries the token.
                    self.emu.add_fault(vault_fault(None, Some(1))).await;
                }
                self.emu.add_fault(fault).await;
            }
            Inject::UnknownVault
            | Inject::DuplicateDelivery
            | Inject::OutOfOrderDelivery
            | Inject::Nothing => {}
        }
    }

    /// Undoes what `inject` did.
    async fn mend(&self, inject: &Inject, version: &str) {
        self.emu.clear_faults().await;
        if let Inject::DisableSecret = inject {
            self.emu.set_enabled("vault1", "s0", version, true).await;
        }
    }
}

/// A port that refuses connections for 1.5 s (bound, not listening), then forwards each to `to`.
async fn refusing_then_forwarding(
    to: std::net::SocketAddr,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let listener = socket.listen(16).unwrap();
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (addr, task)
}

/// An Event Grid delivery (the webhook's parser) of secret `s0`'s `version`.
fn delivery(id: &str, version: &str) -> Vec<Event> {
    let body = serde_json::json!([{
        "id": id,
        "topic": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/vault1",
        "subject": "s0",
        "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
        "data": {
            "Id": format!("https://vault1.vault.azure.net/secrets/s0/{version}"),
            "VaultName": "vault1", "ObjectType": "Secret", "ObjectName": "s0",
            "Version": version, "NBF": null, "EXP": null
        },
        "dataVersion": "1", "metadataVersion": "1", "eventTime": "2026-12-01T00:00:00Z"
    }]);
    let mut headers = http::HeaderMap::new();
    headers.insert("aeg-event-type", "Notification".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    match kvref::events::parse(&headers, body.to_string().as_bytes()) {
        Ok(Delivery::Events(events)) => events,
        other => panic!("not a delivery of events: {other:?}"),
    }
}

/// Runs one case; `Err` says what did not hold.
async fn run(case: &Case) -> Result<(), String> {
    let fx = Fixture::start(case.identity).await;
    match case.phase {
        Phase::Startup => startup(case, &fx).await,
        Phase::Poll | Phase::Push => refresh(case, &fx).await,
    }
}

fn check(holds: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if holds { Ok(()) } else { Err(what()) }
}

async fn startup(case: &Case, fx: &Fixture) -> Result<(), String> {
    let version = fx.emu.set_secret("vault1", "s0", OLD).await;
    fx.inject(&case.inject, case.phase, &version).await;
    fx.emu.clear_requests().await;
    let reference = match case.inject {
        Inject::UnknownVault => "@KeyVault(VaultName=nosuchvault;SecretName=s0)",
        _ => A,
    };
    let resolver = fx.resolver();
    let started = Instant::now();
    let resolution = resolver.resolve([("a", reference)]).await;
    let took = started.elapsed();
    let outcome = &resolution.outcomes()[0];
    match &case.expect {
        Expect::Served {
            endpoint,
            seen,
            after,
        } => {
            check(outcome.status() == ResolveStatus::Resolved, || {
                format!("{:?}: {:?}", outcome.status(), outcome.message())
            })?;
            let value = outcome.value().map(|v| v.expose_secret().to_owned());
            check(value.as_deref() == Some(OLD), || format!("value {value:?}"))?;
            let journal = fx.seen(*endpoint).await;
            check(journal == *seen, || {
                format!("{endpoint} answered {journal:?}")
            })?;
            check(took >= *after && took <= BUDGET, || {
                format!("took {took:?}")
            })
        }
        Expect::Refused { status, says, fix } => {
            check(outcome.status() == *status, || {
                format!("{:?}: {:?}", outcome.status(), outcome.message())
            })?;
            let advice = outcome.fix().unwrap_or_default();
            check(advice.contains(fix), || format!("fix {advice:?}"))?;
            // The report an app logs names the setting and its status, says why and how to fix.
            let report = resolution.into_result().err().map(|e| e.to_string());
            let report = report.unwrap_or_default();
            let line = report.lines().find(|l| l.contains("setting `a`"));
            check(line.is_some_and(|l| l.contains(status.as_str())), || {
                format!("report {report:?}")
            })?;
            check(report.contains(says) && report.contains(fix), || {
                format!("report {report:?}")
            })?;
            check(!report.contains(OLD), || {
                "the report holds the value".into()
            })?;
            // Once the fault has passed, a new start-up resolves.
            fx.mend(&case.inject, &version).await;
            if !matches!(case.inject, Inject::UnknownVault) {
                let again = resolver.resolve([("a", reference)]).await;
                check(again.is_success(), || "no recovery after the mend".into())?;
            }
            Ok(())
        }
        Expect::Ignored { .. } => Err("not a start-up case".into()),
    }
}

async fn refresh(case: &Case, fx: &Fixture) -> Result<(), String> {
    let day = Duration::from_secs(24 * 3600);
    let live = Live::builder(fx.resolver(), [("a", A)], value_of)
        .interval(day)
        .jitter(0.0)
        .backoff(Duration::from_secs(30), Duration::from_secs(60))
        .start()
        .await
        .map_err(|e| format!("start-up failed: {e}"))?;
    check(**live.load() == OLD, || "start-up value".into())?;
    let old_version = live.status().versions[0]
        .version
        .clone()
        .unwrap_or_default();
    tokio::time::advance(LATER).await;
    let version = fx.emu.set_secret("vault1", "s0", NEW).await;
    fx.inject(&case.inject, case.phase, &version).await;
    fx.emu.clear_requests().await;
    let mut updates = live.status_updates();
    updates.borrow_and_update();
    let started = Instant::now();

    // One cycle, by poll or by push; its error, if any.
    let result = match case.phase {
        Phase::Poll => live
            .refresh_now()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        _ => {
            let (first, second) = match case.inject {
                Inject::OutOfOrderDelivery => {
                    (delivery("e1", &version), delivery("e0", &old_version))
                }
                _ => (delivery("e1", &version), delivery("e1", &version)),
            };
            let pushed = live.push(&first).map_err(|e| e.to_string())?;
            check(pushed.scheduled == 1, || format!("{pushed:?}"))?;
            if let Expect::Ignored { duplicates } = case.expect {
                let again = live.push(&second).map_err(|e| e.to_string())?;
                check(
                    again.duplicates == duplicates && again.scheduled == 0,
                    || format!("the second delivery: {again:?}"),
                )?;
            }
            updates.changed().await.map_err(|e| e.to_string())?;
            let status = updates.borrow_and_update().clone();
            match status.last_error {
                Some(error) => Err(error),
                None => Ok(()),
            }
        }
    };
    let took = started.elapsed();
    match &case.expect {
        Expect::Served {
            endpoint,
            seen,
            after,
        } => {
            result?;
            check(**live.load() == NEW, || {
                "the new value was not swapped in".into()
            })?;
            let journal = fx.seen(*endpoint).await;
            check(journal == *seen, || {
                format!("{endpoint} answered {journal:?}")
            })?;
            let tokens = fx.emu.requests().await;
            let identity_asked = tokens
                .iter()
                .any(|e| e.endpoint != Endpoint::KeyVault && e.status == 200);
            check(identity_asked, || {
                "the expired token was not renewed".into()
            })?;
            check(took >= *after && took <= BUDGET, || {
                format!("took {took:?}")
            })
        }
        Expect::Refused { status, says, fix } => {
            let error = match result {
                Ok(()) => return Err("the refresh succeeded".into()),
                Err(error) => error,
            };
            check(
                error.contains("`a`")
                    && error.contains(status.as_str())
                    && error.contains(says)
                    && error.contains(fix),
                || format!("error {error:?}"),
            )?;
            check(!error.contains(NEW) && !error.contains(OLD), || {
                "a value in the error".into()
            })?;
            check(**live.load() == OLD, || {
                "the last good snapshot was not kept".into()
            })?;
            let now = live.status();
            check(now.consecutive_failures >= 1 && now.generation == 0, || {
                format!("status {now:?}")
            })?;
            // Mended, the next cycle (the refresher's own back-off timer) recovers.
            fx.mend(&case.inject, &version).await;
            for _ in 0..4 {
                if live.status().consecutive_failures == 0 {
                    break;
                }
                updates.changed().await.map_err(|e| e.to_string())?;
            }
            check(**live.load() == NEW, || "no recovery after the mend".into())?;
            check(live.status().last_error.is_none(), || {
                "an error after recovery".into()
            })
        }
        Expect::Ignored { .. } => {
            result?;
            check(**live.load() == NEW, || {
                "the newest version was not kept".into()
            })?;
            let gets = emu::vault_requests(&fx.emu).await.len();
            check(gets == 1, || {
                format!("{gets} vault requests for one new version")
            })?;
            check(live.status().generation == 1, || {
                "more than one swap".into()
            })
        }
    }
}

fn expectation(expect: &Expect, phase: Phase) -> String {
    match expect {
        Expect::Refused { status, .. } if phase == Phase::Startup => {
            format!(
                "refused {}, with its fix; resolves once mended",
                status.as_str()
            )
        }
        Expect::Served {
            endpoint, seen: [], ..
        } => {
            format!("served (no {endpoint} error)")
        }
        Expect::Served { endpoint, seen, .. } => format!("served after {endpoint} {seen:?}"),
        Expect::Refused { status, .. } => {
            format!("refused {}, last good kept, recovers", status.as_str())
        }
        Expect::Ignored { duplicates } => format!("{duplicates} ignored, one refresh"),
    }
}

#[tokio::test(start_paused = true)]
async fn every_fault_has_its_outcome_at_start_up_and_in_refresh_by_poll_and_push() {
    let cases = cases();
    let mut table = String::from("| phase | fault | expected | result |\n|---|---|---|---|\n");
    let mut failures = Vec::new();
    for case in &cases {
        let result = run(case).await;
        let shown = match &result {
            Ok(()) => "ok".to_owned(),
            Err(why) => format!("FAILED: {why}"),
        };
        table.push_str(&format!(
            "| {:?} | {} | {} | {shown} |\n",
            case.phase,
            case.fault,
            expectation(&case.expect, case.phase)
        ));
        if result.is_err() {
            failures.push(format!("{:?} / {}", case.phase, case.fault));
        }
    }
    println!("{table}\n{} cases, {} failed", cases.len(), failures.len());
    assert!(cases.len() >= 40, "{} cases", cases.len());
    assert!(failures.is_empty(), "failed: {failures:#?}");
}
