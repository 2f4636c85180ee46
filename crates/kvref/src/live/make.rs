//! Making a snapshot from a resolution: the policy, the user's build function and the user's
//! check, with every message redacted so that no secret value leaves as an error.

use std::fmt;

use super::LiveError;
use crate::{Resolution, Resolved};

type Build<T> = Box<dyn Fn(&Resolved) -> Result<T, String> + Send + Sync>;
pub(super) type Check<T> = std::sync::Arc<dyn Fn(&T) -> Result<(), String> + Send + Sync>;

/// The build function and the optional check that turn resolved settings into a `T`.
pub(super) struct Maker<T> {
    build: Build<T>,
    check: Option<Check<T>>,
}

impl<T> Maker<T> {
    pub(super) fn new<E: fmt::Display>(
        build: impl Fn(&Resolved) -> Result<T, E> + Send + Sync + 'static,
    ) -> Self {
        Self {
            build: Box::new(move |resolved| build(resolved).map_err(|e| e.to_string())),
            check: None,
        }
    }

    pub(super) fn check(&mut self, check: Check<T>) {
        self.check = Some(check);
    }

    /// Applies the resolver's policy, builds, and checks. The build error and the refusal are
    /// redacted: both may quote a value (serde's `invalid type: string "…"`).
    pub(super) fn make(&self, resolution: Resolution) -> Result<T, LiveError> {
        let resolved = resolution.into_result()?;
        let value = (self.build)(&resolved)
            .map_err(|e| LiveError::Build(resolved.redact(&e).into_owned()))?;
        if let Some(check) = &self.check {
            check(&value).map_err(|e| LiveError::Refused(resolved.redact(&e).into_owned()))?;
        }
        Ok(value)
    }
}
