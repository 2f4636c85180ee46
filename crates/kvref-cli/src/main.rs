//! The `kvref` command: check and resolve Key Vault references before deploying; run the emulator.
//!
//! `kvref check` finds every reference in settings files and prefixed environment variables and
//! reports, per reference, whether it resolves and how to fix it when it does not. `kvref resolve`
//! prints the settings with references resolved (secrets redacted unless asked for). `kvref
//! emulator` runs the local emulator. Logs go to stderr through tracing (`RUST_LOG`); no secret
//! value or token is ever logged.

mod check;
mod cli;
mod connect;
mod emulator;
mod progress;
mod render;
mod report;
mod resolve;
mod settings;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit status when every reference resolved.
const EXIT_OK: u8 = 0;
/// Exit status when at least one reference did not resolve.
const EXIT_FAILED: u8 = 1;
/// Exit status for usage errors and when the command could not run at all.
const EXIT_USAGE: u8 = 2;

/// Why a command could not run (exit status 2). The message names what to fix.
#[derive(Debug)]
struct CliError(String);

// One `From` per error type that `?` may carry, each checked to name no value: a blanket impl
// would also let through, say, a parser's error that quotes a line of a settings file.

/// A settings file that cannot be read: its text names the file, line and column, never a value.
impl From<settings::SettingsError> for CliError {
    fn from(error: settings::SettingsError) -> Self {
        CliError(error.to_string())
    }
}

/// kvref's own errors: they name keys, vaults and secrets, never a value.
impl From<kvref::error::Error> for CliError {
    fn from(error: kvref::error::Error) -> Self {
        CliError(error.to_string())
    }
}

fn main() -> ExitCode {
    // Parse first: clap prints help and usage errors itself and exits 2 on a usage error.
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Check(args) => check::run(args).await,
            Command::Resolve(args) => resolve::run(args).await,
            Command::Emulator(args) => emulator::run(args).await,
        }
    });
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(CliError(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Writes the command's output. A closed pipe (`kvref check | head`) is not an error.
fn write_stdout(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings and errors only).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
