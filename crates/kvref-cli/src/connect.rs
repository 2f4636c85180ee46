//! Builds the resolver `check` and `resolve` use: local emulator mode or Azure, the credential
//! chain with the identity the flags select, and the resolver's limits.

use std::sync::Arc;

use kvref::Env;
use kvref::credential::{DefaultCredential, UserAssignedId};
use kvref::local::{Connection, LocalEmulator};
use kvref::resolve::Resolver;

use crate::CliError;
use crate::cli::ConnectionArgs;

/// The resolver for these options, in local emulator mode when `--emulator` or `KVREF_EMULATOR`
/// asks for it.
pub(crate) async fn resolver(args: &ConnectionArgs, env: &Env) -> Result<Resolver, CliError> {
    let connection = match &args.emulator {
        Some(url) => Connection::local(LocalEmulator::connect(url).await?, env)?,
        None => Connection::from_env(env).await?,
    };
    let user_assigned = user_assigned(args);
    if let Some(id) = &user_assigned {
        tracing::debug!(identity = ?id, "user-assigned identity chosen on the command line");
    }
    // In local mode this leaves out az and azd: they would fetch a real Azure token.
    let mut options = connection.credential_options();
    options.user_assigned = user_assigned;
    let credential = DefaultCredential::new(options)
        .map_err(|e| CliError(format!("cannot set up the credential: {e}")))?;
    let mut builder = Resolver::builder()
        .credential(Arc::new(credential))
        .transport(connection.transport);
    if let Some(budget) = args.timeout {
        builder = builder.budget(budget);
    }
    for suffix in &args.allow_vault_suffix {
        builder = builder.allow_vault_suffix(suffix);
    }
    builder
        .build()
        .map_err(|e| CliError(format!("cannot set up the resolver: {e}")))
}

fn user_assigned(args: &ConnectionArgs) -> Option<UserAssignedId> {
    if let Some(id) = &args.client_id {
        Some(UserAssignedId::ClientId(id.clone()))
    } else if let Some(id) = &args.object_id {
        Some(UserAssignedId::ObjectId(id.clone()))
    } else {
        args.resource_id
            .as_ref()
            .map(|id| UserAssignedId::ResourceId(id.clone()))
    }
}
