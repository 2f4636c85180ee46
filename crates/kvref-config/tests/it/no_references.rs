//! Settings without a reference: no request, no token, no resolver.

use config::Config;
use kvref::UnresolvedPolicy;

use crate::{emulator_and_resolver, environment};

fn plain_config() -> Config {
    Config::builder()
        .set_default("port", 8080)
        .unwrap()
        .add_source(config::File::from_str(
            "[db]\nhost = \"db.internal\"\nnames = [\"a\", \"b@c\"]\n",
            config::FileFormat::Toml,
        ))
        .add_source(environment(&[("APP__DB__USER", "svc")]))
        .build()
        .unwrap()
}

#[tokio::test]
async fn settings_without_references_make_no_request_and_ask_for_no_token() {
    let (emulator, resolver) = emulator_and_resolver(UnresolvedPolicy::Fail).await;
    emulator.clear_requests().await;

    let config = kvref_config::resolve_with(plain_config(), &resolver)
        .await
        .unwrap();

    assert_eq!(emulator.requests().await.len(), 0);
    assert!(config.resolution().is_none());
    assert_eq!(config.get_int("port").unwrap(), 8080);
    assert_eq!(config.get_string("db.user").unwrap(), "svc");
}

#[tokio::test]
async fn resolve_builds_no_resolver_when_there_is_no_reference() {
    // `resolve` would read the process environment to build a resolver; it must not get that far.
    let config = kvref_config::resolve(plain_config()).await.unwrap();
    assert!(config.resolution().is_none());
    assert_eq!(config.provenance().count(), 0);
    assert_eq!(config.get_string("db.names[1]").unwrap(), "b@c");
}
