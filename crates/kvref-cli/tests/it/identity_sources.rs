//! `kvref check` resolves with each identity source's environment from the emulator, and the
//! user-assigned selectors (`AZURE_CLIENT_ID`, `--client-id`, `--object-id`, `--resource-id`)
//! reach the token request.

use crate::support::*;
use kvref_emulator::{Endpoint, SOURCES};

#[tokio::test(flavor = "multi_thread")]
async fn every_identity_source_resolves() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.password_settings();
    for source in SOURCES {
        let vars = source_env(&emu, source);
        assert!(
            !vars.is_empty(),
            "the emulator has no environment for {source}"
        );
        emu.clear_requests().await;
        let output = check_json(&emu, &settings, &[], &pairs(&vars)).await;
        let rows = rows(&report(&output));
        assert_eq!(
            rows["password"]["status"],
            "Resolved",
            "{source}: {}\n{}",
            rows["password"],
            stderr(&output)
        );
        assert_eq!(output.status.code(), Some(0), "{source}");
        // The source itself was asked, not the App Service identity local mode adds by default.
        let journal = emu.requests().await;
        let expected = match source {
            "workload_identity" => Endpoint::Entra,
            "app_service" => Endpoint::AppService,
            "legacy_app_service" => Endpoint::LegacyAppService,
            "imds" => Endpoint::Imds,
            "arc" => Endpoint::Arc,
            "cloud_shell" => Endpoint::CloudShell,
            "service_fabric" => Endpoint::ServiceFabric,
            _ => unreachable!(),
        };
        assert!(
            journal
                .iter()
                .any(|e| e.endpoint == expected && e.status == 200),
            "{source}: {:?}",
            journal
                .iter()
                .map(|e| (e.endpoint, e.status))
                .collect::<Vec<_>>()
        );
        if source != "app_service" {
            assert!(
                !journal.iter().any(|e| e.endpoint == Endpoint::AppService),
                "{source}"
            );
        }
        // The source's own secrets (identity header, federated token) never reach the output.
        let out = stdout(&output) + &stderr(&output);
        for (name, value) in &vars {
            if name.contains("HEADER") || name.contains("SECRET") {
                assert!(!out.contains(value.as_str()), "{source}: {name} in output");
            }
        }
    }
}

/// The App Service token requests the emulator saw, as query strings.
async fn app_service_queries(emu: &kvref_emulator::Emulator) -> Vec<String> {
    emu.requests()
        .await
        .into_iter()
        .filter(|e| e.endpoint == Endpoint::AppService)
        .map(|e| e.query)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn user_assigned_selectors_reach_the_token_request() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.password_settings();
    let app_service = source_env(&emu, "app_service");

    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a str>, String);
    let cases: [Case<'_>; 5] = [
        (
            "AZURE_CLIENT_ID",
            vec![("AZURE_CLIENT_ID", UAMI_CLIENT_ID)],
            vec![],
            format!("client_id={UAMI_CLIENT_ID}"),
        ),
        (
            "--client-id",
            vec![],
            vec!["--client-id", UAMI_CLIENT_ID],
            format!("client_id={UAMI_CLIENT_ID}"),
        ),
        // The explicit option wins over AZURE_CLIENT_ID.
        (
            "--client-id over AZURE_CLIENT_ID",
            vec![("AZURE_CLIENT_ID", SYSTEM_CLIENT_ID)],
            vec!["--client-id", UAMI_CLIENT_ID],
            format!("client_id={UAMI_CLIENT_ID}"),
        ),
        (
            "--object-id",
            vec![],
            vec!["--object-id", UAMI_OBJECT_ID],
            format!("principal_id={UAMI_OBJECT_ID}"),
        ),
        (
            "--resource-id",
            vec![],
            vec!["--resource-id", UAMI_RESOURCE_ID],
            "mi_res_id=".to_owned(),
        ),
    ];
    for (how, extra_env, extra_args, expected_query) in cases {
        emu.clear_requests().await;
        let mut env = pairs(&app_service);
        env.extend(extra_env);
        let output = check_json(&emu, &settings, &extra_args, &env).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{how}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        let queries = app_service_queries(&emu).await;
        assert!(
            !queries.is_empty() && queries.iter().all(|q| q.contains(&expected_query)),
            "{how}: {queries:?}"
        );
    }

    // Without a selector, the system identity: no client_id in the request.
    emu.clear_requests().await;
    let output = kvref(Some(&emu), &["check", &settings], &pairs(&app_service)).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let queries = app_service_queries(&emu).await;
    assert!(
        !queries.is_empty() && queries.iter().all(|q| !q.contains("client_id=")),
        "{queries:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn local_mode_uses_the_emulator_app_service_identity_by_default() {
    let emu = emulator().await;
    let files = Files::new();
    let settings = files.password_settings();
    let output = check_json(&emu, &settings, &[], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!app_service_queries(&emu).await.is_empty());
    // AZURE_CLIENT_ID alone names no source: still the App Service identity, now user-assigned.
    emu.clear_requests().await;
    let output = kvref(
        Some(&emu),
        &["check", &settings],
        &[("AZURE_CLIENT_ID", UAMI_CLIENT_ID)],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let queries = app_service_queries(&emu).await;
    assert!(
        queries
            .iter()
            .any(|q| q.contains(&format!("client_id={UAMI_CLIENT_ID}"))),
        "{queries:?}"
    );
}
