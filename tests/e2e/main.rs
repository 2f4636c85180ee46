//! The example services end to end, each as a real process on a free port against the
//! emulator: the ready line, `/health`, the handler that uses a secret, a secret rotated in the
//! emulator, the Event Grid delivery arriving at the service's webhook, the next responses
//! reflecting the new version, then SIGTERM: exit code 0, the time it took printed.
//!
//! This binary has no test harness: run with `KVREF_E2E_SERVE=axum` (or `actix`) it *is* the
//! example service (its library's `main`, the same as the example's binary), otherwise it runs
//! the scenarios, starting itself as the services. So no other cargo invocation has to have
//! built the example binaries.

mod actix;
mod axum;
mod delivery;

use std::process::ExitCode;

use kvref_e2e::ServerProcess;
use kvref_emulator::{Emulator, EmulatorConfig};

/// Set in a child: which example it is.
const SERVE_VAR: &str = "KVREF_E2E_SERVE";

fn main() -> ExitCode {
    match std::env::var(SERVE_VAR).as_deref() {
        Ok("axum") => return kvref_example_axum::main(),
        Ok("actix") => return kvref_example_actix::main(),
        Ok(other) => {
            eprintln!("{SERVE_VAR}={other}: not an example (axum, actix)");
            return ExitCode::FAILURE;
        }
        Err(_) => {}
    }
    // `cargo test -- --list` and filters: this binary holds these two tests.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("axum: test\nactix: test");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let axum = async {
            if wanted("axum") {
                tokio::spawn(axum::scenario()).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let actix = async {
            if wanted("actix") {
                tokio::spawn(actix::scenario()).await.map(Some)
            } else {
                Ok(None)
            }
        };
        let (axum, actix) = tokio::join!(axum, actix);
        [("axum", axum), ("actix", actix)]
    });
    let mut failed = 0;
    for (name, result) in outcome {
        match result {
            Ok(Some(())) => println!("test {name} ... ok"),
            Ok(None) => println!("test {name} ... filtered out"),
            Err(panic) => {
                failed += 1;
                println!("test {name} ... FAILED ({panic})");
            }
        }
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The sample emulator (examples/emulator.toml), in this process.
async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample())
        .await
        .expect("the emulator starts")
}

/// This binary started as the `example` service against `emulator`, on a free port, with
/// nothing of this process's environment but what it needs.
async fn start(example: &str, emulator: &Emulator) -> ServerProcess {
    let mut command = tokio::process::Command::new(std::env::current_exe().expect("own path"));
    command
        .env_clear()
        .env(SERVE_VAR, example)
        .env("KVREF_EMULATOR", format!("http://{}", emulator.http_addr()))
        .env("APP__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info");
    ServerProcess::spawn(command).await
}

/// Stops `server` with SIGTERM and checks the exit: code 0, the refresher stopped, nothing
/// more on stdout than the ready line, no secret in the log.
async fn stop(server: ServerProcess, example: &str, secrets: &[&str]) {
    let stopped = server.terminate().await;
    println!(
        "{example}: exited {:?} {:?} after SIGTERM",
        stopped.status.code(),
        stopped.elapsed
    );
    let log = stopped.log.join("\n");
    assert_eq!(
        stopped.status.code(),
        Some(0),
        "{example} exit status; log:\n{log}"
    );
    assert!(
        log.contains("stopped: server closed, refresher ended"),
        "{example} did not report its refresher stopped; log:\n{log}"
    );
    assert!(
        stopped.stdout_after_ready.is_empty(),
        "{example} printed more than the ready line: {:?}",
        stopped.stdout_after_ready
    );
    for secret in secrets {
        assert!(!log.contains(secret), "{example} logged a secret value");
    }
}

/// The body of `/health`, checked for its shape, and the version it reports for `key`.
fn health_version(health: &serde_json::Value, key: &str) -> String {
    assert!(health["status"].is_string(), "{health}");
    assert!(health["refresh"].is_object(), "{health}");
    let secrets = health["secrets"].as_array().expect("secrets is a list");
    for secret in secrets {
        for field in ["key", "vault", "secret", "version"] {
            assert!(secret.get(field).is_some(), "{field} missing in {secret}");
        }
    }
    let entry = secrets
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {health}"));
    entry["version"]
        .as_str()
        .unwrap_or_else(|| panic!("{key} has no version: {health}"))
        .to_owned()
}
