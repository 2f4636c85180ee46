//! The adapters mounted in a real server of each framework on 127.0.0.1, at a path of the
//! test's choosing, beside a route of the app's own.

use std::net::SocketAddr;

use kvref::events::Webhook;

/// Where the webhook is mounted: any path works, not just the examples'.
pub(crate) const PATH: &str = "/hooks/kv-events";

/// axum, with the webhook mounted by `kvref_axum::webhook`.
pub(crate) async fn axum(webhook: Webhook) -> SocketAddr {
    let app: axum::Router = axum::Router::new()
        .route("/other", axum::routing::get(|| async { "other" }))
        .route(PATH, kvref_axum::webhook(webhook));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// actix-web, with the webhook mounted by `kvref_actix::webhook`; the handle stops it.
pub(crate) fn actix(webhook: Webhook) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .route("/other", actix_web::web::get().to(|| async { "other" }))
            .service(kvref_actix::webhook(PATH, webhook.clone()))
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (addr, handle)
}
