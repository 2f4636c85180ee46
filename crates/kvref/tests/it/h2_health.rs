//! The health of HTTP/2 connections to Key Vault: a new connection after a lost one resumes the
//! TLS session, and an idle connection whose peer stops answering PINGs is given up, so the next
//! request goes over a fresh one instead of hanging on the dead one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kvref::transport::HttpTransport;
use kvref_emulator::{Endpoint, Fault};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::h2::resolve_all;
use crate::support::emu;

const VAULT: [&str; 1] = ["vaulta"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_resumes_the_tls_session() {
    let emu = emu::start(&emu::vaults_toml(&VAULT, 3)).await;
    let transport = emu::transport(&emu);
    resolve_all(&emu, transport.clone(), &VAULT, 3).await;
    // The next resolution's first request loses the connection; the retry opens a new one.
    emu.add_fault(Fault {
        endpoint: Endpoint::KeyVault,
        drop_connection: true,
        times: Some(1),
        ..Fault::default()
    })
    .await;
    resolve_all(&emu, transport, &VAULT, 3).await;

    let host = "vaulta.vault.azure.net";
    assert_eq!(emu.tls_handshakes().await[host], 2);
    assert_eq!(
        emu.tls_resumptions().await.get(host),
        Some(&1),
        "the second connection resumed the first one's session"
    );
}

/// A TCP relay to the emulator that can stop relaying on the connections it has: their peer
/// then answers nothing, PINGs included, while the sockets stay open.
struct Relay {
    address: SocketAddr,
    /// Connections numbered below this relay nothing more.
    frozen_below: Arc<AtomicUsize>,
    /// The numbers of connections the client closed.
    closed: mpsc::UnboundedReceiver<usize>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let frozen_below = Arc::new(AtomicUsize::new(0));
        let (closed_tx, closed) = mpsc::unbounded_channel();
        let frozen = frozen_below.clone();
        tokio::spawn(async move {
            for number in 0.. {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let server = TcpStream::connect(target).await.unwrap();
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let closed = closed_tx.clone();
                let upstream = pipe(number, client_read, server_write, frozen.clone());
                tokio::spawn(async move {
                    upstream.await;
                    let _ = closed.send(number);
                });
                tokio::spawn(pipe(number, server_read, client_write, frozen.clone()));
            }
        });
        Relay {
            address,
            frozen_below,
            closed,
        }
    }

    /// Stops relaying on every connection open so far.
    fn freeze_open_connections(&self, open: usize) {
        self.frozen_below.store(open, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until `from` ends, dropping what comes once connection `number` is
/// frozen (but still reading, to see the end).
async fn pipe(
    number: usize,
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen_below: Arc<AtomicUsize>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if number >= frozen_below.load(Ordering::SeqCst)
            && to.write_all(&buffer[..read]).await.is_err()
        {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_whose_peer_stops_answering_pings_is_replaced() {
    let emu = emu::start(&emu::vaults_toml(&VAULT, 3)).await;
    let mut relay = Relay::start(emu.https_addr()).await;
    let transport = HttpTransport::builder()
        .add_root_certificate_pem(emu.ca_cert_pem())
        .route(".vault.azure.net", relay.address)
        .h2_keep_alive(Duration::from_millis(100), Duration::from_millis(100))
        .build()
        .unwrap();
    resolve_all(&emu, transport.clone(), &VAULT, 3).await;
    relay.freeze_open_connections(1);

    // The client notices the silent peer by its unanswered PING and closes the connection.
    // (The timeout only turns a client that never notices into a failure instead of a hang.)
    let closed = tokio::time::timeout(Duration::from_secs(60), relay.closed.recv()).await;
    assert_eq!(closed, Ok(Some(0)), "the dead connection was closed");

    resolve_all(&emu, transport, &VAULT, 3).await;
    assert_eq!(emu.tls_handshakes().await["vaulta.vault.azure.net"], 2);
}
