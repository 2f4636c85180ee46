//! The Key Vault reference grammar: finding references in setting values, normalising them, and
//! deciding which vault hosts a reference may point at.
//!
//! A setting value is a reference when its whole (trimmed) value has one of these forms:
//!
//! ```text
//! @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)
//! @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/)
//! @Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword/ec96f02080254f109c51a1f14cdb1931)
//! @Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword)
//! @Microsoft.KeyVault(VaultName=myvault;SecretName=DbPassword;SecretVersion=ec96f02080254f109c51a1f14cdb1931)
//! @KeyVault(...)                                      the short form, same meaning
//! ```
//!
//! Parameter names are case-insensitive, spaces around `=` and `;` are ignored, a trailing `;` is
//! allowed, duplicate and unknown parameters are errors. A value that does not start like a
//! reference is not one ([`Reference::parse`] returns `Ok(None)`); a value that starts like one but
//! is malformed is a [`SyntaxError`] that says where and what was expected.
//!
//! Parsing only checks the shape. Whether a vault host may be contacted at all is the job of
//! [`crate::allow_list::AllowedHosts`], which the resolver consults before opening
//! any connection.

use std::fmt;

/// Kept here too, where the grammar's users have always found it.
#[doc(no_inline)]
pub use crate::allow_list::{AllowedHosts, InvalidSuffix};

/// A cheap pre-filter: whether `value` could be a reference at all (its trimmed text starts with
/// `@`). Integrations walking thousands of settings parse only the values that pass it.
///
/// ```
/// use kvref::reference::may_be_reference;
/// assert!(may_be_reference("  @KeyVault(VaultName=v;SecretName=s)"));
/// assert!(!may_be_reference("8080"));
/// ```
pub fn may_be_reference(value: &str) -> bool {
    value.trim_start().starts_with('@')
}

/// The DNS suffix of Key Vault in the Azure public cloud, used for `VaultName=` unless configured.
pub const PUBLIC_CLOUD_SUFFIX: &str = ".vault.azure.net";
/// The DNS suffix of Key Vault in Azure China (21Vianet).
pub const CHINA_CLOUD_SUFFIX: &str = ".vault.azure.cn";
/// The DNS suffix of Key Vault in Azure US Government.
pub const US_GOVERNMENT_CLOUD_SUFFIX: &str = ".vault.usgovcloudapi.net";

const MAX_SECRET_NAME: usize = 127;
const VERSION_LEN: usize = 32;
const LONG_PREFIX: &str = "Microsoft.KeyVault";
const SHORT_PREFIX: &str = "KeyVault";

/// A parsed Key Vault reference: which vault, which secret, and optionally which version.
///
/// Two references to the same secret compare equal whatever form they were written in
/// (`SecretUri` or `VaultName`, with or without a trailing slash, any case of the host).
/// [`Display`](fmt::Display) gives the canonical form.
///
/// ```
/// use kvref::reference::Reference;
///
/// let a = Reference::parse("@Microsoft.KeyVault(SecretUri=https://MyVault.vault.azure.net/secrets/DbPassword/)")
///     .unwrap()
///     .unwrap();
/// let b = Reference::parse("@KeyVault( vaultname = myvault ; SECRETNAME = DbPassword )")
///     .unwrap()
///     .unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.vault_host(), "myvault.vault.azure.net");
/// assert_eq!(a.secret_name(), "DbPassword");
/// assert_eq!(a.version(), None);
/// assert_eq!(
///     a.to_string(),
///     "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/DbPassword)"
/// );
///
/// // Not a reference at all: not an error.
/// assert_eq!(Reference::parse("plain value").unwrap(), None);
/// // Starts like a reference but is malformed: an error saying where and what was expected.
/// let err = Reference::parse("@KeyVault(VaultName=myvault)").unwrap_err();
/// assert_eq!(err.message(), "missing `SecretName`: `VaultName=` needs `SecretName=` too");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Lower-cased, without port or trailing dot.
    vault_host: String,
    /// Length of the first label of `vault_host` (the vault name).
    vault_name_len: usize,
    /// As written (Key Vault compares names case-insensitively; the URL keeps the writer's case).
    secret_name: String,
    /// Lower-cased 32 hex digits.
    version: Option<String>,
}

/// The identity of a secret for deduplication: host, lower-cased name, version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SecretKey {
    pub(crate) vault_host: String,
    pub(crate) secret_name: String,
    pub(crate) version: Option<String>,
}

impl Reference {
    /// Parses a setting value. `Ok(None)` when the value is not a reference; an error when it
    /// starts like one (`@Microsoft.KeyVault` or `@KeyVault`) but is malformed. `VaultName=` uses
    /// the public cloud suffix ([`PUBLIC_CLOUD_SUFFIX`]).
    ///
    /// ```
    /// use kvref::reference::Reference;
    /// let r = Reference::parse(
    ///     "@Microsoft.KeyVault(VaultName=myvault;SecretName=Db;SecretVersion=ec96f02080254f109c51a1f14cdb1931)",
    /// )
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(r.version(), Some("ec96f02080254f109c51a1f14cdb1931"));
    /// ```
    pub fn parse(value: &str) -> Result<Option<Reference>, SyntaxError> {
        Self::parse_with_default_suffix(value, PUBLIC_CLOUD_SUFFIX)
    }

    /// Like [`Reference::parse`], but `VaultName=` references get `default_suffix` (such as
    /// `.vault.azure.cn`; the leading dot is optional).
    ///
    /// ```
    /// use kvref::reference::Reference;
    /// let r = Reference::parse_with_default_suffix("@KeyVault(VaultName=myvault;SecretName=Db)", "vault.azure.cn")
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(r.vault_host(), "myvault.vault.azure.cn");
    /// ```
    pub fn parse_with_default_suffix(
        value: &str,
        default_suffix: &str,
    ) -> Result<Option<Reference>, SyntaxError> {
        Parser::new(value).parse(default_suffix)
    }

    /// The vault's host, lower-cased: `myvault.vault.azure.net`.
    pub fn vault_host(&self) -> &str {
        &self.vault_host
    }

    /// The vault's name, the first label of the host: `myvault`.
    pub fn vault_name(&self) -> &str {
        &self.vault_host[..self.vault_name_len]
    }

    /// The secret's name as written.
    pub fn secret_name(&self) -> &str {
        &self.secret_name
    }

    /// The pinned version, if any (lower-case hex).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The vault's base URL: `https://myvault.vault.azure.net`.
    pub fn vault_url(&self) -> String {
        format!("https://{}", self.vault_host)
    }

    /// The secret's URL without query: `https://myvault.vault.azure.net/secrets/Db[/version]`.
    pub fn secret_url(&self) -> String {
        match &self.version {
            Some(v) => format!(
                "https://{}/secrets/{}/{}",
                self.vault_host, self.secret_name, v
            ),
            None => format!("https://{}/secrets/{}", self.vault_host, self.secret_name),
        }
    }

    pub(crate) fn key(&self) -> SecretKey {
        SecretKey {
            vault_host: self.vault_host.clone(),
            secret_name: self.secret_name.to_ascii_lowercase(),
            version: self.version.clone(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@Microsoft.KeyVault(SecretUri={})", self.secret_url())
    }
}

/// A value that starts like a Key Vault reference but is malformed: where, and what was expected.
///
/// The message never repeats text from the value beyond single offending characters and
/// parameter names, so it is safe to log even when someone pasted a secret into a setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Key Vault reference at column {column}: {message}")]
pub struct SyntaxError {
    column: usize,
    message: String,
}

impl SyntaxError {
    /// The 1-based column (in characters of the untrimmed value) where the problem is.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong and what was expected, without the column.
    pub fn message(&self) -> &str {
        &self.message
    }
}

struct Parser<'a> {
    value: &'a str,
}

/// Which parameter a `name=value` pair sets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Param {
    SecretUri,
    VaultName,
    SecretName,
    SecretVersion,
}

impl Param {
    fn from_name(name: &str) -> Option<Param> {
        [
            Param::SecretUri,
            Param::VaultName,
            Param::SecretName,
            Param::SecretVersion,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    fn name(self) -> &'static str {
        match self {
            Param::SecretUri => "SecretUri",
            Param::VaultName => "VaultName",
            Param::SecretName => "SecretName",
            Param::SecretVersion => "SecretVersion",
        }
    }
}

/// A parameter value and the byte offset where it starts in the original value.
#[derive(Clone, Copy)]
struct Span<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(value: &'a str) -> Self {
        Self { value }
    }

    fn error(&self, at: usize, message: impl Into<String>) -> SyntaxError {
        let at = at.min(self.value.len());
        // Offsets always fall on char boundaries (we only stop at ASCII bytes), but be safe.
        let column = self
            .value
            .get(..at)
            .map_or(at, |prefix| prefix.chars().count())
            + 1;
        SyntaxError {
            column,
            message: message.into(),
        }
    }

    fn parse(&self, default_suffix: &str) -> Result<Option<Reference>, SyntaxError> {
        let start = self.value.len() - self.value.trim_start().len();
        let end = self.value.trim_end().len();
        if start >= end || self.value.as_bytes()[start] != b'@' {
            return Ok(None);
        }
        let after_at = start + 1;
        let Some(prefix_len) = [LONG_PREFIX, SHORT_PREFIX]
            .into_iter()
            .find(|p| starts_with_ignore_case(&self.value[after_at..end], p))
            .map(str::len)
        else {
            return Ok(None);
        };
        let open = after_at + prefix_len;
        match self.value[open..end].chars().next() {
            Some('(') => {}
            // `@KeyVaultFoo` or `@Microsoft.KeyVault.x` is some other word, not a reference.
            Some(c) if c.is_alphanumeric() || c == '_' || c == '.' => return Ok(None),
            Some(c) => {
                return Err(self.error(
                    open,
                    format!(
                        "expected `(` after `@{}`, found {}",
                        &self.value[after_at..open],
                        describe(c)
                    ),
                ));
            }
            None => {
                return Err(self.error(
                    open,
                    format!("expected `(` after `@{}`", &self.value[after_at..open]),
                ));
            }
        }
        let inner_start = open + 1;
        let Some(close) = self.value[inner_start..end]
            .find(')')
            .map(|i| inner_start + i)
        else {
            return Err(self.error(end, "expected `)` to close the reference"));
        };
        if close + 1 != end {
            return Err(self.error(
                close + 1,
                "unexpected text after `)`: a reference must be the whole value",
            ));
        }
        let params = self.parameters(inner_start, close)?;
        self.build(params, close, default_suffix).map(Some)
    }

    /// Splits `value[from..to]` into `name=value` pairs.
    fn parameters(
        &self,
        from: usize,
        to: usize,
    ) -> Result<Vec<(Param, Span<'a>, Span<'a>)>, SyntaxError> {
        let inner = &self.value[from..to];
        if inner.trim().is_empty() {
            return Err(self.error(
                from,
                "expected `SecretUri=…` or `VaultName=…;SecretName=…` inside the parentheses",
            ));
        }
        let mut params: Vec<(Param, Span<'a>, Span<'a>)> = Vec::new();
        let mut seg_start = from;
        let segments: Vec<&str> = inner.split(';').collect();
        let count = segments.len();
        for (index, segment) in segments.into_iter().enumerate() {
            let seg_at = seg_start;
            seg_start += segment.len() + 1;
            if segment.trim().is_empty() {
                if index + 1 == count && index > 0 {
                    continue; // a trailing `;`
                }
                return Err(self.error(
                    seg_at + leading_ws(segment),
                    "expected a parameter such as `SecretName=…` between `;` separators",
                ));
            }
            let Some(eq) = segment.find('=') else {
                let name = trimmed(segment, seg_at);
                return Err(self.error(
                    name.at + name.text.len(),
                    format!(
                        "expected `=` after parameter name {}",
                        quote_name(name.text)
                    ),
                ));
            };
            let name = trimmed(&segment[..eq], seg_at);
            if name.text.is_empty() {
                return Err(self.error(seg_at + eq, "expected a parameter name before `=`"));
            }
            let Some(param) = Param::from_name(name.text) else {
                return Err(self.error(
                    name.at,
                    format!(
                        "unknown parameter {}; expected `SecretUri`, `VaultName`, `SecretName` or `SecretVersion`",
                        quote_name(name.text)
                    ),
                ));
            };
            if params.iter().any(|(p, _, _)| *p == param) {
                return Err(self.error(name.at, format!("duplicate parameter `{}`", param.name())));
            }
            let value = trimmed(&segment[eq + 1..], seg_at + eq + 1);
            if value.text.is_empty() {
                return Err(self.error(
                    seg_at + eq + 1,
                    format!("expected a value after `{}=`", param.name()),
                ));
            }
            params.push((param, name, value));
        }
        Ok(params)
    }

    fn build(
        &self,
        params: Vec<(Param, Span<'a>, Span<'a>)>,
        close: usize,
        default_suffix: &str,
    ) -> Result<Reference, SyntaxError> {
        let get = |p: Param| {
            params
                .iter()
                .find(|(q, _, _)| *q == p)
                .map(|(_, n, v)| (*n, *v))
        };
        if let Some((_, uri)) = get(Param::SecretUri) {
            if let Some((other, name, _)) = params.iter().find(|(p, _, _)| *p != Param::SecretUri) {
                return Err(self.error(
                    name.at,
                    format!("`{}` cannot be combined with `SecretUri`", other.name()),
                ));
            }
            return self.secret_uri(uri);
        }
        let Some((_, vault)) = get(Param::VaultName) else {
            return Err(self.error(
                close,
                "missing `VaultName`: `SecretName=` needs `VaultName=` too (or use `SecretUri=`)",
            ));
        };
        let Some((_, name)) = get(Param::SecretName) else {
            return Err(self.error(
                close,
                "missing `SecretName`: `VaultName=` needs `SecretName=` too",
            ));
        };
        if let Some(i) = vault.text.find(['.', '/', ':']) {
            return Err(self.error(
                vault.at + i,
                "`VaultName` takes the vault's name (such as `myvault`), not a host or URL; use `SecretUri=` for a full URL",
            ));
        }
        self.vault_name(vault)?;
        self.secret_name(name)?;
        let version = match get(Param::SecretVersion) {
            Some((_, v)) => Some(self.version(v)?),
            None => None,
        };
        let suffix = default_suffix.trim_start_matches('.').to_ascii_lowercase();
        let vault_name = vault.text.to_ascii_lowercase();
        Ok(Reference {
            vault_name_len: vault_name.len(),
            vault_host: format!("{vault_name}.{suffix}"),
            secret_name: name.text.to_owned(),
            version,
        })
    }

    fn secret_uri(&self, uri: Span<'a>) -> Result<Reference, SyntaxError> {
        let text = uri.text;
        let scheme_len = if starts_with_ignore_case(text, "https://") {
            "https://".len()
        } else if starts_with_ignore_case(text, "http://") {
            return Err(self.error(
                uri.at,
                "Key Vault is reached only over https: expected `https://`, found `http://`",
            ));
        } else {
            return Err(self.error(uri.at, "expected a URL starting with `https://`"));
        };
        let host_at = scheme_len;
        let host_end = text[host_at..]
            .find(['/', '?', '#'])
            .map_or(text.len(), |i| host_at + i);
        let host = &text[host_at..host_end];
        let offset = |i: usize| uri.at + i;
        if host.is_empty() {
            return Err(self.error(offset(host_at), "expected the vault host after `https://`"));
        }
        if host.starts_with('[')
            || host
                .split(':')
                .next()
                .is_some_and(|h| h.parse::<std::net::Ipv4Addr>().is_ok())
        {
            return Err(self.error(
                offset(host_at),
                "an IP address is not allowed as a vault host: expected `{vault}.vault.azure.net` or another vault host",
            ));
        }
        if host.contains('@') {
            // Never echo the user-info part: it may hold a password.
            return Err(self.error(
                offset(host_at),
                "a user name or password (`…@`) is not allowed in a vault URL",
            ));
        }
        if let Some(i) = host.find(':') {
            return Err(self.error(
                offset(host_at + i),
                "a port is not allowed in a vault URL: expected `/secrets/` after the host",
            ));
        }
        if let Some((i, c)) = host
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(self.error(
                offset(host_at + i),
                format!(
                    "expected a host name (letters, digits, `-` and `.`), found {}",
                    describe(c)
                ),
            ));
        }
        if host.ends_with('.') {
            return Err(self.error(
                offset(host_end - 1),
                "a trailing dot is not allowed in the vault host",
            ));
        }
        let mut label_at = host_at;
        for label in host.split('.') {
            if label.is_empty() {
                return Err(self.error(offset(label_at), "expected a host name label, found `.`"));
            }
            label_at += label.len() + 1;
        }
        let vault_label = host.split('.').next().unwrap_or(host);
        self.vault_name(Span {
            text: vault_label,
            at: offset(host_at),
        })?;

        // Path: /secrets/{name}[/[{version}[/]]]
        let path = &text[host_end..];
        let path_at = host_end;
        if let Some(i) = path.find(['?', '#']) {
            return Err(self.error(
                offset(path_at + i),
                "a query or fragment is not allowed in a vault URL",
            ));
        }
        let Some(after_slash) = path.strip_prefix('/') else {
            return Err(self.error(
                offset(path_at),
                "expected `/secrets/{name}` after the vault host",
            ));
        };
        let collection_end = after_slash.find('/').unwrap_or(after_slash.len());
        let collection = &after_slash[..collection_end];
        if !collection.eq_ignore_ascii_case("secrets") {
            return Err(self.error(
                offset(path_at + 1),
                "expected `/secrets/` after the vault host (only secrets can be referenced)",
            ));
        }
        let name_at = path_at + 1 + collection_end + 1;
        if collection_end == after_slash.len() {
            return Err(self.error(
                offset(name_at - 1),
                "expected `/` and a secret name after `/secrets`",
            ));
        }
        let rest = &text[name_at..];
        let name_end = rest.find('/').unwrap_or(rest.len());
        let name = Span {
            text: &rest[..name_end],
            at: offset(name_at),
        };
        if name.text.is_empty() {
            return Err(self.error(name.at, "expected a secret name after `/secrets/`"));
        }
        self.secret_name(name)?;
        let mut version = None;
        if name_end < rest.len() {
            // There is a `/` after the name: a trailing slash, or a version.
            let version_at = name_at + name_end + 1;
            let after = &text[version_at..];
            let version_end = after.find('/').unwrap_or(after.len());
            let text_v = &after[..version_end];
            if !text_v.is_empty() {
                version = Some(self.version(Span {
                    text: text_v,
                    at: offset(version_at),
                })?);
            } else if version_end < after.len() {
                return Err(self.error(
                    offset(version_at),
                    "expected a version or the end of the URL after the secret name, found `/`",
                ));
            }
            let tail = &after[version_end..];
            if !(tail.is_empty() || tail == "/") {
                return Err(self.error(
                    offset(version_at + version_end + 1),
                    "unexpected path segment after the version: expected the end of the URL",
                ));
            }
        }
        let vault_host = host.to_ascii_lowercase();
        Ok(Reference {
            vault_name_len: vault_label.len(),
            vault_host,
            secret_name: name.text.to_owned(),
            version,
        })
    }

    fn vault_name(&self, name: Span<'_>) -> Result<(), SyntaxError> {
        check_vault_name(name.text).map_err(|(i, message)| self.error(name.at + i, message))
    }

    fn secret_name(&self, name: Span<'_>) -> Result<(), SyntaxError> {
        if let Some((i, c)) = name
            .text
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(self.error(
                name.at + i,
                format!(
                    "secret names may contain only letters, digits and `-`, found {}",
                    describe(c)
                ),
            ));
        }
        if name.text.len() > MAX_SECRET_NAME {
            return Err(self.error(
                name.at + MAX_SECRET_NAME,
                format!(
                    "secret names are at most {MAX_SECRET_NAME} characters long, this one has {}",
                    name.text.len()
                ),
            ));
        }
        Ok(())
    }

    fn version(&self, version: Span<'_>) -> Result<String, SyntaxError> {
        if let Some((i, c)) = version
            .text
            .char_indices()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(self.error(
                version.at + i,
                format!(
                    "expected a 32-digit hexadecimal secret version, found {}",
                    describe(c)
                ),
            ));
        }
        if version.text.len() != VERSION_LEN {
            return Err(self.error(
                version.at,
                format!(
                    "expected a 32-digit hexadecimal secret version, found {} digits",
                    version.text.len()
                ),
            ));
        }
        Ok(version.text.to_ascii_lowercase())
    }
}

/// Checks Key Vault's vault-name rules; on failure, the byte offset and the message.
pub(crate) fn check_vault_name(name: &str) -> Result<(), (usize, String)> {
    if let Some((i, c)) = name
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err((
            i,
            format!(
                "vault names may contain only letters, digits and `-`, found {}",
                describe(c)
            ),
        ));
    }
    if !(3..=24).contains(&name.len()) {
        return Err((
            0,
            format!(
                "vault names are 3 to 24 characters long, this one has {}",
                name.len()
            ),
        ));
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return Err((0, "vault names must start with a letter".into()));
    }
    if let Some(i) = name.find("--") {
        return Err((i, "vault names may not contain consecutive hyphens".into()));
    }
    if name.ends_with('-') {
        return Err((
            name.len() - 1,
            "vault names may not end with a hyphen".into(),
        ));
    }
    Ok(())
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn leading_ws(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

fn trimmed(text: &str, at: usize) -> Span<'_> {
    let lead = leading_ws(text);
    Span {
        text: text.trim(),
        at: at + lead,
    }
}

/// Names a character for a message without echoing more than that one character.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("`{c}`"),
    }
}

/// Quotes a parameter name for a message, shortening it: it may be pasted secret text.
fn quote_name(name: &str) -> String {
    const MAX: usize = 24;
    if name.chars().count() > MAX || name.chars().any(char::is_control) {
        "(a long or unprintable name)".into()
    } else {
        format!("`{name}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Reference {
        Reference::parse(value).unwrap().unwrap()
    }

    #[test]
    fn forms_normalise_to_one_reference() {
        let a = parse("@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db)");
        for other in [
            "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/)",
            "  @KeyVault(SecretUri=https://MYVAULT.Vault.Azure.Net/Secrets/Db)  ",
            "@Microsoft.KeyVault(VaultName=myvault;SecretName=Db)",
            "@microsoft.keyvault( vaultname = MyVault ; secretname = Db ; )",
        ] {
            assert_eq!(parse(other), a, "{other}");
        }
    }

    #[test]
    fn versions_are_kept_and_lower_cased() {
        let r = parse(
            "@KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/EC96F02080254F109C51A1F14CDB1931/)",
        );
        assert_eq!(r.version(), Some("ec96f02080254f109c51a1f14cdb1931"));
        assert_eq!(
            r.to_string(),
            "@Microsoft.KeyVault(SecretUri=https://myvault.vault.azure.net/secrets/Db/ec96f02080254f109c51a1f14cdb1931)"
        );
    }

    #[test]
    fn not_references() {
        for value in [
            "",
            "   ",
            "plain",
            "@",
            "@other(x)",
            "x @KeyVault(VaultName=a)",
            "@KeyVaultish",
            "@Microsoft.KeyVault.Foo",
        ] {
            assert_eq!(Reference::parse(value).unwrap(), None, "{value:?}");
        }
    }
}
