//! The binary's one global tracing subscriber: everything at TRACE level, spans with their
//! fields, into a buffer every test reads.

use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Everything the global subscriber wrote since the binary started.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

static CAPTURED: LazyLock<Captured> = LazyLock::new(|| {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_span_events(FmtSpan::FULL)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("only this binary's capture sets the global subscriber");
    captured
});

/// Installs the global subscriber if no test has yet; call it before the scenario logs anything.
pub(crate) fn start() {
    LazyLock::force(&CAPTURED);
}

/// What every test of this binary logged so far.
pub(crate) fn text() -> String {
    CAPTURED.text()
}

impl Captured {
    /// Everything written to this capture.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
