//! The two listeners and the request path every request takes: classify, fault, serve, record.
//!
//! The HTTPS listener speaks HTTP/2 to clients that pick `h2` by ALPN and HTTP/1.1 to the others;
//! the HTTP listener speaks HTTP/1.1 only.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::header::HOST;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::fault::{Endpoint, FILLER_CHUNK, JournalEntry, TRICKLE_BYTES};
use crate::http::{Req, json as json_response, set_header};
use crate::state::{Shared, lock};
use crate::{control, entra, identity, keyvault};

/// Largest request body read (Key Vault's own limit for a secret is 25 KiB).
const MAX_BODY: usize = 1 << 20;

/// A fault asked for the connection to be closed without an answer. Over HTTP/1.1 hyper closes
/// the connection on this error; over HTTP/2 it would only reset the stream, so the fault also
/// cancels the connection's [`Connection::dropped`] token, which ends the whole connection.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// The connection a request came in on.
#[derive(Clone)]
struct Connection {
    https: bool,
    /// Cancelled to close the connection at once, with every request in flight on it.
    dropped: CancellationToken,
}

/// Where a request goes.
enum Target {
    Control,
    Service(Endpoint),
    Unknown,
}

fn classify(https: bool, req: &Req) -> Target {
    let path = req.path.to_ascii_lowercase();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path.as_str()
    };
    if https {
        if keyvault::is_vault_host(&req.host_name()) {
            Target::Service(Endpoint::KeyVault)
        } else if path == "/metadata/identity/oauth2/token" {
            Target::Service(Endpoint::ServiceFabric)
        } else {
            Target::Service(Endpoint::Entra)
        }
    } else if path.starts_with("/_emulator/") {
        Target::Control
    } else {
        match path {
            "/msi/token" => Target::Service(Endpoint::AppService),
            "/legacy/msi/token" => Target::Service(Endpoint::LegacyAppService),
            "/metadata/identity/oauth2/token" => Target::Service(Endpoint::Imds),
            "/arc/metadata/identity/oauth2/token" => Target::Service(Endpoint::Arc),
            "/cloudshell/oauth2/token" => Target::Service(Endpoint::CloudShell),
            _ => Target::Unknown,
        }
    }
}

fn dispatch(endpoint: Endpoint, shared: &Shared, req: &Req) -> Response<Body> {
    match endpoint {
        Endpoint::KeyVault => keyvault::handle(shared, req),
        Endpoint::Imds => identity::imds::handle(shared, req),
        Endpoint::AppService => identity::app_service::handle(shared, req),
        Endpoint::LegacyAppService => identity::app_service::handle_legacy(shared, req),
        Endpoint::Arc => identity::arc::handle(shared, req),
        Endpoint::CloudShell => identity::cloud_shell::handle(shared, req),
        Endpoint::ServiceFabric => identity::service_fabric::handle(shared, req),
        Endpoint::Entra => entra::handle(shared, req),
        // Event Grid only sends; classify never routes a request here.
        Endpoint::EventGrid => crate::http::empty(StatusCode::NOT_FOUND),
    }
}

async fn handle(
    shared: Arc<Shared>,
    connection: Connection,
    request: Request<Incoming>,
) -> Result<Response<Body>, DropConnection> {
    let (parts, body) = request.into_parts();
    let protocol = protocol_name(parts.version);
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return Ok(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": "request body too large or unreadable"}),
            ));
        }
    };
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let req = Req {
        method: parts.method,
        host,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let endpoint = match classify(connection.https, &req) {
        Target::Control => return Ok(control::serve(&shared, &req).await),
        Target::Unknown => {
            return Ok(json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": "not_found", "error_description": format!("the emulator serves nothing at {}", req.path)}),
            ));
        }
        Target::Service(endpoint) => endpoint,
    };

    let fault = lock(&shared.faults).take(endpoint);
    let mut response = None;
    if let Some(fault) = &fault {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        if fault.drop_connection {
            record(&shared, endpoint, &req, protocol, 0);
            tracing::debug!(%endpoint, method = %req.method, path = %req.path, "fault: connection dropped");
            connection.dropped.cancel();
            return Err(DropConnection);
        }
        if let Some(status) = fault.status {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            response = Some(match &fault.body {
                Some(body) => json_response(status, body),
                None => crate::http::empty(status),
            });
        }
    }
    let mut response = match response {
        Some(response) => response,
        None => dispatch(endpoint, &shared, &req),
    };
    if let Some(fault) = &fault {
        for (name, value) in &fault.headers {
            set_header(&mut response, name, value);
        }
        if fault.endless_body {
            *response.body_mut() = filler(None);
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
        } else if let Some(bytes) = fault.body_bytes {
            *response.body_mut() = filler(Some(bytes));
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
        if fault.chunk_delay_ms > 0 {
            let body = std::mem::take(response.body_mut());
            *response.body_mut() = trickle(body, Duration::from_millis(fault.chunk_delay_ms));
            response.headers_mut().remove(http::header::CONTENT_LENGTH);
        }
    }
    let status = response.status().as_u16();
    record(&shared, endpoint, &req, protocol, status);
    tracing::debug!(%endpoint, method = %req.method, path = %req.path, status, "served");
    Ok(response)
}

/// A body of `len` bytes of `x` (for ever when `None`), streamed in chunks.
fn filler(len: Option<u64>) -> Body {
    let chunk = axum::body::Bytes::from(vec![b'x'; FILLER_CHUNK]);
    let mut left = len;
    let chunks = futures_util::stream::iter(std::iter::from_fn(move || {
        let size = match &mut left {
            None => FILLER_CHUNK,
            Some(0) => return None,
            Some(n) => {
                let size = (*n).min(FILLER_CHUNK as u64) as usize;
                *n -= size as u64;
                size
            }
        };
        Some(Ok::<_, std::convert::Infallible>(chunk.slice(..size)))
    }));
    Body::from_stream(chunks)
}

/// `body` sent [`TRICKLE_BYTES`] at a time, `delay` before each piece (a slow body fault).
fn trickle(body: Body, delay: Duration) -> Body {
    use futures_util::StreamExt;
    let pieces = body.into_data_stream().flat_map(|chunk| {
        let pieces: Vec<Result<axum::body::Bytes, axum::Error>> = match chunk {
            Ok(bytes) => (0..bytes.len())
                .step_by(TRICKLE_BYTES)
                .map(|at| Ok(bytes.slice(at..(at + TRICKLE_BYTES).min(bytes.len()))))
                .collect(),
            Err(error) => vec![Err(error)],
        };
        futures_util::stream::iter(pieces)
    });
    Body::from_stream(pieces.then(move |piece| async move {
        tokio::time::sleep(delay).await;
        piece
    }))
}

/// The journal's name for an HTTP version: `h2`, `http/1.1` (the ALPN names) or `http/1.0`.
fn protocol_name(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_2 => "h2",
        http::Version::HTTP_10 => "http/1.0",
        _ => "http/1.1",
    }
}

fn record(shared: &Shared, endpoint: Endpoint, req: &Req, protocol: &str, status: u16) {
    shared.record(JournalEntry {
        protocol: protocol.to_owned(),
        endpoint,
        method: req.method.to_string(),
        host: req.host.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        status,
        authorization: req.headers.contains_key(http::header::AUTHORIZATION),
        eventgrid: None,
    });
}

/// Serves one connection, over HTTP/2 when `h2` (negotiated by ALPN), until it ends, the
/// emulator stops, or a fault drops it.
async fn serve_io<I>(io: I, shared: Arc<Shared>, https: bool, h2: bool, cancel: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let dropped = cancel.child_token();
    let streams = shared.config.http2.max_concurrent_streams;
    let connection = Connection {
        https,
        dropped: dropped.clone(),
    };
    let service = service_fn(move |request| handle(shared.clone(), connection.clone(), request));
    let io = TokioIo::new(io);
    let result = if h2 {
        // Keep-alive PINGs from the client are answered by the h2 layer itself.
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .max_concurrent_streams(streams)
            .serve_connection(io, service);
        until_dropped(connection, &dropped).await
    } else {
        let connection = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        until_dropped(connection, &dropped).await
    };
    if let Some(Err(e)) = result {
        tracing::trace!(error = %e, "connection ended");
    }
}

/// Runs a connection until it ends (`Some`) or `dropped` is cancelled (`None`, and the
/// connection is closed without another frame).
async fn until_dropped<C>(connection: C, dropped: &CancellationToken) -> Option<C::Output>
where
    C: std::future::Future,
{
    tokio::select! {
        // Checked first: once a fault dropped the connection, it sends nothing more.
        biased;
        _ = dropped.cancelled() => None,
        result = connection => Some(result),
    }
}

/// Accepts connections until cancelled; `tls` makes it the HTTPS listener.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let cancel = cancel.clone();
        match &tls {
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let handshake = tokio::select! {
                        _ = cancel.cancelled() => return,
                        handshake = acceptor.accept(stream) => handshake,
                    };
                    match handshake {
                        Ok(stream) => {
                            let (_, session) = stream.get_ref();
                            let h2 = session.alpn_protocol() == Some(b"h2".as_slice());
                            let resumed =
                                session.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
                            shared.count_handshake(session.server_name(), resumed);
                            serve_io(stream, shared, true, h2, cancel).await
                        }
                        Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
                    }
                });
            }
            None => {
                tokio::spawn(serve_io(stream, shared, false, false, cancel));
            }
        }
    }
}
