//! Logging to stderr without a system call per line.
//!
//! Request logs are one line per request; written straight to stderr they cost a `write`
//! each. Here lines are appended to one shared buffer, which a background thread writes
//! out every [`FLUSH_EVERY`] (and which is written at once when it fills up), so a busy
//! server makes a few writes a second. [`flush`] writes what is pending; the commands call
//! it before exiting.

use std::io::{self, BufWriter, IsTerminal, Stderr, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How long a log line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

static BUFFER: Mutex<Option<BufWriter<Stderr>>> = Mutex::new(None);

/// The subscriber's writer: appends each formatted event to [`BUFFER`].
struct Buffered;

impl Write for Buffered {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut guard = BUFFER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_mut() {
            Some(out) => out.write(buf),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber: level from `RUST_LOG` (default `info`), colour only on
/// a terminal.
pub fn init() {
    *BUFFER.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(BufWriter::with_capacity(64 * 1024, io::stderr()));
    std::thread::Builder::new()
        .name("llmobs-log-flush".into())
        .spawn(|| {
            loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            }
        })
        .expect("cannot start the log flushing thread");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(|| Buffered)
        .with_ansi(io::stderr().is_terminal())
        .with_timer(Rfc3339Micros)
        .init();
}

/// Timestamps as RFC 3339 UTC with microseconds, like `2026-11-21T05:35:30.599699Z`.
/// The subscriber's default timer costs a large share of a request's time; this one is
/// a few dozen nanoseconds.
struct Rfc3339Micros;

impl tracing_subscriber::fmt::time::FormatTime for Rfc3339Micros {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", humantime::format_rfc3339_micros(std::time::SystemTime::now()))
    }
}

/// Writes every line logged so far to stderr.
pub fn flush() {
    if let Some(out) = BUFFER.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let _ = out.flush();
    }
}
