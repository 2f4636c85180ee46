//! A progress indicator on stderr while many references resolve, only when stderr is a terminal
//! (never in CI logs or when the output is captured).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this many references the check is quick enough not to need an indicator.
const MANY: usize = 20;

/// Shown while the resolver runs; cleared when it finishes.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// Starts an indicator for `count` references if that is many and stderr is a terminal.
    pub(crate) fn start(count: usize) -> Progress {
        if count < MANY || !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_message(format!("resolving {count} references"));
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress(Some(bar))
    }

    /// Removes the indicator.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}
