//! Helpers for kvref's end-to-end tests: run an example service as a child process, read its
//! ready line, follow its log without sleeping (each stderr line arrives on a channel), and
//! stop it with SIGTERM.

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

/// The top-level README's Rust code, compiled by `cargo test --doc` so that it cannot rot
/// (its shell commands are run by kvref-cli's `readme` test).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
