//! Helpers for the credential tests: fake `az`/`azd` scripts and a closed loopback port.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// A directory holding fake developer tools, to put first on a test's `PATH`.
pub struct FakeTools {
    pub dir: tempfile::TempDir,
}

impl FakeTools {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes an executable `/bin/sh` script `name` whose body is `body`. Every run appends its
    /// arguments (one per line, then `--`) to `<name>.calls`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let calls = self.dir.path().join(format!("{name}.calls"));
        let text = format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{}'; done\necho -- >> '{}'\n{body}\n",
            calls.display(),
            calls.display()
        );
        std::fs::write(&path, text).expect("write script");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path
    }

    /// The arguments of every run of `name`, one `Vec` per run.
    pub fn calls(&self, name: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.calls")))
            .unwrap_or_default();
        let mut runs = Vec::new();
        let mut current = Vec::new();
        for line in text.lines() {
            if line == "--" {
                runs.push(std::mem::take(&mut current));
            } else {
                current.push(line.to_owned());
            }
        }
        runs
    }

    /// `PATH` with this directory first and the system directories after (for `/bin/sh` tools).
    pub fn path(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.path().display())
    }
}

/// What `az account get-access-token` prints when logged in (shape of Azure CLI 2.54+).
pub fn az_token_json(token: &str, expires_on: i64) -> String {
    format!(
        r#"{{"accessToken":"{token}","expiresOn":"2030-01-02 03:04:05.000000","expires_on":{expires_on},"subscription":"00000000-0000-0000-0000-000000000001","tenant":"00000000-0000-0000-0000-000000000002","tokenType":"Bearer"}}"#
    )
}

/// The Azure CLI's message when nobody is logged in.
pub const AZ_NOT_LOGGED_IN: &str =
    "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1";
/// The Azure Developer CLI's message when nobody is logged in.
pub const AZD_NOT_LOGGED_IN: &str =
    "echo 'ERROR: fetching token: not logged in, run `azd auth login` to login' >&2; exit 1";

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}
