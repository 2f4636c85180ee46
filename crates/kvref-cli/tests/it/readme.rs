//! The top-level README's commands, so the README cannot rot: every command in its shell blocks
//! is run here (`kvref`, the emulator, `KVREF_EMULATOR`), or named with the test that runs it,
//! or is an `az` command (Azure itself, never contacted by tests). A command the README gains
//! without a test fails here.

use kvref_emulator::{Emulator, EmulatorConfig};
use std::path::{Path, PathBuf};

use crate::support::{kvref, spawn_emulator, stderr, stdout};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Each command line of the README's shell blocks, with `\` continuations joined and comments
/// dropped.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_shell = false;
    let mut pending = String::new();
    for line in readme.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_shell = !in_shell && matches!(info, "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !in_shell || trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(trimmed);
                commands.push(std::mem::take(&mut pending));
            }
        }
    }
    commands
}

/// Commands run by other tests, and the file that runs each (checked to exist and to name it).
const RUN_ELSEWHERE: [(&str, &str); 4] = [
    (
        "cargo run -p kvref-quickstart",
        "examples/quickstart/tests/quickstart.rs",
    ),
    ("cargo run -p kvref-example-axum", "tests/e2e/axum.rs"),
    ("cargo run -p kvref-example-actix", "tests/e2e/actix.rs"),
    // CI runs it on every submission; it is the README's test command.
    (".ci/run", ".ci/run"),
];

/// Starts `kvref emulator ARGS` as the README does and returns it with its `http` address.
async fn start_emulator(args: &str) -> (tokio::process::Child, String) {
    let args: Vec<&str> = args.split_whitespace().collect();
    let (child, ready) = spawn_emulator(&args, &root()).await;
    let http = ready["http"].as_str().expect("an http address").to_owned();
    (child, format!("http://{http}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_readme_command_is_run_or_named_with_its_test() {
    let commands = readme_commands();
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("cargo run -p kvref-cli")),
        "{commands:?}"
    );
    let sample = Emulator::start(EmulatorConfig::sample()).await.unwrap();
    let mut started: Option<(tokio::process::Child, String)> = None;
    for command in &commands {
        if command.starts_with("az ") {
            continue;
        }
        if let Some(args) = command.strip_prefix("cargo run -p kvref-emulator -- ") {
            started = Some(start_emulator(args).await);
        } else if let Some(value) = command.strip_prefix("export KVREF_EMULATOR=") {
            let (_, http) = started
                .as_ref()
                .expect("the README starts the emulator first");
            let placeholder = http.rsplit_once(':').unwrap().0;
            assert!(
                value.starts_with(placeholder) && value.starts_with("http://127.0.0.1:"),
                "`{command}` should take the ready line's http address ({http})"
            );
            // What the README then runs with it: a check against that emulator.
            let settings = root().join("examples/quickstart/settings.toml");
            let output = kvref(
                None,
                &["check", settings.to_str().unwrap()],
                &[("KVREF_EMULATOR", http)],
            )
            .await;
            assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        } else if let Some(args) = command.strip_prefix("cargo run -p kvref-cli -- ") {
            let args: Vec<&str> = args.split_whitespace().collect();
            let mut absolute = Vec::new();
            for arg in &args {
                let path = root().join(arg);
                absolute.push(if path.exists() {
                    path.to_str().unwrap().to_owned()
                } else {
                    (*arg).to_owned()
                });
            }
            let absolute: Vec<&str> = absolute.iter().map(String::as_str).collect();
            let output = kvref(Some(&sample), &absolute, &[]).await;
            assert_eq!(
                output.status.code(),
                Some(0),
                "`{command}`:\n{}{}",
                stdout(&output),
                stderr(&output)
            );
            assert!(stdout(&output).contains("Resolved"), "{}", stdout(&output));
        } else {
            let (_, file) = RUN_ELSEWHERE
                .iter()
                .find(|(known, _)| known == command)
                .unwrap_or_else(|| {
                    panic!("README command `{command}` is run by no test: add it here")
                });
            let text = std::fs::read_to_string(root().join(file))
                .unwrap_or_else(|e| panic!("{file}, which runs `{command}`: {e}"));
            if let Some(package) = command.strip_prefix("cargo run -p ") {
                assert!(text.contains(package), "{file} should run {package}");
            }
        }
    }
    if let Some((mut child, _)) = started {
        child.kill().await.unwrap();
    }
}

/// The lines of what a plain-text reader takes for shell blocks: from a run of three backticks
/// with no tag or a shell tag and a newline, to the next three backticks, scanning on after
/// them. Such a reader takes the closing fence of a block tagged otherwise (`rust`, `toml`) for
/// an opening one, so the README keeps such blocks after its two commands, and fences the
/// reference syntax above them with tildes.
fn naive_shell_lines(readme: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find("```") {
        let after = &rest[at + 3..];
        let tag_end = after.find('\n').unwrap_or(after.len());
        let tag = &after[..tag_end];
        if matches!(tag, "" | "sh" | "bash" | "console" | "shell") && tag_end < after.len() {
            let body = &after[tag_end + 1..];
            let Some(end) = body.find("```") else { break };
            lines.extend(body[..end].lines().map(|l| l.trim().to_owned()));
            rest = &body[end + 3..];
        } else {
            rest = after;
        }
    }
    lines
}

#[test]
fn a_plain_text_reader_finds_the_two_commands_first() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = naive_shell_lines(&readme);
    let first = |prefix: &str| lines.iter().find(|l| l.starts_with(prefix)).cloned();
    assert_eq!(
        first("cargo run").as_deref(),
        Some("cargo run -p kvref-quickstart")
    );
    assert_eq!(first(".ci/run").as_deref(), Some(".ci/run"));
}
