//! The helpers of kvref's integration tests, shared by the `it` and `trace` binaries: a
//! credential that counts how often it is asked and listeners that count connections (here), the
//! resolver over the emulator ([`emu`]), the credential tests' emulator ([`cred_emulator`]) and
//! fake developer tools ([`cred_support`]).
// Each binary uses a different part of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use kvref::credential::{AccessToken, CredentialError, TokenCredential, TokenRequest};

/// Wraps a credential and counts the token requests that reach it.
#[derive(Debug)]
pub struct CountingCredential {
    inner: Option<Arc<dyn TokenCredential>>,
    calls: AtomicUsize,
}

impl CountingCredential {
    /// Counts calls to `inner`.
    pub fn wrap(inner: Arc<dyn TokenCredential>) -> Arc<Self> {
        Arc::new(Self {
            inner: Some(inner),
            calls: AtomicUsize::new(0),
        })
    }

    /// A credential that hands out a fixed token (for tests where no request may get one).
    pub fn fixed() -> Arc<Self> {
        Arc::new(Self {
            inner: None,
            calls: AtomicUsize::new(0),
        })
    }

    /// How many token requests were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenCredential for CountingCredential {
    fn name(&self) -> &str {
        "CountingCredential"
    }

    async fn get_token(&self, request: &TokenRequest) -> Result<AccessToken, CredentialError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.inner {
            Some(inner) => inner.get_token(request).await,
            None => Ok(AccessToken::new(
                "fixed-test-token",
                jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1),
            )),
        }
    }
}

/// A listener that never accepts: connections made to it wait in its backlog, where
/// [`SilentListener::connections`] counts them.
pub struct SilentListener {
    listener: TcpListener,
}

impl SilentListener {
    /// Binds 127.0.0.1 on a free port.
    pub fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("non-blocking");
        Self { listener }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("local addr")
    }

    /// Takes every connection waiting in the backlog and returns how many there were.
    pub fn connections(&self) -> usize {
        let mut n = 0;
        while self.listener.accept().is_ok() {
            n += 1;
        }
        n
    }
}

/// A listener that accepts and immediately closes every connection, counting them.
pub struct ClosingListener {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
}

impl ClosingListener {
    /// Binds 127.0.0.1 on a free port and accepts in a background thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stream.is_ok() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Self { addr, accepted }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub mod cred_emulator;
pub mod cred_support;
pub mod emu;
pub mod expiry;

/// This process's resident memory in KiB (0 where `/proc` has no answer), for benches and
/// binaries of their own that watch memory stay flat.
pub fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
