//! Builds the resolver `check` and `resolve` use: the library's connection (local emulator mode
//! or Azure) with the identity the flags select, and the resolver's limits.

use kvref::credential::UserAssignedId;
use kvref::{Env, Resolver};

use crate::CliError;
use crate::cli::ConnectionArgs;

/// The resolver for these options, in local emulator mode when `--emulator` or `KVREF_EMULATOR`
/// asks for it.
pub(crate) async fn resolver(args: &ConnectionArgs, env: &Env) -> Result<Resolver, CliError> {
    let mut builder = Resolver::builder();
    if let Some(url) = &args.emulator {
        builder = builder.emulator(url);
    }
    if let Some(id) = user_assigned(args) {
        tracing::debug!(identity = ?id, "user-assigned identity chosen on the command line");
        builder = builder.user_assigned(id);
    }
    if let Some(budget) = args.timeout {
        builder = builder.budget(budget);
    }
    for suffix in &args.allow_vault_suffix {
        builder = builder.allow_vault_suffix(suffix);
    }
    Ok(builder.connect(env).await?)
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
