//! Start-up resolution time against the emulator over real TLS, 25 ms injected on every Key
//! Vault request, with Key Vault's limit of 4,000 requests per 10 s per vault: 10 to 10,000
//! distinct references over 1 and 4 vaults, HTTP/2 and HTTP/1.1, each next to its floor; then
//! the allocations and peak memory for 10,000 references, and the cold start of `kvref
//! check` with one reference.
//!
//! The floor is what a perfect client needs: one challenge round trip, then
//! ceil(secrets per vault / requests in flight) round trips (in flight: 100 streams per HTTP/2
//! connection times up to 4 connections, or 64 HTTP/1.1 connections), and never faster than
//! the vault's limit lets requests through. The round trip is measured in the same run (a warm
//! GET: 25 ms plus the emulator's own time).
//!
//! Run with `cargo build --release -p kvref-cli && cargo bench -p kvref --bench startup`. The
//! table is printed, between `<!-- startup:begin -->` and `<!-- startup:end -->` as markdown, and
//! written to `target/bench-results/startup.md`.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "startup/alloc.rs"]
mod alloc;
#[path = "startup/cold.rs"]
mod cold;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use kvref::reference::Reference;
use kvref::resolve::DEFAULT_CONCURRENCY_PER_VAULT;
use kvref::transport::pacing::KEY_VAULT_REQUEST_LIMIT;
use kvref::transport::{
    DEFAULT_H2_CONNECTIONS_PER_HOST, DEFAULT_H2_STREAMS_PER_CONNECTION, HttpTransport,
};
use kvref::vault::SecretClient;
use kvref_emulator::{Emulator, Endpoint, Fault};
use support::emu;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::COUNTING;

const VAULTS: [&str; 4] = ["bencha", "benchb", "benchc", "benchd"];
const LATENCY: Duration = Duration::from_millis(25);
const REFERENCES: [usize; 4] = [10, 100, 1_000, 10_000];
const VAULT_COUNTS: [usize; 2] = [1, 4];

#[derive(Clone, Copy)]
struct Case {
    references: usize,
    vaults: usize,
    h2: bool,
}

impl Case {
    fn per_vault(&self) -> usize {
        self.references.div_ceil(self.vaults)
    }

    fn protocol(&self) -> &'static str {
        if self.h2 { "h2" } else { "http/1.1" }
    }

    /// Runs per case: fewer for the long ones.
    fn runs(&self) -> usize {
        if self.references >= 10_000 { 1 } else { 3 }
    }

    /// Requests in flight per vault for a perfect client.
    fn width(&self) -> usize {
        if self.h2 {
            let streams = DEFAULT_H2_STREAMS_PER_CONNECTION;
            self.per_vault()
                .div_ceil(streams)
                .clamp(1, DEFAULT_H2_CONNECTIONS_PER_HOST)
                * streams
        } else {
            DEFAULT_CONCURRENCY_PER_VAULT
        }
    }

    fn floor(&self, round_trip: Duration) -> Duration {
        let per_vault = self.per_vault();
        let trips = round_trip * (1 + per_vault.div_ceil(self.width())) as u32;
        // A vault answers `requests` per window: the ones beyond wait for the next windows.
        let limit = KEY_VAULT_REQUEST_LIMIT;
        let windows = (per_vault + 1).div_ceil(limit.requests as usize) - 1;
        trips.max(limit.window * windows as u32 + round_trip)
    }

    /// One reference per secret `s{i}`, spread over the vaults in turn.
    fn settings(&self) -> Vec<(String, String)> {
        (0..self.references)
            .map(|i| {
                let vault = VAULTS[i % self.vaults];
                let secret = i / self.vaults;
                (
                    format!("{vault}_{secret}"),
                    format!(
                        "@Microsoft.KeyVault(SecretUri=https://{vault}.vault.azure.net/secrets/s{secret})"
                    ),
                )
            })
            .collect()
    }
}

struct Row {
    case: Case,
    measured: Duration,
    floor: Duration,
    connections: u64,
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// An emulator of `vaults` vaults of `per_vault` secrets, Key Vault's request limit, 25 ms per
/// Key Vault request; on a runtime of its own.
fn start_emulator(runtime: &tokio::runtime::Runtime, vaults: usize, per_vault: usize) -> Emulator {
    let limit = KEY_VAULT_REQUEST_LIMIT;
    let toml = emu::vaults_toml(&VAULTS[..vaults], per_vault).replace(
        "requests = 100000\nwindow_secs = 10",
        &format!(
            "requests = {}\nwindow_secs = {}",
            limit.requests,
            limit.window.as_secs()
        ),
    );
    runtime.block_on(async {
        let emu = emu::start(&toml).await;
        emu.add_fault(Fault {
            endpoint: Endpoint::KeyVault,
            delay_ms: LATENCY.as_millis() as u64,
            times: None,
            ..Fault::default()
        })
        .await;
        emu
    })
}

fn transport(emu: &Emulator, h2: bool) -> HttpTransport {
    let transport = emu::transport(emu);
    if h2 {
        transport
    } else {
        transport
            .settings()
            .clone()
            .http1_only()
            .build()
            .expect("transport")
    }
}

/// One cold resolution: a fresh transport and resolver (new connections, new challenges).
async fn resolve_once(emu: &Emulator, case: Case) -> Duration {
    let resolver = emu::resolver(emu, emu::credential(emu))
        .transport(transport(emu, case.h2))
        .budget(Duration::from_secs(120))
        .build()
        .expect("resolver");
    let settings = case.settings();
    let started = Instant::now();
    let resolution = resolver.resolve(settings).await;
    let elapsed = started.elapsed();
    assert!(
        resolution.is_success(),
        "{:?}",
        resolution.failures().next()
    );
    elapsed
}

/// The round trip of one warm GET (median of 21).
async fn round_trip(emu: &Emulator) -> Duration {
    let client = SecretClient::builder(emu::credential(emu))
        .transport(emu::transport(emu))
        .build()
        .expect("client");
    let reference = Reference::parse("@KeyVault(VaultName=bencha;SecretName=s0)")
        .expect("valid")
        .expect("a reference");
    client.get_secret(&reference).await.expect("secret");
    let mut trips = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        client.get_secret(&reference).await.expect("secret");
        trips.push(started.elapsed());
    }
    trips.sort();
    trips[trips.len() / 2]
}

fn main() {
    let emulator_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("emulator runtime");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let small = start_emulator(&emulator_runtime, 1, 1);
    let round_trip = runtime.block_on(round_trip(&small));
    println!(
        "startup: {} ms injected per Key Vault request, measured round trip {:.1} ms; Key Vault limit {} per {} s per vault",
        LATENCY.as_millis(),
        round_trip.as_secs_f64() * 1000.0,
        KEY_VAULT_REQUEST_LIMIT.requests,
        KEY_VAULT_REQUEST_LIMIT.window.as_secs()
    );

    let mut rows = Vec::new();
    for h2 in [true, false] {
        for vaults in VAULT_COUNTS {
            for references in REFERENCES {
                let case = Case {
                    references,
                    vaults,
                    h2,
                };
                let mut runs = Vec::new();
                let mut connections = 0;
                for _ in 0..case.runs() {
                    // A fresh emulator per run: its request windows start empty.
                    let emu = start_emulator(&emulator_runtime, vaults, case.per_vault());
                    runs.push(runtime.block_on(resolve_once(&emu, case)));
                    connections = runtime
                        .block_on(emu.tls_handshakes())
                        .iter()
                        .filter(|(host, _)| host.ends_with(".vault.azure.net"))
                        .map(|(_, n)| n)
                        .sum();
                }
                runs.sort();
                let row = Row {
                    case,
                    measured: runs[runs.len() / 2],
                    floor: case.floor(round_trip),
                    connections,
                };
                println!(
                    "{:>6} refs {} vault(s) {:<8} {:>9}  floor {:>9}  ratio {:.2}  connections {}",
                    references,
                    vaults,
                    case.protocol(),
                    ms(row.measured),
                    ms(row.floor),
                    row.measured.as_secs_f64() / row.floor.as_secs_f64(),
                    row.connections
                );
                rows.push(row);
            }
        }
    }

    // Memory for 10,000 references over 4 vaults, HTTP/2.
    let case = Case {
        references: 10_000,
        vaults: 4,
        h2: true,
    };
    let emu = start_emulator(&emulator_runtime, case.vaults, case.per_vault());
    let region = alloc::start(&ALLOCATOR);
    runtime.block_on(resolve_once(&emu, case));
    let usage = alloc::since(&region);
    drop(emu);

    let cold = runtime.block_on(cold::measure(
        &small,
        "@Microsoft.KeyVault(SecretUri=https://bencha.vault.azure.net/secrets/s0)",
        5,
    ));

    let markdown = markdown(&rows, round_trip, &usage, cold.as_ref());
    println!("\n<!-- startup:begin -->\n{markdown}<!-- startup:end -->");
    if let Some(path) = results_path() {
        let written = std::fs::create_dir_all(path.parent().expect("a parent"))
            .and_then(|()| std::fs::write(&path, &markdown));
        match written {
            Ok(()) => println!("written to {}", path.display()),
            Err(e) => println!("not written to {}: {e}", path.display()),
        }
    }
}

/// `target/bench-results/startup.md`, from this binary's place in `target/release/deps`.
fn results_path() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?;
    Some(target.join("bench-results").join("startup.md"))
}

fn markdown(
    rows: &[Row],
    round_trip: Duration,
    usage: &alloc::Usage,
    cold: Option<&cold::ColdStart>,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Start-up resolution, {} ms injected per Key Vault request (measured round trip {:.1} ms), \
         Key Vault's limit of {} requests per {} s per vault; median of 3 runs (1 for 10,000).\n",
        LATENCY.as_millis(),
        round_trip.as_secs_f64() * 1000.0,
        KEY_VAULT_REQUEST_LIMIT.requests,
        KEY_VAULT_REQUEST_LIMIT.window.as_secs()
    );
    let _ = writeln!(
        md,
        "| references | vaults | protocol | measured | floor | ratio | vault connections |"
    );
    let _ = writeln!(md, "|---:|---:|---|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.2} | {} |",
            row.case.references,
            row.case.vaults,
            row.case.protocol(),
            ms(row.measured),
            ms(row.floor),
            row.measured.as_secs_f64() / row.floor.as_secs_f64(),
            row.connections
        );
    }
    let _ = writeln!(
        md,
        "\n10,000 references over 4 vaults (HTTP/2), the whole process (the emulator serving \
         them included): {} allocations, {:.1} MiB allocated; peak resident set {}.\n",
        usage.allocations,
        usage.bytes as f64 / (1024.0 * 1024.0),
        usage.peak_rss_kib.map_or("unknown".to_owned(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        ))
    );
    match cold {
        Some(cold) => {
            let _ = writeln!(
                md,
                "Cold start of `kvref check` with one reference (median of 5): first request \
                 (identity) after {}, first Key Vault request after {}, exit after {}.",
                ms(cold.first_request),
                ms(cold.first_vault_request),
                ms(cold.exit)
            );
        }
        None => {
            let _ = writeln!(
                md,
                "Cold start skipped: build the binary first (`cargo build --release -p kvref-cli`)."
            );
        }
    }
    md
}
