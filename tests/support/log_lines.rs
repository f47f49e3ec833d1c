//! A `tracing` subscriber that keeps every line logged, for tests of what memo logs. It is
//! the process's global subscriber (so that no other subscriber decides which log sites are
//! enabled); tests pick their own lines by cache or namespace.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::sync::{Arc, LazyLock, Mutex};

use tracing_subscriber::layer::{Context, SubscriberExt};

/// A line: the event's level, message and fields, and the name and `cache` field of the span
/// it was logged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub level: tracing::Level,
    pub text: String,
    pub span: String,
}

#[derive(Default, Clone)]
pub struct Lines(Arc<Mutex<Vec<Line>>>);

static LINES: LazyLock<Lines> = LazyLock::new(|| {
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(lines.clone());
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this process");
    lines
});

/// The lines logged in this process from now on: installs the capture as the global
/// subscriber on first use.
pub fn installed() -> &'static Lines {
    &LINES
}

static WARNINGS: LazyLock<Lines> = LazyLock::new(|| {
    use tracing_subscriber::Layer as _;
    let lines = Lines::default();
    let subscriber =
        tracing_subscriber::registry().with(lines.clone().with_filter(tracing::level_filters::LevelFilter::WARN));
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this process");
    lines
});

/// Like [`installed`], but keeps only warnings and errors, for a process under load that
/// must not hold every debug line. A process uses one of the two.
pub fn warnings() -> &'static Lines {
    &WARNINGS
}

/// The text of an event or span: its fields, `name=value` separated by spaces.
#[derive(Default)]
struct Text(String);

impl tracing::field::Visit for Text {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Lines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &tracing::span::Attributes<'_>, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let mut text = Text::default();
        attrs.record(&mut text);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(format!("{} {}", attrs.metadata().name(), text.0.trim()));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut text = Text::default();
        event.record(&mut text);
        let span = ctx.event_span(event).and_then(|s| s.extensions().get::<String>().cloned()).unwrap_or_default();
        self.0.lock().unwrap().push(Line { level: *event.metadata().level(), text: text.0, span });
    }
}

impl Lines {
    /// The lines whose fields or span mention `needle`.
    pub fn matching(&self, needle: &str) -> Vec<Line> {
        self.0.lock().unwrap().iter().filter(|l| l.text.contains(needle) || l.span.contains(needle)).cloned().collect()
    }
}
