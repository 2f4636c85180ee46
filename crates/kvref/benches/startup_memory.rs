//! Allocations and peak memory of one cold start-up resolution of 10,000 references over 4
//! vaults over HTTP/2 against the emulator (25 ms injected per Key Vault request, Key Vault's
//! request limit), the whole process counted: kvref and the emulator serving it.
//!
//! A bench of its own because the counting allocator is a set of atomics every thread updates
//! on every allocation, which would slow the timed cases of `startup`.
//!
//! Run with `cargo bench -p kvref --bench startup_memory`.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "startup/alloc.rs"]
mod alloc;
// Shared with `startup`, which uses all of it.
#[allow(dead_code)]
#[path = "startup/cases.rs"]
mod cases;

use cases::Case;

#[global_allocator]
static ALLOCATOR: alloc::Counting = alloc::COUNTING;

fn main() {
    let (emulator_runtime, runtime) = cases::runtimes();
    let case = Case {
        references: 10_000,
        vaults: 4,
        h2: true,
    };
    let emu = cases::start_emulator(&emulator_runtime, case.vaults, case.per_vault());
    let region = alloc::start(&ALLOCATOR);
    runtime.block_on(cases::resolve_once(&emu, case, &mut || {}));
    let usage = alloc::since(&region);
    drop(emu);
    println!("## kvref: startup_memory\n");
    println!(
        "10,000 references over 4 vaults (HTTP/2), one cold resolution, the whole process (the \
         emulator serving them included): {} allocations ({} per reference), {:.1} MiB \
         allocated; peak resident set {}.",
        usage.allocations,
        usage.allocations / case.references,
        usage.bytes as f64 / (1024.0 * 1024.0),
        usage.peak_rss_kib.map_or("unknown".to_owned(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        ))
    );
}
