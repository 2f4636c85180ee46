//! Service text made safe to show: what a vault or an identity endpoint says in an error body
//! ends up in error messages, logs and terminals, so it is cleaned before it is stored.
//!
//! - Control characters (C0, DEL, C1, so also the ANSI `ESC`) and the bidirectional overrides
//!   that can reorder a line are written as `\u{1b}`: a message can neither clear a terminal nor
//!   fake a line of the report.
//! - What kvref itself sent (the bearer token, an identity header, a client secret or
//!   assertion) is replaced by `<redacted>` wherever the service echoed it, and so is anything
//!   shaped like a JWT (`eyJ…`), in case a service quotes a token kvref never saw.

use std::fmt::Write as _;

/// The shortest sent string that is scrubbed: shorter ones cannot be told apart from ordinary
/// words of a message (and are not credible secrets; identity headers are GUIDs, tokens JWTs).
const MIN_SCRUBBED: usize = 6;

/// The shortest run of token characters after `eyJ` taken for a JWT.
const MIN_JWT: usize = 20;

/// `text` with every control or bidirectional-override character escaped as `\u{…}`.
///
/// ```
/// use kvref::transport::sanitize::printable;
/// assert_eq!(printable("a\x1b[2Jb\u{202e}"), "a\\u{1b}[2Jb\\u{202e}");
/// assert_eq!(printable("plain text"), "plain text");
/// ```
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` made printable (see [`printable`]) with every string of `sent` and every JWT-shaped
/// word replaced by `<redacted>`.
///
/// ```
/// use kvref::transport::sanitize::service_text;
/// let shown = service_text("bad header S3CRET-VALUE\x07", &["S3CRET-VALUE"]);
/// assert_eq!(shown, "bad header <redacted>\\u{7}");
/// ```
pub fn service_text(text: &str, sent: &[&str]) -> String {
    let mut scrubbed = text.to_owned();
    for secret in sent {
        let secret = secret.trim();
        if secret.len() >= MIN_SCRUBBED && scrubbed.contains(secret) {
            scrubbed = scrubbed.replace(secret, "<redacted>");
        }
    }
    printable(&scrub_jwts(&scrubbed))
}

/// Replaces every `eyJ…` word of at least [`MIN_JWT`] token characters (base64url and `.`).
fn scrub_jwts(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let end = from.find(|c| !is_token_char(c)).unwrap_or(from.len());
        if end >= MIN_JWT {
            out.push_str("<redacted>");
        } else {
            out.push_str(&from[..end.max(3)]);
        }
        rest = &from[end.max(3)..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_overrides_are_escaped() {
        assert_eq!(
            printable("\x1b[31mFAKE\x1b[0m\r\n\u{9b}x\u{7f}\u{2066}"),
            "\\u{1b}[31mFAKE\\u{1b}[0m\\u{d}\\u{a}\\u{9b}x\\u{7f}\\u{2066}"
        );
        assert_eq!(printable("café – ok"), "café – ok");
    }

    #[test]
    fn sent_strings_and_jwts_are_redacted() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0.c2ln";
        let text = format!("Invalid audience in token Bearer {jwt}; header HDR-123456 was wrong");
        let shown = service_text(&text, &["HDR-123456"]);
        assert_eq!(
            shown,
            "Invalid audience in token Bearer <redacted>; header <redacted> was wrong"
        );
        // Short sent strings and short eyJ words are left alone.
        assert_eq!(service_text("keyJ eyJx ab", &["ab"]), "keyJ eyJx ab");
        assert_eq!(service_text("eyJ", &[]), "eyJ");
    }
}
