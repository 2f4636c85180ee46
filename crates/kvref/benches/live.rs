//! `Live<T>`: what a read costs, alone and while the refresher swaps as fast as it can, what one
//! refresh cycle costs per versionless reference against the emulator (real TLS), and whether
//! memory stays flat over 10,000 swaps (old snapshots freed). Run with
//! `cargo bench -p kvref --bench live`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kvref::Resolved;
use kvref::live::Live;
use kvref::secrecy::ExposeSecret;
use support::{emu, vm_rss_kib};

/// Reads per sample, and samples per median.
const READS: u32 = 100_000;
const SAMPLES: usize = 51;
/// Distinct versionless references in the cycle measurement.
const REFERENCES: usize = 100;
const SWAPS: usize = 10_000;

/// Settings as an app would hold them: a few fields, and a buffer so a leak would show in RSS.
struct Settings {
    password: String,
    pool: usize,
    _ballast: Vec<u8>,
}

fn settings(resolved: &Resolved) -> Result<Settings, String> {
    let (_, _, secret) = resolved.secrets().next().ok_or("s0 did not resolve")?;
    Ok(Settings {
        password: secret.expose_secret().to_owned(),
        pool: 8,
        _ballast: vec![1; 16 * 1024],
    })
}

/// The median cost of one `load()` and a field read, in nanoseconds.
fn median_load_ns(live: &Live<Settings>) -> f64 {
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..READS {
                black_box(live.load().pool);
            }
            start.elapsed().as_nanos() as f64 / f64::from(READS)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let emu = emu::start(&emu::vaults_toml(&["benchlive"], REFERENCES)).await;
    let resolver = emu::resolver(&emu, emu::credential(&emu))
        .build()
        .expect("resolver");
    let one = [(
        "db.password",
        "@KeyVault(VaultName=benchlive;SecretName=s0)",
    )];
    let live = Live::builder(resolver.clone(), one, settings)
        .interval(Duration::from_secs(3600))
        .start()
        .await
        .expect("live");

    // load() alone.
    let alone = median_load_ns(&live);
    println!("load() alone: median {alone:.1} ns");

    // load() on another thread while the refresher rotates and swaps as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (live, stop, swaps, emu) = (live.clone(), stop.clone(), swaps.clone(), &emu);
        async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                emu.set_secret("benchlive", "s0", &format!("p-{round}"))
                    .await;
                let changes = live.refresh_now().await.expect("refresh");
                assert!(!changes.is_empty());
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let reader = {
        let (live, stop) = (live.clone(), stop.clone());
        std::thread::spawn(move || {
            let result = median_load_ns(&live);
            stop.store(true, Ordering::Relaxed);
            result
        })
    };
    let started = Instant::now();
    swapper.await;
    let swapping = reader.join().expect("reader");
    let rate = swaps.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "load() while swapping: median {swapping:.1} ns ({:.2}x alone; {rate:.0} swaps/s)",
        swapping / alone
    );

    // One refresh cycle over REFERENCES distinct versionless references, nothing rotated.
    let many: Vec<(String, String)> = (0..REFERENCES)
        .map(|i| {
            (
                format!("k{i}"),
                format!("@KeyVault(VaultName=benchlive;SecretName=s{i})"),
            )
        })
        .collect();
    let wide = Live::builder(resolver, many, |r: &Resolved| {
        Ok::<_, String>(r.secrets().count())
    })
    .interval(Duration::from_secs(3600))
    .start()
    .await
    .expect("live over many");
    wide.refresh_now().await.expect("warm-up cycle");
    let cycles = 20;
    let start = Instant::now();
    for _ in 0..cycles {
        wide.refresh_now().await.expect("cycle");
    }
    let per_cycle = start.elapsed() / cycles;
    println!(
        "one refresh cycle, {REFERENCES} versionless references: {per_cycle:?} ({:.1} µs per reference)",
        per_cycle.as_secs_f64() * 1e6 / REFERENCES as f64
    );

    // Memory over SWAPS swaps of a snapshot that holds 16 KiB.
    let before = vm_rss_kib();
    for round in 0..SWAPS {
        emu.set_secret("benchlive", "s0", &format!("m-{round}"))
            .await;
        live.refresh_now().await.expect("refresh");
    }
    let after = vm_rss_kib();
    assert_eq!(live.load().password, format!("m-{}", SWAPS - 1));
    println!(
        "VmRSS over {SWAPS} swaps of 16 KiB snapshots: {before} KiB before, {after} KiB after ({:+} KiB; \
         the in-process emulator keeps every version it was given)",
        after as i64 - before as i64
    );
}
