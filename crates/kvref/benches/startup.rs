//! Startup resolution time for 1,000 references (distinct secrets over 4 vaults) with 25 ms
//! injected latency on every Key Vault request, against the emulator over real TLS.
//!
//! Prints, for each concurrency per vault, the measured time next to the ideal (the round trips
//! a perfect client needs at that concurrency: one challenge, then ceil(250 / c) batches, × 25 ms),
//! and a one-by-one loop (the way a naive client or .NET's one-at-a-time providers fetch), with
//! ratios. Run with `cargo bench -p kvref --bench startup`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use kvref::reference::Reference;
use kvref::resolve::DEFAULT_CONCURRENCY_PER_VAULT;
use kvref::vault::SecretClient;
use kvref_emulator::{Endpoint, Fault};
use support::emu;

const VAULTS: [&str; 4] = ["bencha", "benchb", "benchc", "benchd"];
const PER_VAULT: usize = 250;
const LATENCY: Duration = Duration::from_millis(25);
const SWEEP: [usize; 6] = [8, 16, 32, 64, 128, 256];
const REPEATS: usize = 3;

fn settings() -> Vec<(String, String)> {
    VAULTS
        .iter()
        .flat_map(|vault| {
            (0..PER_VAULT).map(move |i| {
                (
                    format!("{vault}_{i}"),
                    format!("@Microsoft.KeyVault(SecretUri=https://{vault}.vault.azure.net/secrets/s{i})"),
                )
            })
        })
        .collect()
}

fn ideal(concurrency: usize) -> Duration {
    let rounds = 1 + PER_VAULT.div_ceil(concurrency);
    LATENCY * rounds as u32
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let emu = emu::start(&emu::vaults_toml(&VAULTS, PER_VAULT)).await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: None,
        delay_ms: LATENCY.as_millis() as u64,
        times: None,
        ..Fault::default()
    })
    .await;
    let settings = settings();
    println!(
        "startup: {} references, {} vaults, {} ms per Key Vault request (emulator, TLS, one token cache)",
        settings.len(),
        VAULTS.len(),
        LATENCY.as_millis()
    );

    // Warm the identity endpoint and the process (first TLS use, allocator) outside the timings.
    let warm = emu::resolver(&emu, emu::credential(&emu))
        .build()
        .expect("resolver");
    assert!(warm.resolve(settings[..4].to_vec()).await.is_success());

    println!(
        "{:>11} {:>10} {:>10} {:>8}",
        "concurrency", "measured", "ideal", "ratio"
    );
    let mut at_default = None;
    for concurrency in SWEEP {
        let mut runs = Vec::new();
        for _ in 0..REPEATS {
            // A fresh resolver per run: cold connections and challenges, as at startup.
            let resolver = emu::resolver(&emu, emu::credential(&emu))
                .concurrency_per_vault(concurrency)
                .build()
                .expect("resolver");
            let started = Instant::now();
            let resolution = resolver.resolve(settings.clone()).await;
            runs.push(started.elapsed());
            assert!(
                resolution.is_success(),
                "{:?}",
                resolution.failures().next()
            );
        }
        runs.sort();
        let best = runs[0];
        let median = runs[REPEATS / 2];
        println!(
            "{concurrency:>11} {:>10} {:>10} {:>8.2}   (best {}, median of {REPEATS})",
            ms(median),
            ms(ideal(concurrency)),
            median.as_secs_f64() / ideal(concurrency).as_secs_f64(),
            ms(best),
        );
        if concurrency == DEFAULT_CONCURRENCY_PER_VAULT {
            at_default = Some(median);
        }
    }

    // One by one: the same 1,000 secrets fetched sequentially through the same client code.
    let credential = emu::credential(&emu);
    let client = SecretClient::builder(credential)
        .transport(emu::transport(&emu))
        .build()
        .expect("client");
    let references: Vec<Reference> = settings
        .iter()
        .map(|(_, v)| Reference::parse(v).expect("valid").expect("reference"))
        .collect();
    let started = Instant::now();
    for reference in &references {
        client.get_secret(reference).await.expect("secret");
    }
    let one_by_one = started.elapsed();

    let measured = at_default.expect("the default concurrency is in the sweep");
    let ideal_default = ideal(DEFAULT_CONCURRENCY_PER_VAULT);
    println!();
    println!("default concurrency per vault: {DEFAULT_CONCURRENCY_PER_VAULT}");
    println!("  measured:   {}", ms(measured));
    println!(
        "  ideal:      {} ({} round trips × {} ms)",
        ms(ideal_default),
        1 + PER_VAULT.div_ceil(DEFAULT_CONCURRENCY_PER_VAULT),
        LATENCY.as_millis()
    );
    println!("  one by one: {}", ms(one_by_one));
    println!(
        "  measured / ideal = {:.2}; one-by-one / measured = {:.1}x",
        measured.as_secs_f64() / ideal_default.as_secs_f64(),
        one_by_one.as_secs_f64() / measured.as_secs_f64()
    );
}
