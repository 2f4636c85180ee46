//! Key Vault's error body, `{"error":{"code","message","innererror":{"code",…}}}`.

use serde::Deserialize;

use crate::transport::sanitize::service_text;

/// The longest service message we keep; real ones are a few hundred characters.
const MAX_MESSAGE: usize = 4096;

#[derive(Deserialize)]
struct Envelope {
    error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    code: Option<String>,
    message: Option<String>,
    innererror: Option<Box<ErrorObject>>,
}

/// What Key Vault said went wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServiceError {
    pub(crate) code: Option<String>,
    /// The innermost `innererror.code`, the most specific reason (`SecretDisabled`,
    /// `ForbiddenByRbac`, …).
    pub(crate) inner_code: Option<String>,
    pub(crate) message: Option<String>,
}

impl ServiceError {
    /// Parses an error body; anything unparseable gives an empty error (the status still tells).
    /// Every text is made safe to show, with the token kvref sent (`token`) scrubbed out.
    pub(crate) fn parse(body: &[u8], token: Option<&str>) -> ServiceError {
        let Ok(Envelope { error: Some(error) }) = serde_json::from_slice::<Envelope>(body) else {
            return ServiceError::default();
        };
        let mut inner_code = None;
        let mut inner = error.innererror.as_deref();
        let mut depth = 0;
        while let Some(e) = inner {
            if e.code.is_some() {
                inner_code.clone_from(&e.code);
            }
            inner = e.innererror.as_deref();
            depth += 1;
            if depth > 16 {
                break;
            }
        }
        let sent: Vec<&str> = token.into_iter().collect();
        let safe = |text: String| service_text(&text, &sent);
        ServiceError {
            code: error.code.map(safe),
            inner_code: inner_code.map(safe),
            message: error
                .message
                .map(|m| truncate(&service_text(m.trim(), &sent), MAX_MESSAGE)),
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_recorded_bodies() {
        let disabled = ServiceError::parse(
            br#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#,
            None,
        );
        assert_eq!(disabled.code.as_deref(), Some("Forbidden"));
        assert_eq!(disabled.inner_code.as_deref(), Some("SecretDisabled"));
        assert_eq!(
            disabled.message.as_deref(),
            Some("Operation get is not allowed on a disabled secret.")
        );
        let not_found = ServiceError::parse(
            br#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) x was not found in this key vault."}}"#,
            None,
        );
        assert_eq!(not_found.code.as_deref(), Some("SecretNotFound"));
        assert_eq!(not_found.inner_code, None);
        let nested = ServiceError::parse(
            br#"{"error":{"code":"Forbidden","innererror":{"code":"A","innererror":{"code":"ForbiddenByRbac"}}}}"#,
            None,
        );
        assert_eq!(nested.inner_code.as_deref(), Some("ForbiddenByRbac"));
    }

    #[test]
    fn service_text_is_made_safe_and_the_token_scrubbed() {
        let error = ServiceError::parse(
            b"{\"error\":{\"code\":\"Bad\\u001b[2J\",\"message\":\"token SENT-TOKEN-123 \\u001b[31mFAKE\"}}",
            Some("SENT-TOKEN-123"),
        );
        assert_eq!(error.code.as_deref(), Some("Bad\\u{1b}[2J"));
        assert_eq!(
            error.message.as_deref(),
            Some("token <redacted> \\u{1b}[31mFAKE")
        );
    }

    #[test]
    fn tolerates_anything_else() {
        for body in [
            &b""[..],
            b"not json",
            b"{}",
            b"{\"error\":null}",
            b"[1,2]",
            b"{\"error\":{\"code\":5}}",
        ] {
            assert_eq!(ServiceError::parse(body, None).code, None);
        }
    }
}
