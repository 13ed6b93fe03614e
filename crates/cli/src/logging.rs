//! Logging to stderr without a system call per line.
//!
//! Request logs are one line per request; written straight to stderr they cost a `write`
//! each. Here lines are appended to one shared buffer, which a background thread writes
//! out every [`FLUSH_EVERY`] (and which is written at once when it fills up), so a busy
//! server makes a few writes a second. [`flush`] writes what is pending; the commands call
//! it before exiting. Away from a terminal, lines are formatted by [`Plain`]: the text of
//! the subscriber's default format, at a fraction of its cost.

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Stderr, Write};
use std::sync::Mutex;
use std::time::Duration;

use tracing::Level;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

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
/// a terminal. Elsewhere lines are written by [`Plain`], which gives the same text as the
/// subscriber's default format at a fraction of its cost.
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(|| Buffered);
    if io::stderr().is_terminal() {
        builder.with_ansi(true).with_timer(Rfc3339Micros).init();
    } else {
        builder.with_ansi(false).event_format(Plain).fmt_fields(PlainFields).init();
    }
}

/// The subscriber's default line, without colour: timestamp, level, the spans the event
/// is in, target, then the fields (the message first, as given; others as `name=value`).
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        Rfc3339Micros.format_time(&mut writer)?;
        writer.write_str(match *meta.level() {
            Level::ERROR => " ERROR ",
            Level::WARN => "  WARN ",
            Level::INFO => "  INFO ",
            Level::DEBUG => " DEBUG ",
            Level::TRACE => " TRACE ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// Fields as the default format writes them without colour, with plain text and
/// booleans written directly instead of through `Debug`.
struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PlainVisitor { writer, empty: true, result: Ok(()) };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'w> {
    writer: Writer<'w>,
    empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Starts a field: a space after the first, then `name=` unless it is the message.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() {
            return false;
        }
        if !std::mem::take(&mut self.empty) {
            self.result = self.writer.write_char(' ');
        }
        let name = field.name();
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self.result.and_then(|()| {
                self.writer.write_str(name)?;
                self.writer.write_char('=')
            });
        }
        self.result.is_ok()
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.start(field) {
            return;
        }
        let plain = |c: char| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ';
        self.result = if field.name() == "message" {
            self.writer.write_str(value)
        } else if value.chars().all(plain) {
            self.writer
                .write_char('"')
                .and_then(|()| self.writer.write_str(value))
                .and_then(|()| self.writer.write_char('"'))
        } else {
            write!(self.writer, "{value:?}")
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) {
            self.result = write!(self.writer, "{value}");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) {
            self.result = write!(self.writer, "{value}");
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) {
            self.result = write!(self.writer, "{value:?}");
        }
    }
}

/// Timestamps as RFC 3339 UTC with microseconds, like `2026-11-21T05:35:30.599699Z`.
/// The subscriber's default timer costs a large share of a request's time; this one is
/// a few dozen nanoseconds.
struct Rfc3339Micros;

impl FormatTime for Rfc3339Micros {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write!(w, "{}", humantime::format_rfc3339_micros(std::time::SystemTime::now()))
    }
}

/// Writes every line logged so far to stderr.
pub fn flush() {
    if let Some(out) = BUFFER.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let _ = out.flush();
    }
}
