//! Developer tools: the Azure CLI (`az`) and the Azure Developer CLI (`azd`), so code that uses
//! managed identity in Azure works on a laptop after `az login`.
//!
//! The tools are run directly (never through a shell) with arguments kvref validated, found on
//! the `PATH` of the [`Env`] given, with that environment, stdin closed, a fixed safe working
//! directory, and a time limit. "Not installed" and "not logged in" are both reported as
//! unavailable (a chain moves on), with different fixes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::Value;

use super::entra::is_valid_tenant;
use super::token_response::parse_date_string;
use super::{
    AccessToken, CredentialError, CredentialErrorKind, TokenCredential, TokenRequest, traced,
};
use crate::Env;

/// How long a tool may take unless configured otherwise (the CLI refreshes tokens over the network).
pub const DEFAULT_TOOL_TIMEOUT: Duration = Duration::from_secs(20);

/// Gets tokens from the Azure CLI: `az account get-access-token --output json --resource <resource> [--tenant <tenant>]`.
///
/// ```
/// use kvref::Env;
/// use kvref::credential::AzureCliCredential;
///
/// let credential = AzureCliCredential::new(&Env::from_process());
/// # let _ = credential;
/// ```
#[derive(Debug, Clone)]
pub struct AzureCliCredential {
    tool: Tool,
}

/// Gets tokens from the Azure Developer CLI: `azd auth token --output json --scope <scope> [--tenant-id <tenant>]`.
///
/// ```
/// use kvref::Env;
/// use kvref::credential::AzureDeveloperCliCredential;
///
/// let credential = AzureDeveloperCliCredential::new(&Env::from_process());
/// # let _ = credential;
/// ```
#[derive(Debug, Clone)]
pub struct AzureDeveloperCliCredential {
    tool: Tool,
}

#[derive(Clone)]
struct Tool {
    credential: &'static str,
    program: &'static str,
    env: Env,
    timeout: Duration,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("program", &self.program)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AzureCliCredential {
    /// Runs `az` found on the `PATH` of `env`, with `env` as its environment.
    pub fn new(env: &Env) -> Self {
        Self {
            tool: Tool {
                credential: "AzureCliCredential",
                program: "az",
                env: env.clone(),
                timeout: DEFAULT_TOOL_TIMEOUT,
            },
        }
    }

    /// The same credential with another time limit for `az`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.tool.timeout = timeout;
        self
    }
}

impl AzureDeveloperCliCredential {
    /// Runs `azd` found on the `PATH` of `env`, with `env` as its environment.
    pub fn new(env: &Env) -> Self {
        Self {
            tool: Tool {
                credential: "AzureDeveloperCliCredential",
                program: "azd",
                env: env.clone(),
                timeout: DEFAULT_TOOL_TIMEOUT,
            },
        }
    }

    /// The same credential with another time limit for `azd`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.tool.timeout = timeout;
        self
    }
}

#[async_trait]
impl TokenCredential for AzureCliCredential {
    fn name(&self) -> &str {
        self.tool.credential
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(self.tool.credential, "azure_cli", "user", async {
            let resource = request.resource();
            self.tool.check_scope(resource)?;
            let mut args = vec![
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
                resource,
            ];
            if let Some(tenant) = self.tool.tenant(request)? {
                args.extend(["--tenant", tenant]);
            }
            let output = self.tool.run(&args, request).await?;
            parse_az_output(&output, &self.tool.env).map_err(|e| self.tool.invalid_output(e))
        })
        .await
    }
}

#[async_trait]
impl TokenCredential for AzureDeveloperCliCredential {
    fn name(&self) -> &str {
        self.tool.credential
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        traced(self.tool.credential, "azure_developer_cli", "user", async {
            self.tool.check_scope(&request.scope)?;
            let mut args = vec![
                "auth",
                "token",
                "--output",
                "json",
                "--no-prompt",
                "--scope",
                request.scope.as_str(),
            ];
            if let Some(tenant) = self.tool.tenant(request)? {
                args.extend(["--tenant-id", tenant]);
            }
            let output = self.tool.run(&args, request).await?;
            parse_azd_output(&output).map_err(|e| self.tool.invalid_output(e))
        })
        .await
    }
}

impl Tool {
    fn error(&self, kind: CredentialErrorKind, message: impl Into<String>) -> CredentialError {
        CredentialError::new(kind, self.credential, message)
    }

    /// Scopes and resources become arguments: only the characters a URL scope needs.
    fn check_scope(&self, scope: &str) -> Result<(), CredentialError> {
        let valid = !scope.is_empty()
            && !scope.starts_with('-')
            && scope
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
        if valid {
            Ok(())
        } else {
            Err(self
                .error(
                    CredentialErrorKind::InvalidConfiguration,
                    format!("'{scope}' is not a valid scope to pass to {}", self.program),
                )
                .with_fix("use a scope such as https://vault.azure.net/.default"))
        }
    }

    fn tenant<'a>(&self, request: &'a TokenRequest) -> Result<Option<&'a str>, CredentialError> {
        match request.tenant_id.as_deref() {
            None => Ok(None),
            Some(t) if is_valid_tenant(t) => Ok(Some(t)),
            Some(_) => Err(self.error(
                CredentialErrorKind::InvalidConfiguration,
                "the requested tenant id is not valid (letters, digits, '.' and '-' only)",
            )),
        }
    }

    fn not_installed(&self) -> CredentialError {
        let (what, fix) = if self.program == "az" {
            (
                "the Azure CLI (az) is not installed or not on PATH",
                "install the Azure CLI (https://aka.ms/azure-cli), then run `az login`",
            )
        } else {
            (
                "the Azure Developer CLI (azd) is not installed or not on PATH",
                "install the Azure Developer CLI (https://aka.ms/azd-install), then run `azd auth login`",
            )
        };
        self.error(CredentialErrorKind::Unavailable, what)
            .with_fix(fix)
    }

    fn not_logged_in(&self, request: &TokenRequest) -> CredentialError {
        let tenant = request
            .tenant_id
            .as_deref()
            .map(|t| {
                format!(
                    " --tenant{} {t}",
                    if self.program == "az" { "" } else { "-id" }
                )
            })
            .unwrap_or_default();
        let command = if self.program == "az" {
            format!("az login{tenant}")
        } else {
            format!("azd auth login{tenant}")
        };
        self.error(
            CredentialErrorKind::Unavailable,
            format!(
                "not logged in to {}",
                if self.program == "az" {
                    "the Azure CLI"
                } else {
                    "the Azure Developer CLI"
                }
            ),
        )
        .with_fix(format!("run `{command}`"))
    }

    fn invalid_output(&self, why: String) -> CredentialError {
        self.error(
            CredentialErrorKind::InvalidResponse,
            format!(
                "{} printed something that is not a token: {why}",
                self.program
            ),
        )
        .with_fix(format!("update {} to a current version", self.program))
    }

    async fn run(&self, args: &[&str], request: &TokenRequest) -> Result<Vec<u8>, CredentialError> {
        let Some(program) = find_program(&self.env, self.program) else {
            return Err(self.not_installed());
        };
        let mut command = tokio::process::Command::new(&program);
        command
            .args(args)
            .env_clear()
            .envs(
                self.env
                    .names()
                    .filter_map(|name| Some((name, self.env.get(name)?))),
            )
            .env("AZURE_CORE_NO_COLOR", "true")
            .current_dir(safe_directory(&self.env))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut attempt = 0;
        let spawned = loop {
            match command.spawn() {
                // The tool is being written (an update, or another thread of this process that
                // just wrote it still shares the file through a fork): it will be ready shortly.
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 5 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                }
                other => break other,
            }
        };
        let child = spawned.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.not_installed()
            } else {
                self.error(
                    CredentialErrorKind::Unavailable,
                    format!("cannot run {}: {e}", program.display()),
                )
                .with_fix(format!("check that {} is executable", program.display()))
            }
        })?;
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => {
                return Err(self.error(
                    CredentialErrorKind::Unavailable,
                    format!("{} failed: {e}", self.program),
                ));
            }
            Err(_) => {
                return Err(self
                    .error(
                        CredentialErrorKind::Unavailable,
                        format!(
                            "{} did not answer within {} s",
                            self.program,
                            self.timeout.as_secs()
                        ),
                    )
                    .with_fix(format!(
                        "run `{} {}` yourself to see what it waits for",
                        self.program,
                        args[..2].join(" ")
                    )));
            }
        };
        if output.status.success() {
            return Ok(output.stdout);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.code() == Some(127)
            || stderr.contains("not recognized as an internal or external command")
        {
            return Err(self.not_installed());
        }
        let login_hint = if self.program == "az" {
            (stderr.contains("az login") || stderr.contains("az account set"))
                && !stderr.contains("AADSTS")
        } else {
            stderr.contains("azd auth login") || stderr.contains("not logged in")
        };
        if login_hint {
            return Err(self.not_logged_in(request));
        }
        Err(self
            .error(
                CredentialErrorKind::Refused,
                format!(
                    "{} exited with {}: {}",
                    self.program,
                    output.status,
                    first_lines(&stderr)
                ),
            )
            .with_fix(format!(
                "run `{} {}` yourself to see the whole message",
                self.program,
                args[..2].join(" ")
            )))
    }
}

/// The first meaningful lines of a tool's error output, bounded.
fn first_lines(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    if joined.len() > 300 {
        let mut end = 300;
        while !joined.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &joined[..end])
    } else if joined.is_empty() {
        "(no error output)".to_owned()
    } else {
        joined
    }
}

/// `program` on the `PATH` of `env` (on Windows also `program.cmd` and `program.exe`).
fn find_program(env: &Env, program: &str) -> Option<PathBuf> {
    let path = env.get("PATH").or_else(|| env.get("Path"))?;
    let names: Vec<String> = if cfg!(windows) {
        vec![
            format!("{program}.cmd"),
            format!("{program}.exe"),
            program.to_owned(),
        ]
    } else {
        vec![program.to_owned()]
    };
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    let Ok(metadata) = std::fs::metadata(path) else {
        return false;
    };
    if !metadata.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        metadata.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// A directory that exists everywhere and holds nothing the tool could pick up by accident.
fn safe_directory(env: &Env) -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(env.get("SYSTEMROOT").unwrap_or(r"C:\Windows"))
    } else if Path::new("/bin").is_dir() {
        PathBuf::from("/bin")
    } else {
        PathBuf::from("/")
    }
}

/// `az account get-access-token` output: `accessToken`, and `expires_on` (epoch seconds, CLI
/// 2.54.0 and later) or else `expiresOn` (local time, `%Y-%m-%d %H:%M:%S.%f`).
pub(crate) fn parse_az_output(stdout: &[u8], env: &Env) -> Result<AccessToken, String> {
    let value: Value =
        serde_json::from_slice(stdout).map_err(|_| "the output is not JSON".to_owned())?;
    let token = value
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the output has no accessToken")?;
    let expires_on = match value.get("expires_on") {
        Some(Value::Number(n)) => n.as_i64().and_then(|s| Timestamp::from_second(s).ok()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|s| Timestamp::from_second(s).ok()),
        _ => None,
    };
    let expires_on = match expires_on {
        Some(ts) => ts,
        None => {
            let local = value
                .get("expiresOn")
                .and_then(Value::as_str)
                .ok_or("the output has neither expires_on nor expiresOn")?;
            parse_local_time(local, &local_time_zone(env))
                .ok_or("the output's expiresOn is not a local date and time")?
        }
    };
    Ok(AccessToken::new(token, expires_on))
}

/// `azd auth token` output: `{"token": "...", "expiresOn": "<RFC 3339>"}`.
pub(crate) fn parse_azd_output(stdout: &[u8]) -> Result<AccessToken, String> {
    let value: Value =
        serde_json::from_slice(stdout).map_err(|_| "the output is not JSON".to_owned())?;
    let token = value
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the output has no token")?;
    let expires_on = value
        .get("expiresOn")
        .and_then(Value::as_str)
        .and_then(parse_date_string)
        .ok_or("the output's expiresOn is not an RFC 3339 time")?;
    Ok(AccessToken::new(token, expires_on))
}

/// The time zone the tool printed local times in: the `TZ` it was given, else the system's.
fn local_time_zone(env: &Env) -> TimeZone {
    if let Some(tz) = env.get("TZ") {
        let name = tz.strip_prefix(':').unwrap_or(tz);
        if let Ok(zone) = TimeZone::get(name) {
            return zone;
        }
        if let Ok(zone) = TimeZone::posix(name) {
            return zone;
        }
    }
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

fn parse_local_time(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let civil: DateTime = text.trim().parse().ok()?;
    zone.to_ambiguous_zoned(civil)
        .compatible()
        .ok()
        .map(|zoned| zoned.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_output_with_epoch_seconds() {
        let out = br#"{"accessToken":"tok","expiresOn":"2030-01-02 03:04:05.000000","expires_on":2147385600,"subscription":"s","tenant":"fake-tenant","tokenType":"Bearer"}"#;
        let token = parse_az_output(out, &Env::default()).unwrap();
        assert_eq!(
            token.expires_on(),
            Timestamp::from_second(2147385600).unwrap()
        );
        assert_eq!(token.secret(), "tok");
    }

    #[test]
    fn az_output_with_local_time_only() {
        let out = br#"{"accessToken":"tok","expiresOn":"2030-01-02 03:04:05.000000","tokenType":"Bearer"}"#;
        let utc = parse_az_output(out, &Env::from_pairs([("TZ", "UTC")])).unwrap();
        assert_eq!(
            utc.expires_on(),
            "2030-01-02T03:04:05Z".parse::<Timestamp>().unwrap()
        );
        let paris = parse_az_output(out, &Env::from_pairs([("TZ", "Europe/Paris")])).unwrap();
        assert_eq!(
            paris.expires_on(),
            "2030-01-02T02:04:05Z".parse::<Timestamp>().unwrap()
        );
        let posix = parse_az_output(out, &Env::from_pairs([("TZ", "EST5")])).unwrap();
        assert_eq!(
            posix.expires_on(),
            "2030-01-02T08:04:05Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn bad_az_output_never_echoes_it() {
        for out in [
            &br#"tok not json"#[..],
            br#"{"accessToken":"tok"}"#,
            br#"{"accessToken":"tok","expiresOn":"soon"}"#,
            br#"{"token":"tok","expires_on":1}"#,
        ] {
            let err = parse_az_output(out, &Env::default()).unwrap_err();
            assert!(!err.contains("tok\""), "{err}");
        }
    }

    #[test]
    fn azd_output() {
        let token =
            parse_azd_output(br#"{"token":"tok","expiresOn":"2030-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(
            token.expires_on(),
            "2030-01-02T03:04:05Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_azd_output(br#"{"token":"tok"}"#).is_err());
        assert!(
            parse_azd_output(br#"{"accessToken":"tok","expiresOn":"2030-01-02T03:04:05Z"}"#)
                .is_err()
        );
    }

    #[test]
    fn scopes_are_checked_before_they_become_arguments() {
        let tool = AzureCliCredential::new(&Env::default()).tool;
        assert!(tool.check_scope("https://vault.azure.net/.default").is_ok());
        assert!(tool.check_scope("https://vault.azure.net").is_ok());
        for bad in [
            "",
            "--help",
            "https://x y",
            "https://x;rm",
            "https://x&y",
            "a\nb",
        ] {
            assert!(tool.check_scope(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn programs_are_found_on_the_env_path_only() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_program(&Env::default(), "az"), None);
        let env = Env::from_pairs([("PATH", dir.path().to_str().unwrap())]);
        assert_eq!(find_program(&env, "az"), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let az = dir.path().join("az");
            std::fs::write(&az, "#!/bin/sh\n").unwrap();
            assert_eq!(find_program(&env, "az"), None, "not executable yet");
            std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(find_program(&env, "az"), Some(az));
            // Relative PATH entries are ignored (they would depend on the working directory).
            let relative = Env::from_pairs([("PATH", ".")]);
            assert_eq!(find_program(&relative, "az"), None);
        }
    }
}
