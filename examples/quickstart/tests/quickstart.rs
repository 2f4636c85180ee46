//! `cargo run -p kvref-quickstart`, as a newcomer runs it: the binary exits 0 and its output
//! shows the settings resolved, the rotation followed, and an operator's view of a broken
//! reference, with no secret value anywhere in it.

use std::process::Command;

#[test]
fn the_quickstart_exits_0_and_shows_the_rotation() {
    let output = Command::new(env!("CARGO_BIN_EXE_kvref-quickstart"))
        .env_remove("KVREF_EMULATOR")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for shown in [
        "database.password            Resolved   myvault/DbPassword@",
        "rotated myvault/DbPassword in the emulator: new version",
        "by poll (refresh_now",
        "(handshake passed, Entra-protected)",
        "rotated myvault/ApiKey in the emulator: new version",
        "by push (SecretNewVersionCreated from Event Grid)",
        "SecretNotFound",
        "fix: ",
    ] {
        assert!(stdout.contains(shown), "`{shown}` missing from:\n{stdout}");
    }
    // Each rotation's new version is then the one in use: by poll as a change, by push in the
    // versions printed after the pushed swap.
    let versions: Vec<&str> = stdout
        .split("new version ")
        .skip(1)
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(versions.len(), 2, "{stdout}");
    assert!(stdout.contains(&format!("-> {}", versions[0])), "{stdout}");
    assert!(
        stdout.contains(&format!("myvault/ApiKey@{}", versions[1])),
        "{stdout}"
    );
    // Every secret value of the emulator's sample configuration, and the one rotated in.
    let sample = include_str!("../../emulator.toml");
    let values = sample
        .lines()
        .filter_map(|line| line.trim().strip_prefix("value = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .chain(["rotated-db-password", "rotated-api-key"])
        .collect::<Vec<_>>();
    assert!(values.len() > 5, "{values:?}");
    for value in values {
        assert!(
            !stdout.contains(value) && !stderr.contains(value),
            "{value} leaked"
        );
    }
}
