//! The ready line: one JSON line on stdout once the service serves, for the scripts and tests
//! that start it.

use std::net::SocketAddr;

use serde::Serialize;

/// `{"listening": "127.0.0.1:P", "events": {"path": "/events/keyvault", "application_id": ID}}`.
#[derive(Debug, Clone, Serialize)]
pub struct Ready {
    /// The address it serves on.
    pub listening: SocketAddr,
    /// Where Event Grid delivers, and for which Entra application.
    pub events: ReadyEvents,
}

/// The webhook part of [`Ready`].
#[derive(Debug, Clone, Serialize)]
pub struct ReadyEvents {
    /// The webhook's path.
    pub path: &'static str,
    /// The Entra application deliveries must have tokens for.
    pub application_id: String,
}

impl Ready {
    /// The ready line of a service on `listening` whose webhook is for `application_id`.
    pub fn new(listening: SocketAddr, application_id: String) -> Ready {
        Ready {
            listening,
            events: ReadyEvents {
                path: crate::events::PATH,
                application_id,
            },
        }
    }
}

/// Prints the ready line and flushes it, so that a parent reading a pipe sees it at once.
pub fn print_ready(ready: &Ready) {
    use std::io::Write;
    let line = serde_json::to_string(ready).unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
