//! HTTP/2 on the HTTPS listener: chosen by ALPN, many requests over one connection, the advertised
//! stream limit, keep-alive pings, and HTTP/1.1 for clients (or an emulator) without h2.

use std::sync::Arc;

use kvref_emulator::{Emulator, EmulatorConfig, Endpoint};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::{control_url, http, json_body};

const HOST: &str = "myvault.vault.azure.net";

/// A TLS connection to the HTTPS listener for `HOST`, offering only the ALPN protocols given.
async fn tls_connect(emu: &Emulator, alpn: &[&[u8]]) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(emu.ca_cert_pem().as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(emu.https_addr()).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(HOST).expect("server name"), tcp)
        .await
}

fn secret_request() -> http::Request<()> {
    http::Request::get(format!("https://{HOST}/secrets/DbPassword?api-version=7.5"))
        .body(())
        .expect("request")
}

/// A reqwest client that trusts the emulator and reaches `HOST` on it; `http1_only` as an
/// HTTP/1.1-only SDK client (or curl without nghttp2) would.
fn reqwest_client(emu: &Emulator, http1_only: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(emu.ca_cert_pem().as_bytes()).expect("CA");
    let mut builder = reqwest::Client::builder()
        .tls_certs_merge([ca])
        .resolve(HOST, emu.https_addr())
        .no_proxy();
    if http1_only {
        builder = builder.http1_only();
    }
    builder.build().expect("client")
}

#[tokio::test]
async fn one_h2_connection_carries_many_requests_within_the_advertised_stream_limit() {
    let emu = Emulator::start(EmulatorConfig::sample().with_max_concurrent_streams(7))
        .await
        .expect("emulator starts");
    let tls = tls_connect(&emu, &[b"h2", b"http/1.1"]).await.expect("TLS");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, mut connection) = h2::client::handshake(tls).await.expect("h2 handshake");

    // The first answer comes after the server's SETTINGS, so the limit is known by then.
    let (response, _) = send
        .send_request(secret_request(), true)
        .expect("first stream");
    let response = tokio::select! {
        response = response => response.expect("answer"),
        ended = &mut connection => panic!("the connection ended first: {ended:?}"),
    };
    assert_eq!(response.status(), 401);
    assert_eq!(connection.max_concurrent_send_streams(), 7);

    let mut ping_pong = connection.ping_pong().expect("ping handle");
    let driver = tokio::spawn(connection);
    ping_pong
        .ping(h2::Ping::opaque())
        .await
        .expect("the keep-alive ping is answered");

    let requests = (0..50).map(|_| {
        let send = send.clone();
        tokio::spawn(async move {
            let mut send = send.ready().await.expect("stream slot");
            let (response, _) = send.send_request(secret_request(), true).expect("stream");
            response.await.expect("answer").status()
        })
    });
    for status in futures_util::future::join_all(requests).await {
        assert_eq!(status.expect("task"), 401);
    }
    drop(send);
    driver.abort();

    let journal = emu.requests().await;
    assert_eq!(journal.len(), 51);
    assert!(journal.iter().all(|e| e.protocol == "h2"), "{journal:?}");
    assert_eq!(emu.tls_handshakes().await.get(HOST), Some(&1));
    let over_http = json_body(http().get(control_url(&emu, "connections"))).await;
    assert_eq!(over_http["tls_handshakes"][HOST], 1);
}

/// Asks for a secret without a token (the 401 challenge) and answers the HTTP version used.
async fn challenge_over(client: &reqwest::Client) -> reqwest::Version {
    let response = client
        .get(format!("https://{HOST}/secrets/DbPassword?api-version=7.5"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 401);
    response.version()
}

#[tokio::test]
async fn clients_that_offer_only_http11_get_http11() {
    let emu = Emulator::start(EmulatorConfig::sample())
        .await
        .expect("emulator starts");
    assert_eq!(
        challenge_over(&reqwest_client(&emu, true)).await,
        reqwest::Version::HTTP_11
    );
    let journal = emu.requests().await;
    assert_eq!(journal.len(), 1);
    assert_eq!(journal[0].protocol, "http/1.1");
    assert_eq!(journal[0].endpoint, Endpoint::KeyVault);
}

#[tokio::test]
async fn an_emulator_without_h2_answers_h2_clients_over_http11() {
    let emu = Emulator::start(EmulatorConfig::sample().with_http2(false))
        .await
        .expect("emulator starts");
    let client = reqwest_client(&emu, false);
    for _ in 0..3 {
        assert_eq!(challenge_over(&client).await, reqwest::Version::HTTP_11);
    }
    let journal = emu.requests().await;
    assert_eq!(journal.len(), 3);
    assert!(journal.iter().all(|e| e.protocol == "http/1.1"));
    // A client that insists on h2 finds no common protocol.
    assert!(tls_connect(&emu, &[b"h2"]).await.is_err());
}

#[test]
fn the_stream_limit_and_h2_can_be_configured_in_the_file() {
    let toml = format!(
        "{}\n[http2]\nenabled = false\nmax_concurrent_streams = 0\n",
        EmulatorConfig::sample_toml()
    );
    let error = EmulatorConfig::from_toml_str(&toml).unwrap_err();
    assert!(
        error.message().contains("http2.max_concurrent_streams"),
        "{}",
        error.message()
    );
    let toml = toml.replace("max_concurrent_streams = 0", "max_concurrent_streams = 12");
    EmulatorConfig::from_toml_str(&toml).expect("valid");
}

#[tokio::test]
async fn a_dropped_h2_connection_fails_every_stream_on_it_and_the_next_connection_works() {
    let emu = Emulator::start(EmulatorConfig::sample())
        .await
        .expect("emulator starts");
    emu.add_fault(kvref_emulator::Fault {
        endpoint: Endpoint::KeyVault,
        drop_connection: true,
        times: Some(1),
        ..Default::default()
    })
    .await;
    let tls = tls_connect(&emu, &[b"h2"]).await.expect("TLS");
    let (mut send, connection) = h2::client::handshake(tls).await.expect("h2 handshake");
    let driver = tokio::spawn(connection);
    let (response, _) = send.send_request(secret_request(), true).expect("stream");
    assert!(response.await.is_err(), "no answer on a dropped connection");
    // The connection itself is gone, not only the stream: no new stream can be opened on it.
    let ended = driver.await.expect("driver task");
    assert!(ended.is_err() || send.clone().ready().await.is_err());

    let tls = tls_connect(&emu, &[b"h2"]).await.expect("TLS again");
    let (send, connection) = h2::client::handshake(tls).await.expect("h2 handshake");
    tokio::spawn(connection);
    let mut send = send.ready().await.expect("stream slot");
    let (response, _) = send.send_request(secret_request(), true).expect("stream");
    assert_eq!(response.await.expect("answer").status(), 401);
    assert_eq!(emu.tls_handshakes().await.get(HOST), Some(&2));
    let statuses: Vec<u16> = emu.requests().await.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [0, 401]);
}
