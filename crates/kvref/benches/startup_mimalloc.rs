//! The `startup` bench's cases with mimalloc as the process's global allocator instead of the
//! system's: by default the goal cases (10 to 10,000 references over four vaults over
//! HTTP/2), or the cases named as for `startup`.
//!
//! A bench of its own because the allocator is chosen when the binary is built. Under glibc
//! malloc, the several blocks of 1 to 4 KiB that reqwest, hyper-util and tokio allocate for
//! each request (boxed futures, task cells) go past its per-thread cache to the locked arenas;
//! a service that sets a faster allocator (mimalloc, jemalloc) gets start-up figures like
//! these.
//!
//! Run with `cargo bench -p kvref --bench startup_mimalloc [-- 1000x4-h2 ...]`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Its own `main` is the `startup` bench's.
#[allow(dead_code)]
#[path = "startup.rs"]
mod startup;
// Where the shared modules name each other (`crate::cases`, `crate::support`).
use startup::{cases, support};

fn main() {
    startup::run(startup::Allocator::Mimalloc);
}
