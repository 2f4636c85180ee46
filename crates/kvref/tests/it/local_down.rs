//! Local development mode when the emulator is not there: the error says so and names the URL.

use kvref::Env;
use kvref::local::LocalEmulator;

#[tokio::test]
async fn emulator_down_is_reported_with_its_url() {
    // A port that was free a moment ago and has no listener now.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);

    let env = Env::from_pairs([("KVREF_EMULATOR", url.as_str())]);
    let error = LocalEmulator::from_env(&env).await.unwrap_err();
    assert!(error.is_unreachable(), "{error}");
    let text = error.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(text.contains("not reachable"), "{text}");
    assert!(text.contains("is it running"), "{text}");
}

#[tokio::test]
async fn unset_or_empty_means_azure() {
    assert!(
        LocalEmulator::from_env(&Env::default())
            .await
            .unwrap()
            .is_none()
    );
    let empty = Env::from_pairs([("KVREF_EMULATOR", "")]);
    assert!(LocalEmulator::from_env(&empty).await.unwrap().is_none());
}

#[tokio::test]
async fn non_loopback_is_refused_before_any_connection() {
    // 192.0.2.0/24 is TEST-NET-1: nothing may be contacted, and the refusal comes first anyway.
    let env = Env::from_pairs([("KVREF_EMULATOR", "http://192.0.2.10:8080")]);
    let error = LocalEmulator::from_env(&env).await.unwrap_err();
    assert!(error.is_refused(), "{error}");
    assert!(
        error
            .to_string()
            .contains("KVREF_EMULATOR=http://192.0.2.10:8080 is refused")
    );
}
