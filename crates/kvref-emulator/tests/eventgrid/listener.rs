//! A subscriber of the tests' own on 127.0.0.1 port 0: it answers as a script says and hands
//! every request it received to the test, in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http::{HeaderMap, Method, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One request the subscriber received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the subscriber answers one request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// As a webhook that consents: the validation code echoed, the CloudEvents origin allowed,
    /// 200 to everything else.
    Consent,
    /// This status, empty body.
    Status(u16),
    /// Never answers (the connection stays open).
    Hang,
}

/// The subscriber: `script(request, n)` (n counts requests from 0) says how to answer.
pub(crate) struct Listener {
    pub(crate) addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Received>,
}

type Script = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

impl Listener {
    pub(crate) async fn start(
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("address");
        let (tx, received) = mpsc::unbounded_channel();
        let script: Script = Arc::new(script);
        let count = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            while let Ok((stream, _)) = socket.accept().await {
                let (tx, script, count) = (tx.clone(), script.clone(), count.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (tx, script, count) = (tx.clone(), script.clone(), count.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = axum::body::to_bytes(Body::new(body), 1 << 20)
                                .await
                                .unwrap_or_default();
                            let received = Received {
                                method: parts.method,
                                uri: parts.uri,
                                headers: parts.headers,
                                body,
                            };
                            let reply = script(&received, count.fetch_add(1, Ordering::SeqCst));
                            let response = answer(&received, &reply);
                            let _ = tx.send(received);
                            if matches!(reply, Reply::Hang) {
                                std::future::pending::<()>().await;
                            }
                            Ok::<_, std::convert::Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, received }
    }

    /// A subscriber that always consents.
    pub(crate) async fn consenting() -> Self {
        Self::start(|_, _| Reply::Consent).await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request received (a guard fails the test instead of hanging it).
    pub(crate) async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(60), self.received.recv())
            .await
            .expect("the subscriber received a request")
            .expect("the listener runs")
    }

    /// Requests received so far and not yet taken.
    pub(crate) fn drain(&mut self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Ok(received) = self.received.try_recv() {
            all.push(received);
        }
        all
    }
}

fn answer(received: &Received, reply: &Reply) -> Response<Body> {
    let mut builder = Response::builder();
    let body = match reply {
        Reply::Consent if received.method == Method::OPTIONS => {
            builder = builder.header(
                "WebHook-Allowed-Origin",
                received
                    .header("webhook-request-origin")
                    .unwrap_or_default(),
            );
            String::new()
        }
        Reply::Consent if received.header("aeg-event-type") == Some("SubscriptionValidation") => {
            let code = received.json()[0]["data"]["validationCode"].clone();
            builder = builder.header("content-type", "application/json");
            serde_json::json!({ "validationResponse": code }).to_string()
        }
        Reply::Status(status) => {
            builder = builder.status(*status);
            String::new()
        }
        Reply::Consent | Reply::Hang => String::new(),
    };
    builder.body(Body::from(body)).expect("a response")
}
