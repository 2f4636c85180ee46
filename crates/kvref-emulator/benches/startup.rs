//! Start-up figures (printed, never asserted): the binary from spawn to ready line, and the
//! in-process `Emulator::start`. Run with `cargo bench -p kvref-emulator --bench startup`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kvref_emulator::{Emulator, EmulatorConfig};

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let median = samples[samples.len() / 2];
    let max = samples[samples.len() - 1];
    println!(
        "{label}: median {:.1} ms, max {:.1} ms over {} runs",
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        samples.len()
    );
}

fn main() {
    let config = format!(
        "{}/../../examples/emulator.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut spawn_to_ready = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kvref-emulator"))
            .args(["--config", &config])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn kvref-emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        spawn_to_ready.push(started.elapsed());
        assert!(line.starts_with('{'), "not a ready line: {line}");
        let _ = child.kill();
        let _ = child.wait();
    }
    summary("binary: spawn to ready line", spawn_to_ready);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut in_process = Vec::new();
    let mut first_secret = Vec::new();
    runtime.block_on(async {
        for _ in 0..20 {
            let started = Instant::now();
            let emu = Emulator::start(EmulatorConfig::sample())
                .await
                .expect("start");
            in_process.push(started.elapsed());
            let started = Instant::now();
            let response = emu
                .client()
                .get(format!(
                    "{}/secrets/DbPassword?api-version=7.5",
                    emu.vault_url("myvault")
                ))
                .send()
                .await
                .expect("challenge");
            assert_eq!(response.status(), 401);
            first_secret.push(started.elapsed());
        }
    });
    summary("library: Emulator::start", in_process);
    summary(
        "library: first HTTPS request (new TLS connection)",
        first_secret,
    );
}
