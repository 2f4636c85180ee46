//! Re-reading the sources on each cycle (off by default, [`LiveBuilder::reread_sources`]): the
//! settings producer of [`Live::prepared`] is called again, and when what it read differs (its
//! references, or the [`fingerprint`](Prepared::fingerprint) of everything else) the refresher
//! resolves the new settings in full and swaps in a snapshot built from them.
//!
//! [`LiveBuilder::reread_sources`]: super::LiveBuilder::reread_sources
//! [`Live::prepared`]: super::Live::prepared

use std::sync::Arc;

use super::LiveError;
use super::builder::Prepared;
use super::status::{Change, versions};
use crate::Resolution;

/// The settings producer, callable on every cycle.
pub(super) type Prepare<T> = Arc<dyn Fn() -> Result<Prepared<T>, LiveError> + Send + Sync>;

/// What the last read of the sources gave, to tell a changed read from the same one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Read {
    pub(super) settings: Vec<(String, String)>,
    pub(super) fingerprint: Option<u64>,
}

/// The settings whose secret version differs between two resolutions of different settings,
/// matched by key: settings that are new count as changed from no version.
pub(super) fn changes_by_key(before: &Resolution, after: &Resolution) -> Vec<Change> {
    let old = versions(before);
    versions(after)
        .into_iter()
        .filter_map(|new| {
            let from = old
                .iter()
                .find(|o| o.key == new.key && o.secret == new.secret)
                .and_then(|o| o.version.clone());
            let changed = from != new.version || !old.iter().any(|o| o.key == new.key);
            changed.then_some(Change {
                key: new.key,
                secret: new.secret,
                from,
                to: new.version,
            })
        })
        .collect()
}
