//! Key Vault's error body, `{"error":{"code","message","innererror":{"code",…}}}`.

use serde::Deserialize;

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
    pub(crate) fn parse(body: &[u8]) -> ServiceError {
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
        ServiceError {
            code: error.code,
            inner_code,
            message: error.message.map(|m| truncate(m.trim(), MAX_MESSAGE)),
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
        );
        assert_eq!(disabled.code.as_deref(), Some("Forbidden"));
        assert_eq!(disabled.inner_code.as_deref(), Some("SecretDisabled"));
        assert_eq!(
            disabled.message.as_deref(),
            Some("Operation get is not allowed on a disabled secret.")
        );
        let not_found = ServiceError::parse(
            br#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) x was not found in this key vault."}}"#,
        );
        assert_eq!(not_found.code.as_deref(), Some("SecretNotFound"));
        assert_eq!(not_found.inner_code, None);
        let nested = ServiceError::parse(
            br#"{"error":{"code":"Forbidden","innererror":{"code":"A","innererror":{"code":"ForbiddenByRbac"}}}}"#,
        );
        assert_eq!(nested.inner_code.as_deref(), Some("ForbiddenByRbac"));
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
            assert_eq!(ServiceError::parse(body).code, None);
        }
    }
}
