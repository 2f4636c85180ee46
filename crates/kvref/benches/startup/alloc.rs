//! Allocations and peak memory for the bench binary: stats_alloc's counting allocator (every
//! thread of the process, the in-process emulator's included) and the process's peak resident
//! set from `/proc/self/status`.

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// The allocator the bench binary installs.
pub(crate) type Counting = &'static StatsAlloc<System>;

/// The instrumented system allocator.
pub(crate) const COUNTING: Counting = &INSTRUMENTED_SYSTEM;

/// Starts counting: the allocator's region from now, and the kernel's peak resident set
/// (`VmHWM`) reset to the current one (Linux).
pub(crate) fn start(allocator: &'static Counting) -> Region<'static, System> {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    Region::new(allocator)
}

/// What was allocated since `start`.
pub(crate) struct Usage {
    pub(crate) allocations: usize,
    pub(crate) bytes: usize,
    /// The process's peak resident set since `start`, when readable.
    pub(crate) peak_rss_kib: Option<u64>,
}

pub(crate) fn since(region: &Region<'static, System>) -> Usage {
    let change = region.change();
    Usage {
        allocations: change.allocations + change.reallocations,
        bytes: change.bytes_allocated + change.bytes_reallocated.max(0) as usize,
        peak_rss_kib: peak_rss_kib(),
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
