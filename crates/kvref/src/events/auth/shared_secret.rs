//! A shared secret in a static header (an Event Grid delivery property) or a query parameter of
//! the endpoint URL. Only SHA-256 digests of the accepted values are kept, and the presented
//! value is compared digest to digest in constant time, so neither its content nor its length
//! leaks through timing, and no secret is held to be logged.

use std::fmt;

use http::{HeaderName, Request};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Verdict;

/// Where the secret travels.
#[derive(Clone, Debug)]
enum Location {
    Header(HeaderName),
    Query(String),
}

/// A shared secret a delivery must carry. Two values may be accepted at once, the old and the
/// new, while the subscription is switched from one to the other. Its `Debug` shows where the
/// secret travels and how many values are accepted, never a value.
#[derive(Clone)]
pub struct SharedSecret {
    location: Location,
    digests: Vec<[u8; 32]>,
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSecret")
            .field("location", &self.location)
            .field("values", &self.digests.len())
            .finish()
    }
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl SharedSecret {
    /// The secret in header `name` (set on the subscription as a delivery property, marked
    /// secret); `values` are the accepted values (one, or two during a rotation). Empty values
    /// are never accepted.
    pub fn header(
        name: HeaderName,
        values: impl IntoIterator<Item = SecretString>,
    ) -> SharedSecret {
        Self::new(Location::Header(name), values)
    }

    /// The secret in query parameter `name` of the endpoint URL (Event Grid keeps query
    /// parameters encrypted); `values` are the accepted values.
    pub fn query(
        name: impl Into<String>,
        values: impl IntoIterator<Item = SecretString>,
    ) -> SharedSecret {
        Self::new(Location::Query(name.into()), values)
    }

    fn new(location: Location, values: impl IntoIterator<Item = SecretString>) -> SharedSecret {
        let digests = values
            .into_iter()
            .filter(|v| !v.expose_secret().is_empty())
            .map(|v| digest(v.expose_secret().as_bytes()))
            .collect();
        SharedSecret { location, digests }
    }

    /// Whether any value is accepted at all (a secret built from empty values accepts none).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    pub(super) fn check<B>(&self, request: &Request<B>) -> Verdict {
        let presented: Option<Vec<u8>> = match &self.location {
            Location::Header(name) => request.headers().get(name).map(|v| v.as_bytes().to_vec()),
            Location::Query(name) => request.uri().query().and_then(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.into_owned().into_bytes())
            }),
        };
        let Some(presented) = presented.filter(|p| !p.is_empty()) else {
            return Verdict::Rejected(format!("no shared secret in the {}", self.place()));
        };
        let presented = digest(&presented);
        // Every accepted value is compared, so the time taken does not say which one matched.
        let matched = self
            .digests
            .iter()
            .fold(subtle::Choice::from(0), |any, d| any | d.ct_eq(&presented));
        if bool::from(matched) {
            Verdict::Accepted
        } else {
            Verdict::Rejected(format!("wrong shared secret in the {}", self.place()))
        }
    }

    fn place(&self) -> String {
        match &self.location {
            Location::Header(name) => format!("header {name}"),
            Location::Query(name) => format!("query parameter {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, header: Option<&str>) -> Request<()> {
        let mut builder = Request::post(uri);
        if let Some(value) = header {
            builder = builder.header("x-kvref-secret", value);
        }
        builder.body(()).unwrap_or_default()
    }

    fn values(values: &[&str]) -> Vec<SecretString> {
        values.iter().map(|v| SecretString::from(*v)).collect()
    }

    #[test]
    fn either_value_of_a_rotation_is_accepted_in_a_header() {
        let name = HeaderName::from_static("x-kvref-secret");
        let secret = SharedSecret::header(name, values(&["old", "new"]));
        for ok in ["old", "new"] {
            assert!(matches!(
                secret.check(&request("/", Some(ok))),
                Verdict::Accepted
            ));
        }
        for bad in [Some("older"), Some(""), Some("ol"), None] {
            assert!(matches!(
                secret.check(&request("/", bad)),
                Verdict::Rejected(_)
            ));
        }
    }

    #[test]
    fn a_query_secret_is_url_decoded_and_an_empty_one_never_matches() {
        let secret = SharedSecret::query("code", values(&["a b&c", ""]));
        let ok = request("/events?x=1&code=a%20b%26c", None);
        assert!(matches!(secret.check(&ok), Verdict::Accepted));
        for bad in [
            "/events?code=",
            "/events",
            "/events?code=a+b",
            "/events?Code=a%20b%26c",
        ] {
            assert!(
                matches!(secret.check(&request(bad, None)), Verdict::Rejected(_)),
                "{bad}"
            );
        }
        assert!(SharedSecret::query("code", values(&[""])).is_empty());
    }

    #[test]
    fn debug_shows_no_value() {
        let secret = SharedSecret::query("code", values(&["hunter2-secret"]));
        let debug = format!("{secret:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("code"), "{debug}");
    }
}
