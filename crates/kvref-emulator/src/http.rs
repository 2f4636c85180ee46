//! The small request and response vocabulary the emulated services share.

use axum::body::{Body, Bytes};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use serde::Serialize;

/// A request, fully read, as every handler sees it.
pub(crate) struct Req {
    pub(crate) method: Method,
    /// The `Host` header (or the URI authority), as sent.
    pub(crate) host: String,
    pub(crate) path: String,
    /// The raw query string, empty when absent.
    pub(crate) query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Req {
    /// The host without a port, lower-cased.
    pub(crate) fn host_name(&self) -> String {
        let host = self.host.trim();
        let name = if host.starts_with('[') {
            host.split(']')
                .next()
                .unwrap_or(host)
                .trim_start_matches('[')
        } else {
            host.rsplit_once(':').map_or(host, |(name, _)| name)
        };
        name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// Decoded query parameters, in order.
    pub(crate) fn params(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The first query parameter named `name` (exact spelling).
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Decoded form fields of an `application/x-www-form-urlencoded` body.
    pub(crate) fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// A header's value as text, when present and readable.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A JSON response with the given content type.
pub(crate) fn json_with(
    status: StatusCode,
    content_type: &'static str,
    body: &impl Serialize,
) -> Response<Body> {
    // A `Value` or a struct of text and numbers: neither can fail to serialize.
    let mut response = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON response, `application/json; charset=utf-8` (what Azure's services send).
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    json_with(status, "application/json; charset=utf-8", body)
}

/// An empty response.
pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Adds a header, skipping values that are not valid header text.
pub(crate) fn set_header(response: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, value);
    }
}

/// A fresh correlation / request id.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
