//! The `/health` body: how the refresher is doing and which secret versions are in use, never
//! a value. Serve it with 200 while the process serves: a failing refresh keeps the last good
//! settings, so the service still works; `status` says `degraded` and `refresh.last_error` says
//! why.

use kvref::events::Webhook;
use kvref::live::Status;
use serde_json::{Value, json};

/// `{"status", "secrets": [{"key", "vault", "secret", "version"}], "refresh": {...}}`.
pub fn body(status: &Status, webhook: &Webhook) -> Value {
    let state = if status.next_attempt.is_none() {
        "stopped"
    } else if status.consecutive_failures > 0 {
        "degraded"
    } else {
        "ok"
    };
    let secrets: Vec<Value> = status
        .versions
        .iter()
        .map(|v| {
            // `vault/secret`, as the core names it.
            let (vault, secret) = v.secret.split_once('/').unwrap_or(("", &v.secret));
            json!({"key": v.key, "vault": vault, "secret": secret, "version": v.version})
        })
        .collect();
    let next_in_ms = status.next_attempt.map(|at| {
        at.saturating_duration_since(tokio::time::Instant::now())
            .as_millis() as u64
    });
    let pushes = webhook.stats();
    json!({
        "status": state,
        "secrets": secrets,
        "refresh": {
            "generation": status.generation,
            "last_success": status.last_success.map(|t| t.to_string()),
            "last_error": status.last_error,
            "failing_since": status.failing_since.map(|t| t.to_string()),
            "consecutive_failures": status.consecutive_failures,
            "next_attempt_in_ms": next_in_ms,
            "events": {
                "accepted": pushes.accepted,
                "rejected": pushes.rejected,
                "malformed": pushes.malformed,
                "unavailable": pushes.unavailable,
            },
        },
    })
}
