//! Local emulator mode from the outside: refused URLs, an emulator that is down, `--emulator`,
//! and the loud announcement.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn non_loopback_emulator_urls_are_refused() {
    let files = Files::new();
    let settings = files.password_settings();
    for url in [
        "http://10.1.2.3:8080",
        "http://192.0.2.7:8080",
        "http://example.com:8080",
        "https://127.0.0.1:8443",
        "http://169.254.169.254",
    ] {
        for (env, args) in [
            (
                vec![("KVREF_EMULATOR", url)],
                vec!["check", settings.as_str()],
            ),
            (vec![], vec!["check", settings.as_str(), "--emulator", url]),
            (
                vec![("KVREF_EMULATOR", url)],
                vec!["resolve", settings.as_str()],
            ),
        ] {
            let output = kvref(None, &args, &env).await;
            assert_eq!(output.status.code(), Some(2), "{url} {args:?}");
            let err = stderr(&output);
            assert!(err.contains("is refused"), "{url}: {err}");
            assert!(err.contains(url.trim_end_matches('/')), "{url}: {err}");
            assert!(stdout(&output).is_empty());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_down_is_reported() {
    let files = Files::new();
    let settings = files.password_settings();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    for args in [
        vec!["check", settings.as_str()],
        vec!["resolve", settings.as_str()],
    ] {
        let output = kvref(None, &args, &[("KVREF_EMULATOR", url.as_str())]).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(
            err.contains(&format!("the kvref emulator at {url} is not reachable")),
            "{err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_flag_and_the_loud_announcement() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.password_settings();
    let url = format!("http://{}", emu.http_addr());
    let output = kvref(None, &["check", &settings, "--emulator", &url], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("WARN") && err.contains("LOCAL EMULATOR MODE IS ON") && err.contains(&url),
        "{err}"
    );
    // --emulator wins over a stale variable.
    let output = kvref(
        None,
        &["check", &settings, "--emulator", &url],
        &[("KVREF_EMULATOR", "http://10.9.9.9:1")],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}
