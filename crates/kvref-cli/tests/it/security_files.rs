//! `kvref check` on hostile files and hostile service text: settings files must be regular
//! files within a size limit and a YAML nesting limit (each error names the file and the
//! limit), and the table shows a service's terminal escapes escaped.

use crate::support::*;
use kvref_emulator::{Endpoint, Fault};

/// `kvref check PATH` without an emulator: refused files never get as far as resolving.
async fn check_file(path: &std::path::Path) -> (Option<i32>, String) {
    let output = kvref(None, &["check", path.to_str().unwrap()], &[]).await;
    (output.status.code(), stderr(&output))
}

#[tokio::test(flavor = "multi_thread")]
async fn only_regular_files_are_read() {
    let files = Files::new();
    let zero = files.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let dir = files.path().join("dir.yaml");
    std::fs::create_dir(&dir).unwrap();
    let fifo = files.path().join("pipe.toml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for (path, kind) in [
        (&zero, "a device"),
        (&dir, "a directory"),
        (&fifo, "a FIFO"),
    ] {
        let (code, err) = check_file(path).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(path.to_str().unwrap()), "{err}");
        assert!(
            err.contains(kind) && err.contains("regular files only"),
            "{err}"
        );
    }
    // A symlink to a regular file is fine.
    let real = files.write("real.json", r#"{"plain": "x"}"#);
    let link = files.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (code, err) = check_file(&link).await;
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_over_the_size_limit_are_refused() {
    let files = Files::new();
    let mut text = String::from("{\"a\": \"");
    text.push_str(&"x".repeat(17 * 1024 * 1024));
    text.push_str("\"}");
    let big = files.write("big.json", &text);
    let (code, err) = check_file(&big).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("big.json") && err.contains("limit of 16 MiB"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_yaml_flow_nesting_is_refused_before_parsing() {
    let files = Files::new();
    for (name, text) in [
        ("square.yaml", format!("a: {}\n", "[".repeat(150_000))),
        ("curly.yaml", format!("a: {}\n", "{a: ".repeat(40_000))),
    ] {
        let path = files.write(name, &text);
        let (code, err) = check_file(&path).await;
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(name) && err.contains("limit of 64 levels"),
            "{err}"
        );
    }
    // Nesting within the limit is read as before.
    let path = files.write("ok.yaml", "a: [[[\"x\"]]]\nb: \"[[[[[[[[\"\n");
    let (code, err) = check_file(&path).await;
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn terminal_escapes_from_a_service_are_shown_escaped_in_the_table() {
    let emu = emulator().await;
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        status: Some(403),
        body: Some(
            serde_json::json!({"error": {"code": "Forbidden\u{1b}[2J", "message":
            "denied \u{1b}[2J\u{1b}[31m FAKE: all references Resolved\u{1b}[0m"}}),
        ),
        ..Fault::default()
    })
    .await;
    let files = Files::new();
    let settings = files.password_settings();
    let output = kvref(Some(&emu), &["check", &settings], &[]).await;
    let shown = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{shown}{}", stderr(&output));
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
    assert!(shown.contains("\\u{1b}[2J"), "{shown}");
    assert!(!stderr(&output).contains('\u{1b}'), "{}", stderr(&output));
}
