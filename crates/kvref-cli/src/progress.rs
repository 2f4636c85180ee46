//! A progress bar on stderr while many secrets are fetched, only when stderr is a terminal (never
//! in CI logs or when the output is captured).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many references the check is quick enough not to need a bar.
const MANY: usize = 20;

/// Shown while the resolver runs; cleared when it finishes.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for about `references` references if that is many and stderr is a terminal. Its
    /// length is set from the resolver's first report (distinct secrets, not references).
    pub(crate) fn start(references: usize) -> Progress {
        if references < MANY || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} resolving Key Vault references [{bar:30}] {pos}/{len} secrets [{elapsed}]",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Moves the bar to what the resolver reports.
    pub(crate) fn update(&self, progress: kvref::resolve::Progress) {
        if let Some(bar) = &self.0 {
            bar.set_length(progress.total as u64);
            bar.set_position(progress.settled as u64);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
