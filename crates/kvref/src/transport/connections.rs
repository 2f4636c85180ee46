//! How many connections kvref opens to one vault, and over which: what each vault host answered
//! with (HTTP/2 or HTTP/1.1, learnt from its first answer), and the extra HTTP/2 clients.
//!
//! Over HTTP/2 one connection carries as many requests at once as the server allows
//! (`SETTINGS_MAX_CONCURRENT_STREAMS`); beyond that, requests wait for a stream. When a batch for
//! one vault needs more streams than one connection has, a few more connections (lanes) are
//! opened, so the batch still goes out in about one round trip. reqwest keeps one HTTP/2
//! connection per host and client, so each extra lane is a client of its own with the same
//! settings. The extra lanes speak HTTP/2 without asking (prior knowledge): they are used only for
//! hosts whose first answer came over HTTP/2, and that way the requests of a burst on a new lane
//! wait for its one connection instead of each racing to open one.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tokio::sync::watch;

/// The protocol a host's answers came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.1 (or 1.0): one request in flight per connection.
    Http1,
    /// HTTP/2: many streams on one connection.
    Http2,
}

impl Protocol {
    fn of(version: http::Version) -> Self {
        if version == http::Version::HTTP_2 {
            Protocol::Http2
        } else {
            Protocol::Http1
        }
    }
}

/// What is known about the connections to each vault host, and the extra HTTP/2 lanes.
#[derive(Debug)]
pub(crate) struct Connections {
    protocols: Mutex<HashMap<String, Protocol>>,
    /// Bumped whenever a host's protocol is learnt, for callers waiting to widen a batch.
    learnt: watch::Sender<u64>,
    /// Lanes 1.. (lane 0 is the transport's own client); built on first use.
    extra_lanes: Vec<OnceLock<Option<reqwest::Client>>>,
}

impl Connections {
    /// Room for `lanes` lanes per host (at least 1).
    pub(crate) fn new(lanes: usize) -> Self {
        Self {
            protocols: Mutex::new(HashMap::new()),
            learnt: watch::Sender::new(0),
            extra_lanes: (1..lanes.max(1)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Lanes per host, counting the transport's own client.
    pub(crate) fn lanes(&self) -> usize {
        self.extra_lanes.len() + 1
    }

    /// Extra lane `lane` (1..), built by `build` on first use; `None` when it cannot be built,
    /// and the caller then stays on lane 0.
    pub(crate) fn extra_lane(
        &self,
        lane: usize,
        build: impl FnOnce() -> Option<reqwest::Client>,
    ) -> Option<&reqwest::Client> {
        self.extra_lanes
            .get(lane.checked_sub(1)?)?
            .get_or_init(build)
            .as_ref()
    }

    /// Records the protocol `host` answered over.
    pub(crate) fn note(&self, host: &str, version: http::Version) {
        let protocol = Protocol::of(version);
        let mut protocols = self
            .protocols
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if protocols.get(host) != Some(&protocol) {
            protocols.insert(host.to_owned(), protocol);
            drop(protocols);
            self.learnt.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// The protocol `host` last answered over, if it answered yet.
    pub(crate) fn protocol(&self, host: &str) -> Option<Protocol> {
        self.protocols
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(host)
            .copied()
    }

    /// Changes whenever a host's protocol is learnt.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.learnt.subscribe()
    }
}
