//! What kvref's axum and actix-web examples share, none of it tied to a web framework: the
//! Event Grid webhook ([`events`]), the `/health` body ([`health`]), the ready line
//! ([`Ready`]), the shutdown signals and the program's frame ([`main`]). Each example keeps
//! what is its framework's: the settings loader (config or figment), the routes, the state and
//! the server. Copying an example into a project means copying this crate's few files too.

pub mod events;
pub mod health;
mod program;
mod ready;
pub mod settings;

pub use program::{Error, log_snapshots, main, shutdown_signal, stopped};
pub use ready::{Ready, ReadyEvents, print_ready};
