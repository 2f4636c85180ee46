//! A counting allocator for the bench binary: allocations, bytes and the peak of live bytes
//! made by the threads that count (the emulator's runtime threads opt out, so the figures are
//! kvref's own), and the process's peak resident memory from `/proc/self/status`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Counts what the counting threads allocate, then hands over to the system allocator.
pub struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // `const`: no lazy initialisation and no destructor, so the allocator may read it.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Stops counting this thread's allocations (for the emulator's threads).
pub fn do_not_count_this_thread() {
    UNCOUNTED.with(|u| u.set(true));
}

fn counts() -> bool {
    UNCOUNTED.try_with(|u| !u.get()).unwrap_or(false)
}

fn grew(by: usize) {
    let live = LIVE.fetch_add(by as i64, Ordering::Relaxed) + by as i64;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every call goes to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && counts() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        if counts() {
            LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && counts() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

/// The counters at one moment.
#[derive(Clone, Copy)]
pub struct Snapshot {
    allocations: u64,
    bytes: u64,
    live: i64,
}

/// Takes a snapshot and restarts the peak from the live bytes now.
pub fn start() -> Snapshot {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    reset_peak_rss();
    Snapshot {
        allocations: ALLOCATIONS.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
        live,
    }
}

/// What was allocated since `start`.
pub struct Usage {
    pub allocations: u64,
    pub bytes: u64,
    /// The most live bytes above those live at `start`.
    pub peak_heap: u64,
    /// The process's peak resident set since `start` (emulator included), when readable.
    pub peak_rss_kib: Option<u64>,
}

pub fn since(start: Snapshot) -> Usage {
    Usage {
        allocations: ALLOCATIONS.load(Ordering::Relaxed) - start.allocations,
        bytes: BYTES.load(Ordering::Relaxed) - start.bytes,
        peak_heap: (PEAK.load(Ordering::Relaxed) - start.live).max(0) as u64,
        peak_rss_kib: peak_rss_kib(),
    }
}

/// Resets the kernel's peak resident set (`VmHWM`) to the current one (Linux).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
