//! The background task that posts what a run produces: span events to the intake
//! (E15) in batches on a cadence, metrics to the experiment (E11) once at least `jobs`
//! are pending, at most two posts in flight (spec §4.6, §6 item 6).

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::{mpsc, oneshot};

use super::wire::events_body;
use crate::api::{Body, JSON_TIMEOUT, SPANS, UNSTABLE};
use crate::{Client, Result};

/// Most spans in one intake request, and the byte budget of one (spec §6 item 6).
const SPAN_BATCH: usize = 1000;
const SPAN_BYTES: usize = 5 * 1024 * 1024 - 64 * 1024;
/// Span intake cadence.
const SPAN_INTERVAL: Duration = Duration::from_secs(1);

/// Messages to the writer task. Spans and metrics arrive as JSON text.
pub(crate) enum Message {
    /// Span events (comma-separated) and metric objects (comma-separated, `count`
    /// of them) of finished records.
    Record { spans: Vec<u8>, metrics: Vec<u8>, count: usize },
    /// New run tags for the E11 posts that follow.
    Tags(Vec<String>),
    /// Post everything pending; answer whether the metrics went through.
    Flush(oneshot::Sender<Result<()>>),
    /// Post these metrics (comma-separated) now; errors propagate.
    Summary(Vec<u8>, oneshot::Sender<Result<()>>),
}
/// Posts metric objects (comma-separated JSON) and, for reruns, replayed spans to an
/// experiment (E11). `tags` is a JSON list.
pub(crate) async fn post_events(
    client: &Client,
    experiment_id: &str,
    metrics: &[u8],
    tags: &str,
    spans: Option<&[u8]>,
) -> Result<()> {
    let path = format!("{UNSTABLE}/experiments/{experiment_id}/events");
    let body = events_body(metrics, tags, spans);
    let answer =
        client.send(Method::POST, &path, Some(Body::Json(body)), JSON_TIMEOUT, false).await?;
    crate::api::check(&answer, &[200, 202])
}

/// Pending spans, posted as one intake request.
#[derive(Default)]
struct SpanBuffer {
    text: Vec<u8>,
    count: usize,
}

impl SpanBuffer {
    fn full(&self) -> bool {
        self.count >= SPAN_BATCH || self.text.len() >= SPAN_BYTES
    }

    /// Posts what is pending (nothing when empty); a refused batch is logged and
    /// dropped, as the reference client's writer does.
    fn flush(&mut self, client: &Client) -> impl std::future::Future<Output = ()> + use<> {
        let body = (self.count > 0).then(|| {
            let mut body = Vec::with_capacity(self.text.len() + 2);
            body.push(b'[');
            body.append(&mut self.text);
            body.push(b']');
            body
        });
        self.text.clear();
        self.count = 0;
        let client = client.clone();
        async move {
            let Some(body) = body else { return };
            match client.send(Method::POST, SPANS, Some(Body::Json(body)), JSON_TIMEOUT, true).await
            {
                Ok(answer) if (200..300).contains(&answer.status) => {}
                Ok(answer) => tracing::warn!(status = answer.status, "span intake refused a batch"),
                Err(err) => tracing::warn!(error = %err, "span intake failed; batch dropped"),
            }
        }
    }
}

/// Metric posts, and span flushes, in flight at once (each): while the server stores one
/// batch, the next is already on its way.
const IN_FLIGHT: usize = 2;
/// Metrics the writer holds while its posts are all in flight; past this (or with a full
/// span batch and every span flush in flight) it stops taking records until a send ends,
/// so a server slower than the records holds the run back instead of letting batches
/// pile up in memory.
const MAX_PENDING: usize = 3 * SPAN_BATCH;

/// A finished send: a metrics post (with its batch, kept when it failed) or a span flush.
enum Sent {
    Metrics(Result<()>, Vec<u8>, usize),
    Spans,
}

/// The writer's state: pending metrics and spans, and the sends in flight.
struct Writer {
    client: Client,
    experiment_id: Arc<str>,
    tags: Arc<str>,
    metrics: Vec<u8>,
    pending: usize,
    spans: SpanBuffer,
    in_flight: tokio::task::JoinSet<Sent>,
    metric_posts: usize,
    span_flushes: usize,
}

impl Writer {
    fn add(&mut self, text: &[u8], metrics: &[u8], count: usize) {
        if !text.is_empty() {
            if !self.spans.text.is_empty() {
                self.spans.text.push(b',');
            }
            self.spans.text.extend_from_slice(text);
            self.spans.count += 1;
        }
        if count > 0 {
            if !self.metrics.is_empty() {
                self.metrics.push(b',');
            }
            self.metrics.extend_from_slice(metrics);
            self.pending += count;
        }
    }

    /// Whether it must wait for a send to end before taking more records.
    fn saturated(&self) -> bool {
        (self.spans.full() && self.span_flushes >= IN_FLIGHT)
            || (self.pending >= MAX_PENDING && self.metric_posts >= IN_FLIGHT)
    }

    fn send_spans(&mut self) {
        if self.spans.count > 0 && self.span_flushes < IN_FLIGHT {
            self.span_flushes += 1;
            let flush = self.spans.flush(&self.client);
            self.in_flight.spawn(async move {
                flush.await;
                Sent::Spans
            });
        }
    }

    /// Posts the pending metrics, then flushes the spans (spec §4.6), without waiting.
    fn send_metrics(&mut self) {
        let batch = std::mem::take(&mut self.metrics);
        let count = std::mem::take(&mut self.pending);
        let (client, id, tags) =
            (self.client.clone(), self.experiment_id.clone(), self.tags.clone());
        self.in_flight.spawn(async move {
            let posted = post_events(&client, &id, &batch, &tags, None).await;
            Sent::Metrics(posted, batch, count)
        });
        self.metric_posts += 1;
        self.send_spans();
    }

    /// Takes a finished send into account: a failed metrics batch is pending again.
    fn done(&mut self, sent: Sent) -> Result<()> {
        match sent {
            Sent::Spans => {
                self.span_flushes -= 1;
                Ok(())
            }
            Sent::Metrics(posted, batch, count) => {
                self.metric_posts -= 1;
                if let Err(err) = posted {
                    let mut again = batch;
                    if !self.metrics.is_empty() {
                        again.push(b',');
                        again.extend_from_slice(&self.metrics);
                    }
                    self.metrics = again;
                    self.pending += count;
                    return Err(err);
                }
                Ok(())
            }
        }
    }

    /// Waits for every send in flight; the last metrics failure, if any.
    async fn settle(&mut self) -> Result<()> {
        let mut result = Ok(());
        while let Some(sent) = self.in_flight.join_next().await {
            if let Ok(sent) = sent
                && let Err(err) = self.done(sent)
            {
                result = Err(err);
            }
        }
        result
    }

    /// Posts everything pending and waits until it is stored: whether the metrics went.
    async fn flush(&mut self) -> Result<()> {
        let _ = self.settle().await;
        if self.pending > 0 {
            self.send_metrics();
        } else {
            self.send_spans();
        }
        self.settle().await
    }
}

/// Posts metrics (E11) and spans (E15) in the background: metrics when at least `jobs`
/// are pending (a failed post keeps them for the next one), each post followed by a span
/// flush, with up to [`IN_FLIGHT`] posts under way; spans also every second and at 1000
/// events or 5 MiB.
pub(crate) async fn writer(
    client: Client,
    experiment_id: String,
    jobs: usize,
    mut rx: mpsc::Receiver<Message>,
) {
    let mut w = Writer {
        client,
        experiment_id: Arc::from(experiment_id),
        tags: Arc::from("[]"),
        metrics: Vec::new(),
        pending: 0,
        spans: SpanBuffer::default(),
        in_flight: tokio::task::JoinSet::new(),
        metric_posts: 0,
        span_flushes: 0,
    };
    loop {
        if w.pending >= jobs && w.metric_posts < IN_FLIGHT {
            w.send_metrics();
        }
        if w.spans.full() {
            w.send_spans();
        }
        while w.saturated() {
            if let Some(Ok(sent)) = w.in_flight.join_next().await
                && let Err(err) = w.done(sent)
            {
                tracing::warn!(error = %err, "metrics post failed; kept for the next one");
            }
        }
        let message = tokio::select! {
            message = rx.recv() => message,
            Some(sent) = w.in_flight.join_next(), if !w.in_flight.is_empty() => {
                if let Ok(sent) = sent
                    && let Err(err) = w.done(sent)
                {
                    tracing::warn!(error = %err, "metrics post failed; kept for the next one");
                }
                continue;
            }
            () = tokio::time::sleep(SPAN_INTERVAL), if w.spans.count > 0 => {
                w.send_spans();
                continue;
            }
        };
        let Some(message) = message else { break };
        // Everything already queued joins this round, so batches grow with the pace.
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                Message::Record { spans, metrics, count } => {
                    w.add(&spans, &metrics, count);
                    if w.spans.full() {
                        w.send_spans();
                    }
                    if !w.saturated() {
                        next = rx.try_recv().ok();
                    }
                }
                Message::Tags(tags) => {
                    w.tags = Arc::from(serde_json::to_string(&tags).unwrap_or_default())
                }
                Message::Flush(reply) => {
                    let _ = reply.send(w.flush().await);
                }
                Message::Summary(summary, reply) => {
                    let posted =
                        post_events(&w.client, &w.experiment_id, &summary, &w.tags, None).await;
                    let _ = reply.send(posted);
                }
            }
        }
    }
    let _ = w.settle().await;
}
