//! Azure Arc-enabled servers (the HIMDS agent).
//!
//! Two requests: the first `GET {IDENTITY_ENDPOINT}?api-version=2020-06-01&resource=…` with
//! `Metadata: true` is answered 401 with `WWW-Authenticate: Basic realm=<path of a .key file>`;
//! the agent wrote a one-time key there that only local administrators (and the
//! `himds` group) can read. The second request carries `Authorization: Basic <file contents>`.
//! Because the path comes from a network answer, it is checked before anything is read: it must
//! be a `.key` file directly in the agent's tokens folder (`/var/opt/azcmagent/tokens` on Linux,
//! `%ProgramData%\AzureConnectedMachineAgent\Tokens` on Windows; `KVREF_ARC_TOKENS_DIR` in the
//! environment overrides it), no larger than 4096 bytes.

use std::path::{Component, Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{HeaderValue, WWW_AUTHENTICATE};

use super::protocol::{Call, fetch};
use super::{
    ARC_DEFAULT_ENDPOINT, ManagedIdentitySource, endpoint_url, error, gave_up, status_text,
    unreachable, with_query,
};
use crate::Env;
use crate::credential::retry::{Reply, RetryOptions, imds_transient, send_with_retry};
use crate::credential::{AccessToken, CredentialError, CredentialErrorKind, TokenRequest};
use crate::transport::HttpTransport;

const API_VERSION: &str = "2020-06-01";
const SOURCE: ManagedIdentitySource = ManagedIdentitySource::AzureArc;
/// The largest key file the agent writes (and the most kvref reads).
const MAX_KEY_FILE_BYTES: u64 = 4096;
/// Overrides the tokens folder (for tests and unusual installs).
pub(crate) const TOKENS_DIR_VARIABLE: &str = "KVREF_ARC_TOKENS_DIR";

#[derive(Debug)]
pub(super) struct Arc {
    url: url::Url,
    tokens_dir: PathBuf,
    transport: HttpTransport,
    retry: RetryOptions,
}

impl Arc {
    pub(super) fn new(
        env: &Env,
        transport: HttpTransport,
        retry: RetryOptions,
    ) -> Result<Self, CredentialError> {
        let url = if env.contains("IDENTITY_ENDPOINT") {
            endpoint_url(env, "IDENTITY_ENDPOINT")?
        } else {
            url::Url::parse(ARC_DEFAULT_ENDPOINT)
                .map_err(|e| error(CredentialErrorKind::InvalidConfiguration, e.to_string()))?
        };
        Ok(Self {
            url,
            tokens_dir: tokens_dir(env),
            transport,
            retry,
        })
    }

    pub(super) async fn get_token(
        &self,
        request: &TokenRequest,
    ) -> Result<AccessToken, CredentialError> {
        let resource = super::resource_of(request)?;
        let url = with_query(
            &self.url,
            [("api-version", API_VERSION), ("resource", resource)],
        );
        let client = self.transport.identity_client();
        let call = Call::get(url).header("Metadata", HeaderValue::from_static("true"));

        let challenge =
            send_with_retry(&self.retry, imds_transient, SOURCE.refused_means(), || {
                call.build(client)
            })
            .await
            .map_err(|failure| unreachable(SOURCE, &self.url, failure))?;
        if challenge.status != StatusCode::UNAUTHORIZED {
            return Err(self.unexpected(&challenge, "a 401 challenge naming a key file"));
        }
        let realm = challenge
            .headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once('='))
            .map(|(_, path)| path.trim().trim_matches('"'))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                error(
                    CredentialErrorKind::InvalidResponse,
                    "the Azure Arc agent's 401 has no WWW-Authenticate: Basic realm=<key file>",
                )
                .with_fix("update the Azure Connected Machine agent (azcmagent)")
            })?;
        let key_path = check_key_path(Path::new(realm), &self.tokens_dir)?;
        let key = read_key(&key_path, &self.tokens_dir).await?;
        let authorization = super::sensitive_header(&format!("Basic {key}")).ok_or_else(|| {
            error(
                CredentialErrorKind::InvalidResponse,
                format!(
                    "the Azure Arc key file {} holds characters an HTTP header cannot carry",
                    key_path.display()
                ),
            )
            .with_fix("restart the Azure Connected Machine agent (azcmagent) to issue a new key")
        })?;

        let call = call.header("Authorization", authorization);
        fetch(
            SOURCE,
            &self.retry,
            imds_transient,
            || call.build(client),
            |failure| unreachable(SOURCE, &self.url, failure),
        )
        .await?
        .map_err(|reply| self.unexpected(&reply, "a token"))
    }

    fn unexpected(&self, reply: &Reply, wanted: &str) -> CredentialError {
        if reply.status.is_success() {
            return error(
                CredentialErrorKind::InvalidResponse,
                format!(
                    "the Azure Arc agent answered {} where {wanted} was expected",
                    status_text(reply)
                ),
            );
        }
        if imds_transient(reply.status) {
            return gave_up(SOURCE, reply);
        }
        let text = status_text(reply);
        if reply.status == StatusCode::BAD_REQUEST
            && text.to_ascii_lowercase().contains("identity not found")
        {
            return error(
                CredentialErrorKind::IdentityNotFound,
                format!("the Azure Arc server has no system-assigned identity ({text})"),
            )
            .with_fix(concat!(
                "connect the server to Azure Arc again (`azcmagent connect`), ",
                "which creates its identity"
            ));
        }
        error(
            CredentialErrorKind::Refused,
            format!("the Azure Arc agent refused the token request ({text})"),
        )
        .with_fix(concat!(
            "run kvref as a user in the `himds` group (Linux) or as an administrator (Windows), ",
            "so it may read the agent's key file"
        ))
    }
}

/// The folder the agent writes key files to.
fn tokens_dir(env: &Env) -> PathBuf {
    if let Some(dir) = env.get(TOKENS_DIR_VARIABLE) {
        return PathBuf::from(dir);
    }
    if cfg!(windows) {
        let program_data = env.get("ProgramData").unwrap_or(r"C:\ProgramData");
        return Path::new(program_data).join(r"AzureConnectedMachineAgent\Tokens");
    }
    PathBuf::from("/var/opt/azcmagent/tokens")
}

fn key_file_error(message: String) -> CredentialError {
    error(CredentialErrorKind::InvalidResponse, message).with_fix(concat!(
        "the identity endpoint is not a genuine Azure Arc agent, or IDENTITY_ENDPOINT points ",
        "elsewhere; check IDENTITY_ENDPOINT and IMDS_ENDPOINT"
    ))
}

/// The checks that need no file system: a `.key` file directly in the tokens folder, no `..`.
pub(crate) fn check_key_path(path: &Path, tokens_dir: &Path) -> Result<PathBuf, CredentialError> {
    if !path.is_absolute()
        || path
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(key_file_error(format!(
            "the Azure Arc agent named the key file {}, which is not an absolute, normalised path",
            path.display()
        )));
    }
    if path.parent() != Some(tokens_dir) {
        return Err(key_file_error(format!(
            "the Azure Arc agent named the key file {}, which is not in the agent's tokens folder {}",
            path.display(),
            tokens_dir.display()
        )));
    }
    if path.extension().and_then(|e| e.to_str()) != Some("key") {
        return Err(key_file_error(format!(
            "the Azure Arc agent named the file {}, which is not a .key file",
            path.display()
        )));
    }
    Ok(path.to_owned())
}

/// Resolves links, checks again that the file lives in the tokens folder, checks its size,
/// and only then reads it.
async fn read_key(path: &Path, tokens_dir: &Path) -> Result<String, CredentialError> {
    let unreadable = |e: std::io::Error| {
        error(
            CredentialErrorKind::Refused,
            format!("cannot read the Azure Arc key file {}: {e}", path.display()),
        )
        .with_fix(
            "run kvref as a user in the `himds` group (Linux) or as an administrator (Windows)",
        )
    };
    let real_path = tokio::fs::canonicalize(path).await.map_err(unreadable)?;
    let real_dir = tokio::fs::canonicalize(tokens_dir)
        .await
        .map_err(unreadable)?;
    if real_path.parent() != Some(real_dir.as_path()) {
        return Err(key_file_error(format!(
            "the Azure Arc key file {} leads outside the agent's tokens folder",
            path.display()
        )));
    }
    let metadata = tokio::fs::metadata(&real_path).await.map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(key_file_error(format!(
            "the Azure Arc key file {} is not a regular file",
            path.display()
        )));
    }
    if metadata.len() > MAX_KEY_FILE_BYTES {
        return Err(key_file_error(format!(
            "the Azure Arc key file {} is {} bytes, more than the {MAX_KEY_FILE_BYTES} an agent writes",
            path.display(),
            metadata.len()
        )));
    }
    let bytes = tokio::fs::read(&real_path).await.map_err(unreadable)?;
    // The file could have grown between the check and the read.
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(key_file_error(format!(
            "the Azure Arc key file {} is larger than {MAX_KEY_FILE_BYTES} bytes",
            path.display()
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        key_file_error(format!(
            "the Azure Arc key file {} is not text",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_must_be_a_key_file_directly_in_the_tokens_folder() {
        let dir = Path::new("/var/opt/azcmagent/tokens");
        assert!(check_key_path(Path::new("/var/opt/azcmagent/tokens/abc.key"), dir).is_ok());
        for bad in [
            "/var/opt/azcmagent/tokens/abc.txt",
            "/var/opt/azcmagent/tokens/abc",
            "/var/opt/azcmagent/tokens/sub/abc.key",
            "/var/opt/azcmagent/tokens/../tokens/abc.key",
            "/etc/shadow.key",
            "abc.key",
            "tokens/abc.key",
        ] {
            let err = check_key_path(Path::new(bad), dir).unwrap_err();
            assert_eq!(err.kind(), CredentialErrorKind::InvalidResponse, "{bad}");
        }
    }

    #[test]
    fn tokens_dir_can_be_overridden() {
        let env = Env::from_pairs([(TOKENS_DIR_VARIABLE, "/tmp/arc-tokens")]);
        assert_eq!(tokens_dir(&env), PathBuf::from("/tmp/arc-tokens"));
        if !cfg!(windows) {
            assert_eq!(
                tokens_dir(&Env::default()),
                PathBuf::from("/var/opt/azcmagent/tokens")
            );
        }
    }

    #[tokio::test]
    async fn key_files_are_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let good = tokens.join("good.key");
        std::fs::write(&good, "secret-key").unwrap();
        assert_eq!(read_key(&good, &tokens).await.unwrap(), "secret-key");

        let big = tokens.join("big.key");
        std::fs::write(&big, vec![b'a'; 4097]).unwrap();
        let err = read_key(&big, &tokens).await.unwrap_err();
        assert!(err.message().contains("4097 bytes"), "{err}");

        let exactly = tokens.join("max.key");
        std::fs::write(&exactly, vec![b'a'; 4096]).unwrap();
        assert!(read_key(&exactly, &tokens).await.is_ok());

        // A link inside the folder that leads outside it.
        #[cfg(unix)]
        {
            let outside = dir.path().join("outside.key");
            std::fs::write(&outside, "other").unwrap();
            let link = tokens.join("link.key");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            let err = read_key(&link, &tokens).await.unwrap_err();
            assert!(err.message().contains("outside"), "{err}");
        }

        let sub = tokens.join("dir.key");
        std::fs::create_dir(&sub).unwrap();
        assert!(read_key(&sub, &tokens).await.is_err());
        let missing = tokens.join("missing.key");
        assert_eq!(
            read_key(&missing, &tokens).await.unwrap_err().kind(),
            CredentialErrorKind::Refused
        );
    }
}
