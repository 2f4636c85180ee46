//! Helpers for kvref's end-to-end tests: run an example service as a child process, read its
//! ready line, follow its log without sleeping (each stderr line arrives on a channel), and
//! stop it with SIGTERM.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The signals a test may stop a server with.
pub use rustix::process::Signal;

/// How long anything a test waits for may take before it fails: generous, so that a loaded
/// machine is slow but not wrong. Nothing is asserted about the time itself.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// An example service running as a child process.
pub struct ServerProcess {
    child: Child,
    /// The ready line it printed on stdout, parsed.
    pub ready: Value,
    /// `ready.listening`.
    pub addr: SocketAddr,
    log: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
    stdout_rest: JoinHandle<Vec<String>>,
}

/// How a [`ServerProcess`] ended.
#[derive(Debug)]
pub struct Stopped {
    /// Its exit status.
    pub status: ExitStatus,
    /// From the signal to the exit.
    pub elapsed: Duration,
    /// Its whole log (stderr).
    pub log: Vec<String>,
    /// What it printed on stdout after the ready line (nothing, for a well-behaved service).
    pub stdout_after_ready: Vec<String>,
}

impl ServerProcess {
    /// Spawns `command` (stdout and stderr are taken over) and waits for its ready line: the
    /// first line on stdout, a JSON object with `listening`. Panics, with its log, if it exits
    /// or prints something else first.
    pub async fn spawn(mut command: Command) -> ServerProcess {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the server process starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (log_tx, mut log) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if log_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = tokio::time::timeout(PATIENCE, stdout.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let mut seen = Vec::new();
                while let Ok(line) = log.try_recv() {
                    seen.push(line);
                }
                let status = child.try_wait();
                panic!(
                    "no ready line ({other:?}); status {status:?}; log:\n{}",
                    seen.join("\n")
                );
            }
        };
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the ready line is not JSON ({e}): {line}"));
        let addr = ready["listening"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("the ready line has no listening address: {line}"));
        let stdout_rest = tokio::spawn(async move {
            let mut rest = Vec::new();
            while let Ok(Some(line)) = stdout.next_line().await {
                rest.push(line);
            }
            rest
        });
        ServerProcess {
            child,
            ready,
            addr,
            log,
            seen: Vec::new(),
            stdout_rest,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits for the next log line that contains every one of `needles`, and returns it.
    /// Panics with the log if the process ends or [`PATIENCE`] runs out first.
    pub async fn wait_for_log(&mut self, needles: &[&str]) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.log.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                other => panic!(
                    "no log line with {needles:?} ({}); log:\n{}",
                    if other.is_ok() {
                        "it ended"
                    } else {
                        "timed out"
                    },
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGTERM and waits for the exit, its log and the rest of its stdout.
    pub async fn terminate(self) -> Stopped {
        self.stop_with(Signal::TERM).await
    }

    /// Sends `signal` and waits for the exit, its log and the rest of its stdout.
    pub async fn stop_with(mut self, signal: Signal) -> Stopped {
        let id = self.child.id().expect("the server is still running");
        let pid = rustix::process::Pid::from_raw(id as i32).expect("a child's pid is positive");
        let start = Instant::now();
        rustix::process::kill_process(pid, signal).expect("the signal is sent");
        let status = tokio::time::timeout(PATIENCE, self.child.wait())
            .await
            .expect("the server exits after the signal")
            .expect("its exit status");
        let elapsed = start.elapsed();
        while let Some(line) = self.log.recv().await {
            self.seen.push(line);
        }
        let stdout_after_ready = self.stdout_rest.await.unwrap_or_default();
        Stopped {
            status,
            elapsed,
            log: self.seen,
            stdout_after_ready,
        }
    }
}

/// `program` (an example service) against the emulator at `emulator` (its http address), on a
/// free port, logging at `info`, with `extra` variables and nothing else of this process's
/// environment.
pub fn example_command(
    program: impl AsRef<OsStr>,
    emulator: SocketAddr,
    extra: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("KVREF_EMULATOR", format!("http://{emulator}"))
        .env("APP__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .envs(extra.iter().copied());
    command
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// Checks the shape of a `/health` body (exactly `status`, `secrets`, `refresh`; each secret
/// exactly `key`, `vault`, `secret`, `version`, a 32-digit version) and returns its
/// `(key, vault, secret, version)`s, sorted.
pub fn health_secrets(health: &Value) -> Vec<(String, String, String, String)> {
    assert_eq!(keys(health), ["refresh", "secrets", "status"], "{health}");
    assert!(
        health["status"].is_string() && health["refresh"].is_object(),
        "{health}"
    );
    let text = |v: &Value| {
        v.as_str()
            .unwrap_or_else(|| panic!("not a string: {v}"))
            .to_owned()
    };
    let mut secrets: Vec<_> = health["secrets"]
        .as_array()
        .unwrap_or_else(|| panic!("secrets is not a list: {health}"))
        .iter()
        .map(|s| {
            assert_eq!(keys(s), ["key", "secret", "vault", "version"], "{s}");
            assert_eq!(s["version"].as_str().map(str::len), Some(32), "{s}");
            (
                text(&s["key"]),
                text(&s["vault"]),
                text(&s["secret"]),
                text(&s["version"]),
            )
        })
        .collect();
    secrets.sort_unstable();
    secrets
}

/// Checks that a service stopped cleanly: exit code 0, nothing on stdout after the ready line,
/// the refresher reported stopped. Prints how long it took.
pub fn assert_clean_stop(stopped: &Stopped, what: &str) {
    println!(
        "{what}: exited {:?} {:?} after the signal",
        stopped.status.code(),
        stopped.elapsed
    );
    let log = stopped.log.join("\n");
    assert_eq!(
        stopped.status.code(),
        Some(0),
        "{what} exit status; log:\n{log}"
    );
    assert!(
        stopped.stdout_after_ready.is_empty(),
        "{what} printed more than the ready line: {:?}",
        stopped.stdout_after_ready
    );
    assert!(
        log.contains("stopped: server closed, refresher ended"),
        "{what} did not report its refresher stopped; log:\n{log}"
    );
}

/// The checks both example binaries pass: started against the emulator at `emulator` on a
/// free port, the ready line has exactly the documented shape and the application id of the
/// example's settings; `/health` answers 200, `ok`, with exactly the references `expected`
/// (`(key, vault, secret)`, sorted); `signal` stops it cleanly.
pub async fn check_binary(
    program: &str,
    emulator: SocketAddr,
    expected: &[(&str, &str, &str)],
    signal: Signal,
) {
    let server = ServerProcess::spawn(example_command(program, emulator, &[])).await;
    assert_eq!(
        keys(&server.ready),
        ["events", "listening"],
        "{}",
        server.ready
    );
    assert_eq!(keys(&server.ready["events"]), ["application_id", "path"]);
    assert_eq!(server.ready["events"]["path"], "/events/keyvault");
    let application_id = &server.ready["events"]["application_id"];
    assert_eq!(application_id, "8c4e2f4a-1b3d-4e5f-9a6b-7c8d9e0f1a2b");
    assert!(server.addr.ip().is_loopback() && server.addr.port() != 0);

    let health = reqwest::get(server.url("/health"))
        .await
        .expect("/health answers");
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.expect("/health is JSON");
    assert_eq!(health["status"], "ok", "{health}");
    let secrets: Vec<_> = health_secrets(&health)
        .into_iter()
        .map(|(key, vault, secret, _)| (key, vault, secret))
        .collect();
    let expected: Vec<_> = expected
        .iter()
        .map(|(k, v, s)| (k.to_string(), v.to_string(), s.to_string()))
        .collect();
    assert_eq!(secrets, expected);

    assert_clean_stop(&server.stop_with(signal).await, program);
}

/// Starts `program` with `variable` overriding a setting with a reference to a secret that
/// does not exist: it must exit 1 before its ready line, naming `setting` (in any case), the
/// status and the `az` command that checks it.
pub async fn check_broken_reference(
    program: &str,
    emulator: SocketAddr,
    variable: &str,
    setting: &str,
) {
    let broken = [(
        variable,
        "@KeyVault(VaultName=myvault;SecretName=NoSuchKey)",
    )];
    let output = example_command(program, emulator, &broken)
        .output()
        .await
        .expect("the program runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no ready line");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.to_lowercase().contains(setting), "{stderr}");
    assert!(stderr.contains("SecretNotFound"), "{stderr}");
    assert!(stderr.contains("az keyvault secret show"), "{stderr}");
}

/// The top-level README's Rust code, compiled by `cargo test --doc` so that it cannot rot
/// (its shell commands are run by kvref-cli's `readme` test).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
