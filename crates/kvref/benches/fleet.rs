//! The fleet simulation: N instances, each a `Live` over K versionless references, against one
//! emulated vault held to Key Vault's limit (4,000 requests per 10 s), across a rotation (a new
//! version of one secret every instance follows), by poll (with and without jitter) and by push. Prints markdown: the peak
//! request rate over any 10 s, the 429s seen, and the time until every instance serves the new
//! version. Virtual time (tokio's paused clock): a 5-minute interval costs no waiting.
//!
//! The limit is kept by this bench, on tokio's clock, independent of the emulator's own
//! throttle: a watcher counts the vault's journal every 100 ms of virtual time and, while the
//! last 10 s hold 4,000 requests, answers 429 with `Retry-After` through a fault.
//!
//! `cargo bench -p kvref --bench fleet` (N, K and the interval: `KVREF_FLEET=200,50,300`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use kvref::live::Live;
use kvref::secrecy::ExposeSecret;
use kvref::transport::HttpTransport;
use kvref::vault::RetryPolicy;
use kvref::{Resolved, Resolver};
use kvref_emulator::{Emulator, Endpoint, Fault};
use tokio::time::Instant;

use support::emu;

const LIMIT: usize = 4_000;
const WINDOW: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(100);

struct Shape {
    instances: usize,
    references: usize,
    interval: Duration,
}

fn shape() -> Shape {
    let given: Vec<u64> = std::env::var("KVREF_FLEET")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_default();
    let at = |i: usize, default: u64| given.get(i).copied().unwrap_or(default);
    Shape {
        instances: at(0, 200) as usize,
        references: at(1, 50) as usize,
        interval: Duration::from_secs(at(2, 300)),
    }
}

#[derive(Clone, Copy, Debug)]
enum Refresh {
    Poll { jitter: f64 },
    Push,
}

/// What one run measured.
struct Figures {
    start_up_requests: usize,
    start_up_429: usize,
    start_up_peak: usize,
    peak: usize,
    throttled: usize,
    converged: Option<Duration>,
    requests: usize,
}

/// What the limiter counted: every vault request, the 429s among them, and the most requests
/// in any 10 s window since the peak was last taken.
#[derive(Default)]
struct Counts {
    total: AtomicUsize,
    throttled: AtomicUsize,
    peak: AtomicUsize,
}

/// Counts the vault's requests per tick (draining the journal, so each tick reads only what is
/// new) and keeps the limit: while the last 10 s hold `LIMIT` requests, every request is
/// answered 429 with `Retry-After: 1`.
struct Limiter {
    ticks: VecDeque<usize>,
    throttling: bool,
    counts: Arc<Counts>,
}

impl Limiter {
    async fn tick(&mut self, emu: &Emulator) {
        let new = emu.requests().await;
        emu.clear_requests().await;
        let vault: Vec<_> = new
            .iter()
            .filter(|e| e.endpoint == Endpoint::KeyVault)
            .collect();
        self.counts.total.fetch_add(vault.len(), Ordering::SeqCst);
        let throttled = vault.iter().filter(|e| e.status == 429).count();
        self.counts.throttled.fetch_add(throttled, Ordering::SeqCst);
        self.ticks.push_back(vault.len());
        while self.ticks.len() > (WINDOW.as_millis() / TICK.as_millis()) as usize {
            self.ticks.pop_front();
        }
        let in_window: usize = self.ticks.iter().sum();
        self.counts.peak.fetch_max(in_window, Ordering::SeqCst);
        let over = in_window >= LIMIT;
        if over && !self.throttling {
            emu.add_fault(Fault {
                endpoint: Endpoint::KeyVault,
                status: Some(429),
                headers: [("Retry-After".to_owned(), "1".to_owned())].into(),
                body: Some(serde_json::json!({"error": {"code": "Throttled",
                    "message": "Operations per second is over the limit for this vault."}})),
                ..Fault::default()
            })
            .await;
        } else if !over && self.throttling {
            emu.clear_faults().await;
        }
        self.throttling = over;
    }
}

fn resolver(emu: &Emulator, credential: Arc<support::CountingCredential>) -> Resolver {
    let transport = HttpTransport::builder()
        .add_root_certificate_pem(emu.ca_cert_pem())
        .route(".vault.azure.net", emu.https_addr())
        .build()
        .expect("transport");
    Resolver::builder()
        .credential(credential)
        .transport(transport)
        .retry_policy(RetryPolicy::default())
        .budget(Duration::from_secs(120))
        .build()
        .expect("resolver")
}

fn first_value(resolved: &Resolved) -> Result<String, String> {
    resolved
        .secrets()
        .find(|(_, outcome, _)| outcome.key() == "k0")
        .map(|(_, _, secret)| secret.expose_secret().to_owned())
        .ok_or_else(|| "k0 did not resolve".to_owned())
}

async fn run(shape: &Shape, refresh: Refresh) -> Figures {
    let mut toml = emu::vaults_toml(&["fleet"], shape.references);
    // The bench keeps the limit on tokio's clock; the emulator's own throttle stays out of it.
    toml = toml.replace("requests = 100000", "requests = 100000000");
    let emu = Arc::new(emu::start(&toml).await);
    let credential = emu::credential(&emu);
    let settings: Vec<(String, String)> = (0..shape.references)
        .map(|i| {
            (
                format!("k{i}"),
                format!("@KeyVault(VaultName=fleet;SecretName=s{i})"),
            )
        })
        .collect();

    // The limiter runs for the whole run, start-up included.
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let limiter = {
        let (emu, stop) = (emu.clone(), stop.clone());
        let mut limiter = Limiter {
            ticks: VecDeque::new(),
            throttling: false,
            counts: counts.clone(),
        };
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(TICK).await;
                limiter.tick(&emu).await;
            }
        })
    };

    let (jitter, interval) = match refresh {
        Refresh::Poll { jitter } => (jitter, shape.interval),
        // By push the timer is far away: only the events refresh.
        Refresh::Push => (0.0, Duration::from_secs(24 * 3600)),
    };
    let starts = (0..shape.instances).map(|_| {
        Live::builder(
            resolver(&emu, credential.clone()),
            settings.clone(),
            first_value,
        )
        .interval(interval)
        .jitter(jitter)
        .start()
    });
    let fleet: Vec<Live<String>> = futures_util::future::join_all(starts)
        .await
        .into_iter()
        .map(|live| live.expect("an instance starts"))
        .collect();
    // Counted once the start-up's last requests are out of the window.
    tokio::time::sleep(2 * WINDOW).await;
    let start_up_requests = counts.total.load(Ordering::SeqCst);
    let start_up_429 = counts.throttled.load(Ordering::SeqCst);
    let start_up_peak = counts.peak.swap(0, Ordering::SeqCst);

    // The rotation: one secret every instance follows gets a new version.
    emu.set_secret("fleet", "s0", "rotated-0").await;
    let rotated = Instant::now();
    if let Refresh::Push = refresh {
        // Event Grid delivers the event to every instance's webhook.
        for live in &fleet {
            live.notify_new_version("fleet", "s0").expect("push");
        }
    }
    let horizon = rotated + shape.interval * 3;
    let mut converged = None;
    while Instant::now() < horizon {
        if fleet.iter().all(|live| **live.load() == "rotated-0") {
            converged = Some(rotated.elapsed());
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    // One more interval of steady state for the peak.
    tokio::time::sleep(shape.interval).await;
    stop.store(true, Ordering::SeqCst);
    limiter.await.expect("limiter");
    drop(fleet);
    emu.shutdown();
    Figures {
        start_up_requests,
        start_up_429,
        start_up_peak,
        peak: counts.peak.load(Ordering::SeqCst),
        throttled: counts.throttled.load(Ordering::SeqCst) - start_up_429,
        converged,
        requests: counts.total.load(Ordering::SeqCst) - start_up_requests,
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let shape = shape();
    println!(
        "## Fleet: {} instances × {} versionless references, one vault, {} s interval\n",
        shape.instances,
        shape.references,
        shape.interval.as_secs()
    );
    println!(
        "One emulated vault held to Key Vault's limit ({LIMIT} requests per {} s, kept by the \
         bench on tokio's paused clock); one secret rotated after start-up. `cargo \
         bench -p kvref --bench fleet`.\n",
        WINDOW.as_secs()
    );
    println!(
        "| refresh | start-up: requests (429s), peak / 10 s | refresh: peak requests / 10 s | 429s after start-up | requests after the rotation | every instance on the new version after |"
    );
    println!("|---|---|---|---|---|---|");
    for refresh in [
        Refresh::Poll { jitter: 0.0 },
        Refresh::Poll { jitter: 0.1 },
        Refresh::Poll { jitter: 0.5 },
        Refresh::Push,
    ] {
        let figures = runtime.block_on(run(&shape, refresh));
        let name = match refresh {
            Refresh::Poll { jitter: 0.0 } => "poll, no jitter".to_owned(),
            Refresh::Poll { jitter } => format!("poll, jitter ±{:.0} %", jitter * 100.0),
            Refresh::Push => "push (the event to every instance)".to_owned(),
        };
        let converged = figures.converged.map_or_else(
            || "not within 3 intervals".to_owned(),
            |d| format!("{:.1} s", d.as_secs_f64()),
        );
        println!(
            "| {name} | {} ({}), {} | {} | {} | {} | {converged} |",
            figures.start_up_requests,
            figures.start_up_429,
            figures.start_up_peak,
            figures.peak,
            figures.throttled,
            figures.requests,
        );
    }
    println!(
        "\nPeak: the most vault requests in any 10 s window (of virtual time), at start-up (every \
         instance starting at once) and from 20 s after start-up to one interval after \
         convergence; the limit is {LIMIT}."
    );
}
