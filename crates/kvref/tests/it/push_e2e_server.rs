//! The server the push tests (and the push bench) mount `Webhook` on: axum on hyper at
//! 127.0.0.1 port 0, `/events`.
// The bench uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;
use kvref::events::Webhook;
use tokio::sync::{mpsc, watch};

/// The webhook at `/events`, with every answer's status sent to `answers`. A retried delivery
/// (`aeg-delivery-count` above 0) waits until `retries` is open, so a test decides what the
/// app looks like when Event Grid comes back.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    answers: mpsc::UnboundedReceiver<StatusCode>,
    pub(crate) retries: watch::Sender<bool>,
}

impl Server {
    pub(crate) async fn start(webhook: Webhook) -> Server {
        let (sent, answers) = mpsc::unbounded_channel();
        let (retries, open) = watch::channel(true);
        let app = axum::Router::new().route(
            "/events",
            axum::routing::any(move |request: axum::extract::Request| {
                let (webhook, sent, mut open) = (webhook.clone(), sent.clone(), open.clone());
                async move {
                    let retried = request
                        .headers()
                        .get("aeg-delivery-count")
                        .is_some_and(|count| count != "0");
                    if retried {
                        let _ = open.wait_for(|open| *open).await;
                    }
                    let (parts, body) = request.into_parts();
                    let body = axum::body::to_bytes(body, webhook.max_body())
                        .await
                        .unwrap_or_default();
                    let response = webhook
                        .handle(&http::Request::from_parts(parts, body))
                        .await;
                    let _ = sent.send(response.status());
                    response.map(axum::body::Body::from)
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            addr,
            answers,
            retries,
        }
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    pub(crate) async fn answer(&mut self) -> StatusCode {
        tokio::time::timeout(Duration::from_secs(60), self.answers.recv())
            .await
            .expect("the webhook answered")
            .expect("the server runs")
    }
}
