//! Where a resolution's CPU time goes: the time on CPU of the process's threads, read from
//! `/proc/self/task/*/schedstat` (Linux; nanoseconds), summed by side. The bench names the
//! emulator's runtime threads `emulator`; every other thread is kvref's side (the resolution
//! is driven from the bench's main thread, its fetches and connections run on the `client`
//! runtime).

use std::time::Duration;

/// CPU time so far, per side.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub(crate) kvref: Duration,
    pub(crate) emulator: Duration,
}

impl Cpu {
    /// The CPU time of every live thread of the process, by side (zero where unreadable).
    pub(crate) fn now() -> Cpu {
        let mut cpu = Cpu::default();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return cpu;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let on_cpu = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .map_or(Duration::ZERO, Duration::from_nanos);
            if name.trim() == "emulator" {
                cpu.emulator += on_cpu;
            } else {
                cpu.kvref += on_cpu;
            }
        }
        cpu
    }

    /// What was spent between `earlier` and `self`.
    pub(crate) fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            kvref: self.kvref.saturating_sub(earlier.kvref),
            emulator: self.emulator.saturating_sub(earlier.emulator),
        }
    }

    pub(crate) fn total(self) -> Duration {
        self.kvref + self.emulator
    }
}
