//! A figment without references makes no request and asks for no token.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use crate::support;

#[tokio::test]
async fn no_reference_means_an_empty_journal_and_the_figment_untouched() {
    let emu = support::emulator().await;
    let resolver = support::resolver(&emu).await;
    emu.clear_requests().await;

    let figment = Figment::from(Toml::string(
        r#"
        email = "ops@example.com"
        note = "@KeyVaultish but not a reference"
        [db]
        port = 5432
        hosts = ["a", "b"]
        "#,
    ))
    .merge(Serialized::defaults(
        serde_json::json!({ "db": { "user": "app" } }),
    ))
    .select("staging");
    let before = figment.metadata().count();
    let figment = kvref_figment::resolve_with(figment, &resolver)
        .await
        .unwrap();

    assert!(emu.requests().await.is_empty(), "no request, no token");
    assert_eq!(figment.metadata().count(), before, "no overlay merged");
    assert_eq!(figment.profile(), "staging");
    let port: u16 = kvref_figment::extract_inner(&figment, "db.port").unwrap();
    assert_eq!(port, 5432);
}
