//! Replacing secret values in text: how errors that quote a value (serde's `invalid type: string
//! "…"`, config's and figment's type errors) are made safe to show, whatever their shape.

use std::borrow::Cow;
use std::fmt;

/// A set of secret values, each with the label that replaces it (`<redacted: vault/secret@version>`).
/// Each value is matched as written and as Rust's `{:?}` escapes it, longest first, so that a
/// secret containing another is replaced whole. Its `Debug` shows only how many values it holds.
///
/// ```
/// use kvref::redact::Redactions;
///
/// let redactions = Redactions::new([("myvault/DbPassword@0123", "pa\"ss")]);
/// let message = format!("invalid type: string {:?}, expected u16", "pa\"ss");
/// assert_eq!(
///     redactions.apply(&message),
///     "invalid type: string \"<redacted: myvault/DbPassword@0123>\", expected u16"
/// );
/// assert_eq!(redactions.apply("nothing secret"), "nothing secret");
/// ```
#[derive(Clone, Default)]
pub struct Redactions {
    /// `(form, label)`, longest form first.
    forms: Vec<(String, String)>,
}

impl Redactions {
    /// The redactions of `(provenance, secret value)` pairs; empty values are left out.
    pub fn new<P: fmt::Display>(pairs: impl IntoIterator<Item = (P, impl AsRef<str>)>) -> Self {
        let mut forms = Vec::new();
        for (provenance, secret) in pairs {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            let label = format!("<redacted: {provenance}>");
            // A `str`'s Debug form always starts and ends with an ASCII quote.
            let escaped = format!("{secret:?}");
            let escaped = &escaped[1..escaped.len() - 1];
            if escaped != secret {
                forms.push((escaped.to_owned(), label.clone()));
            }
            forms.push((secret.to_owned(), label));
        }
        forms.sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
        Redactions { forms }
    }

    /// `text` with every secret value replaced by its label.
    pub fn apply<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for (form, label) in &self.forms {
            if text.contains(form.as_str()) {
                text = Cow::Owned(text.replace(form.as_str(), label));
            }
        }
        text
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }
}

impl fmt::Debug for Redactions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactions")
            .field("forms", &self.forms.len())
            .finish()
    }
}
