//! `kvref emulator`: runs the kvref emulator in this process, as the `kvref-emulator` binary does.
//!
//! Prints the emulator's ready line (one JSON object: addresses, CA certificate, tenant, the
//! environment of each identity source) on stdout once it listens, then serves until Ctrl-C or
//! SIGTERM.

use kvref_emulator::EmulatorConfig;

use crate::cli::EmulatorArgs;
use crate::{CliError, EXIT_OK};

pub(crate) async fn run(args: EmulatorArgs) -> Result<u8, CliError> {
    // The configuration error names the file and line itself.
    let mut config = EmulatorConfig::from_file(&args.config)
        .map_err(|e| CliError(format!("invalid emulator configuration: {e}")))?;
    if let Some(port) = args.https_port {
        config = config.with_https_port(port);
    }
    if let Some(port) = args.http_port {
        config = config.with_http_port(port);
    }
    kvref_emulator::run(config, std::io::stdout())
        .await
        .map_err(|e| CliError(format!("kvref emulator: {e}")))?;
    Ok(EXIT_OK)
}
