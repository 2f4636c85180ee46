//! The skeleton every managed identity source shares: a source describes its token request
//! ([`Call`]) and what its answers mean ([`Protocol`]); [`get_token`] checks the scope, sends the
//! request with retries and reads the answer, the same way for every source.

use reqwest::{Method, StatusCode};

use super::{Context, ManagedIdentitySource, gave_up, resource_of, token_from, unreachable};
use crate::credential::retry::{NoResponse, Reply, RetryOptions, send_with_retry};
use crate::credential::{AccessToken, CredentialError, TokenRequest};
use crate::retry::is_transient_status;
use crate::transport::HttpTransport;

/// One token request as a source describes it, built again for every attempt.
pub(super) struct Call {
    method: Method,
    url: url::Url,
    /// Header names as the protocol spells them; values built once (secrets marked sensitive).
    headers: Vec<(&'static str, reqwest::header::HeaderValue)>,
    form: Option<Vec<(&'static str, String)>>,
}

impl Call {
    /// `GET url`.
    pub(super) fn get(url: url::Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: Vec::new(),
            form: None,
        }
    }

    /// `POST url` with the form `fields`.
    pub(super) fn post_form(url: url::Url, fields: Vec<(&'static str, String)>) -> Self {
        Self {
            method: Method::POST,
            url,
            headers: Vec::new(),
            form: Some(fields),
        }
    }

    /// The same request with one more header.
    pub(super) fn header(
        mut self,
        name: &'static str,
        value: impl Into<reqwest::header::HeaderValue>,
    ) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(super) fn build(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        let mut builder = client.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            builder = builder.header(*name, value.clone());
        }
        match &self.form {
            Some(fields) => builder.form(fields),
            None => builder,
        }
    }
}

/// What every source keeps: the endpoint the environment names, the client that reaches it
/// (the transport's identity client, or Service Fabric's pinned one) and how to retry it.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) url: url::Url,
    pub(super) client: reqwest::Client,
    pub(super) retry: RetryOptions,
}

impl Target {
    /// `url` through the transport's identity client (never through a proxy).
    pub(super) fn new(url: url::Url, transport: &HttpTransport, retry: RetryOptions) -> Self {
        Self {
            url,
            client: transport.identity_client().clone(),
            retry,
        }
    }
}

/// What makes one source different from the others.
pub(super) trait Protocol {
    /// Which source this is (in messages, and for what a refused connection means).
    const SOURCE: ManagedIdentitySource;

    /// The statuses this source's documentation calls transient (by default the ones every
    /// Azure SDK retries).
    const TRANSIENT: fn(StatusCode) -> bool = is_transient_status;

    /// Where and how the token request goes.
    fn target(&self) -> &Target;

    /// The token request for `resource` and the identity `ctx` names.
    fn call(&self, resource: &str, ctx: &Context<'_>) -> Result<Call, CredentialError>;

    /// What a final answer that holds no token means, to a request for `resource`.
    fn refusal(&self, reply: &Reply, resource: &str, ctx: &Context<'_>) -> CredentialError;

    /// What no answer at all means: by default, an endpoint the environment names that cannot
    /// be reached.
    fn no_response(&self, failure: NoResponse) -> CredentialError {
        unreachable(Self::SOURCE, &self.target().url, failure)
    }
}

/// A token from `source` for `request`: the one skeleton of every single-request source.
pub(super) async fn get_token<P: Protocol>(
    source: &P,
    request: &TokenRequest,
    ctx: &Context<'_>,
) -> Result<AccessToken, CredentialError> {
    let resource = resource_of(request)?;
    let call = source.call(resource, ctx)?;
    let target = source.target();
    fetch(
        P::SOURCE,
        &target.retry,
        P::TRANSIENT,
        || call.build(&target.client),
        |failure| source.no_response(failure),
    )
    .await?
    .map_err(|reply| source.refusal(&reply, resource, ctx))
}

/// A token, or the endpoint's final, non-transient reply for the source to explain.
pub(super) type Answer = Result<AccessToken, Reply>;

/// Sends the request `build` makes, retrying while `transient` says so, and reads the outcome
/// as every source does: a 2xx must hold a token, a reply still transient when the budget ran
/// out is [`gave_up`], and no answer at all is turned into an error by `no_response`.
pub(super) async fn fetch(
    source: ManagedIdentitySource,
    retry: &RetryOptions,
    transient: fn(StatusCode) -> bool,
    build: impl Fn() -> reqwest::RequestBuilder,
    no_response: impl FnOnce(NoResponse) -> CredentialError,
) -> Result<Answer, CredentialError> {
    let reply = send_with_retry(retry, transient, source.refused_means(), build)
        .await
        .map_err(no_response)?;
    if reply.status.is_success() {
        return token_from(source, &reply).map(Ok);
    }
    if transient(reply.status) {
        return Err(gave_up(source, &reply));
    }
    Ok(Err(reply))
}
