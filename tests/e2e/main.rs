//! The example services end to end, each as a real process on a free port against the
//! emulator: the ready line, `/health`, the handler that uses a secret, the emulator's Event
//! Grid subscribed to the service's webhook (Entra-protected delivery; the Event Grid schema
//! for one, CloudEvents for the other), a forged delivery refused, a secret rotated in the
//! emulator, its delivery arriving, the next responses reflecting the new version, then
//! SIGTERM: exit code 0, the time it took printed.
//!
//! This binary has no test harness: run with `KVREF_E2E_SERVE=axum` (or `actix`) it *is* the
//! example service (its library's `main`, what `cargo run -p kvref-example-axum` and
//! `cargo run -p kvref-example-actix` run), otherwise it runs the scenarios, starting itself as
//! the services. So no other cargo invocation has to have built the example binaries.

mod actix;
mod axum;
mod delivery;

use std::process::ExitCode;

use kvref_e2e::{ServerProcess, assert_clean_stop, example_command, health_secrets};
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
    let Some(selection) = Selection::from_args(std::env::args().skip(1)) else {
        // `--list`, or `--ignored` (none is): nothing to run.
        return ExitCode::SUCCESS;
    };
    let wanted = |name: &str| selection.runs(name);
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

/// Which of this binary's tests to run, from the arguments libtest would take: filters
/// (`--exact` for exact names), `--skip NAME`, `--list`, `--ignored`; the others (`--nocapture`,
/// `--test-threads N`, ...) change nothing here.
struct Selection {
    filters: Vec<String>,
    skips: Vec<String>,
    exact: bool,
}

/// The tests of this binary.
const TESTS: [&str; 2] = ["axum", "actix"];

impl Selection {
    fn from_args(args: impl Iterator<Item = String>) -> Option<Selection> {
        let mut selection = Selection {
            filters: Vec::new(),
            skips: Vec::new(),
            exact: false,
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--list" => {
                    for test in TESTS {
                        println!("{test}: test");
                    }
                    return None;
                }
                "--ignored" => return None,
                "--exact" => selection.exact = true,
                "--skip" => selection.skips.extend(args.next()),
                // Options that take a value.
                "--test-threads" | "--format" | "--color" | "--logfile" | "--shuffle-seed"
                | "-Z" => {
                    args.next();
                }
                option if option.starts_with('-') => {}
                filter => selection.filters.push(filter.to_owned()),
            }
        }
        Some(selection)
    }

    fn runs(&self, name: &str) -> bool {
        let matches = |pattern: &String| {
            if self.exact {
                name == pattern
            } else {
                name.contains(pattern.as_str())
            }
        };
        (self.filters.is_empty() || self.filters.iter().any(matches))
            && !self.skips.iter().any(matches)
    }
}

/// The sample emulator (examples/emulator.toml), in this process.
async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::sample())
        .await
        .expect("the emulator starts")
}

/// A scenario under way: the emulator, the service started against it (its ready line and
/// first `/health` checked) and subscribed to it, and a client.
struct Begun {
    emulator: Emulator,
    server: ServerProcess,
    client: reqwest::Client,
    /// The subscription's delivery schema.
    schema: &'static str,
    /// The version `/health` first reported for the key the scenario rotates.
    version: String,
}

/// Starts this binary as the `example` service against a new emulator, on a free port; checks
/// its ready line and `/health` (status ok, `key` in `vault/secret`, no value of `secrets`
/// shown); subscribes its webhook to the emulator's Event Grid in `schema`.
async fn begin(
    (example, schema): (&str, &'static str),
    key: &str,
    (vault, secret): (&str, &str),
    secrets: &[&str],
) -> Begun {
    let emulator = emulator().await;
    let program = std::env::current_exe().expect("own path");
    let command = example_command(program, emulator.http_addr(), &[(SERVE_VAR, example)]);
    let server = ServerProcess::spawn(command).await;
    assert_eq!(server.ready["events"]["path"], "/events/keyvault");
    let application_id = server.ready["events"]["application_id"]
        .as_str()
        .expect("the ready line names the application")
        .to_owned();
    let client = reqwest::Client::new();
    let health = get_health(&client, &server).await;
    assert_eq!(health["status"], "ok", "{health}");
    for value in secrets {
        assert!(
            !health.to_string().contains(value),
            "/health shows no value"
        );
    }
    let version = version_of(&health, key, (vault, secret));
    let (name, webhook) = (format!("{example}-e2e"), server.url("/events/keyvault"));
    delivery::subscribe(
        &client,
        emulator.http_addr(),
        (&name, schema),
        &webhook,
        &application_id,
    )
    .await;
    Begun {
        emulator,
        server,
        client,
        schema,
        version,
    }
}

/// `GET /health`: 200 and its body.
async fn get_health(client: &reqwest::Client, server: &ServerProcess) -> serde_json::Value {
    let response = client
        .get(server.url("/health"))
        .send()
        .await
        .expect("/health answers");
    assert_eq!(response.status(), 200);
    response.json().await.expect("/health is JSON")
}

/// The version `/health` reports for `key`, which must be a reference to `vault/secret`.
fn version_of(health: &serde_json::Value, key: &str, (vault, secret): (&str, &str)) -> String {
    let secrets = health_secrets(health);
    let entry = secrets
        .iter()
        .find(|s| s.0 == key)
        .unwrap_or_else(|| panic!("no {key} in {health}"));
    assert_eq!(
        (entry.1.as_str(), entry.2.as_str()),
        (vault, secret),
        "{health}"
    );
    entry.3.clone()
}

impl Begun {
    /// Checks that a forged delivery is refused, rotates `vault/secret` to `value` in the
    /// emulator, waits for the service to log the new snapshot (the emulator's Event Grid
    /// delivered the event), checks the journal says it was delivered, and returns the new
    /// version.
    async fn rotate(&mut self, (vault, secret): (&str, &str), value: &str) -> String {
        let url = self.server.url("/events/keyvault");
        let forged = (vault, secret, "0123456789abcdef0123456789abcdef");
        assert_eq!(delivery::forge(&self.client, &url, forged).await, 401);
        let version = self.emulator.set_secret(vault, secret, value).await;
        self.server
            .wait_for_log(&["settings: new snapshot in use", "generation=1", &version])
            .await;
        self.emulator.deliveries_settled().await;
        let delivered: Vec<_> = self
            .emulator
            .deliveries()
            .into_iter()
            .filter_map(|entry| entry.eventgrid.map(|attempt| (entry.status, attempt)))
            .filter(|(_, attempt)| attempt.event_type == "Notification")
            .collect();
        assert_eq!(
            delivered.len(),
            1,
            "one delivery, taken at once: {delivered:?}"
        );
        assert_eq!(delivered[0].0, 200, "{delivered:?}");
        assert_eq!(delivered[0].1.outcome, kvref_emulator::Outcome::Delivered);
        version
    }

    /// Checks `/health` after one rotation: `key` at `version`, one delivery taken and one
    /// refused; then stops the service with SIGTERM and checks the exit and that no value of
    /// `secrets` was logged.
    async fn finish(
        self,
        example: &str,
        key: &str,
        secret: (&str, &str),
        version: &str,
        secrets: &[&str],
    ) {
        let health = get_health(&self.client, &self.server).await;
        assert_eq!(version_of(&health, key, secret), version);
        assert_eq!(health["refresh"]["generation"], 1, "{health}");
        // The Event Grid schema's validation handshake is a delivery too; CloudEvents' OPTIONS
        // is not.
        let accepted = if self.schema == "eventgrid" { 2 } else { 1 };
        assert_eq!(
            health["refresh"]["events"]["accepted"], accepted,
            "{health}"
        );
        assert_eq!(health["refresh"]["events"]["rejected"], 1, "{health}");
        drop(self.client);
        let stopped = self.server.terminate().await;
        assert_clean_stop(&stopped, example);
        let log = stopped.log.join("\n");
        for secret in secrets {
            assert!(!log.contains(secret), "{example} logged a secret value");
        }
    }
}
