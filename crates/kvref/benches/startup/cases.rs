//! What the start-up benches share: the cases (references over vaults, HTTP/2 or HTTP/1.1), an
//! emulator holding their secrets with 25 ms injected on every Key Vault request and Key Vault's
//! request limit, one cold resolution, and the round trips the floors are made of.

use std::time::{Duration, Instant};

use kvref::credential::{TokenCredential, TokenRequest};
use kvref::reference::Reference;
use kvref::transport::HttpTransport;
use kvref::transport::pacing::KEY_VAULT_REQUEST_LIMIT;
use kvref::vault::SecretClient;
use kvref_emulator::{Emulator, Endpoint, Fault};

use crate::support::emu;

pub(crate) const VAULTS: [&str; 4] = ["bencha", "benchb", "benchc", "benchd"];
pub(crate) const LATENCY: Duration = Duration::from_millis(25);

/// The emulator's runtime and kvref's, 2 workers each; the emulator's threads are named
/// `emulator` (see `cpu`), kvref's `client`.
pub(crate) fn runtimes() -> (tokio::runtime::Runtime, tokio::runtime::Runtime) {
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("runtime")
    };
    (runtime("emulator"), runtime("client"))
}

/// `references` distinct secrets spread over `vaults` vaults, fetched over HTTP/2 or HTTP/1.1.
#[derive(Clone, Copy)]
pub(crate) struct Case {
    pub(crate) references: usize,
    pub(crate) vaults: usize,
    pub(crate) h2: bool,
}

impl Case {
    pub(crate) fn per_vault(&self) -> usize {
        self.references.div_ceil(self.vaults)
    }

    pub(crate) fn protocol(&self) -> &'static str {
        if self.h2 { "h2" } else { "http/1.1" }
    }

    /// `1000x4-h2`: how the case is named on the command line.
    pub(crate) fn name(&self) -> String {
        format!("{}x{}-{}", self.references, self.vaults, self.protocol())
    }

    /// One reference per secret `s{i}`, spread over the vaults in turn.
    pub(crate) fn settings(&self) -> Vec<(String, String)> {
        (0..self.references)
            .map(|i| {
                let vault = VAULTS[i % self.vaults];
                let secret = i / self.vaults;
                (
                    format!("{vault}_{secret}"),
                    format!(
                        "@Microsoft.KeyVault(SecretUri=https://{vault}.vault.azure.net/secrets/s{secret})"
                    ),
                )
            })
            .collect()
    }
}

/// An emulator of `vaults` vaults of `per_vault` secrets, Key Vault's request limit, 25 ms per
/// Key Vault request; on a runtime of its own.
pub(crate) fn start_emulator(
    runtime: &tokio::runtime::Runtime,
    vaults: usize,
    per_vault: usize,
) -> Emulator {
    let limit = KEY_VAULT_REQUEST_LIMIT;
    let toml = emu::vaults_toml(&VAULTS[..vaults], per_vault).replace(
        "requests = 100000\nwindow_secs = 10",
        &format!(
            "requests = {}\nwindow_secs = {}",
            limit.requests,
            limit.window.as_secs()
        ),
    );
    runtime.block_on(async {
        let emu = emu::start(&toml).await;
        emu.add_fault(Fault {
            endpoint: Endpoint::KeyVault,
            delay_ms: LATENCY.as_millis() as u64,
            times: None,
            ..Fault::default()
        })
        .await;
        emu
    })
}

fn transport(emu: &Emulator, h2: bool) -> HttpTransport {
    let transport = emu::transport(emu);
    if h2 {
        transport
    } else {
        transport
            .settings()
            .clone()
            .http1_only()
            .build()
            .expect("transport")
    }
}

/// One cold resolution: a fresh transport and resolver (new connections, new challenges, a new
/// token). `around` is called just before and just after, for what else is measured.
pub(crate) async fn resolve_once(
    emu: &Emulator,
    case: Case,
    around: &mut impl FnMut(),
) -> Duration {
    let resolver = emu::resolver(emu, emu::credential(emu))
        .transport(transport(emu, case.h2))
        .budget(Duration::from_secs(120))
        .build()
        .expect("resolver");
    let settings = case.settings();
    around();
    let started = Instant::now();
    let resolution = resolver.resolve(settings).await;
    let elapsed = started.elapsed();
    around();
    assert!(
        resolution.is_success(),
        "{:?}",
        resolution.failures().next()
    );
    elapsed
}

/// The round trips a resolution is made of, medians of 21.
pub(crate) struct RoundTrips {
    /// A token from the identity endpoint, on a new connection (no delay injected there).
    pub(crate) token: Duration,
    /// A warm GET of a secret: the 25 ms plus the emulator's own time.
    pub(crate) vault: Duration,
}

pub(crate) async fn round_trips(emu: &Emulator) -> RoundTrips {
    let request = TokenRequest::new("https://vault.azure.net/.default");
    let mut tokens = Vec::new();
    for _ in 0..21 {
        // A fresh credential each time: nothing cached, as at start-up.
        let credential = emu::credential(emu);
        let started = Instant::now();
        credential.get_token(&request).await.expect("token");
        tokens.push(started.elapsed());
    }
    let client = SecretClient::builder(emu::credential(emu))
        .transport(emu::transport(emu))
        .build()
        .expect("client");
    let reference = Reference::parse("@KeyVault(VaultName=bencha;SecretName=s0)")
        .expect("valid")
        .expect("a reference");
    client.get_secret(&reference).await.expect("secret");
    let mut trips = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        client.get_secret(&reference).await.expect("secret");
        trips.push(started.elapsed());
    }
    RoundTrips {
        token: median(tokens),
        vault: median(trips),
    }
}

pub(crate) fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
