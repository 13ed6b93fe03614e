//! `llmobs spans search QUERY` and `llmobs traces show ID`, over the span search API.

use clap::Subcommand;
use llmobs::wire::{SearchSpansRequest, SpanData};

use crate::output::Table;
use crate::{Ctx, block_on, usage};

/// Span commands.
#[derive(Debug, Subcommand)]
pub enum SpansCommand {
    /// Search spans with Datadog's query syntax, such as '@ml_app:chat -@status:error'.
    Search {
        /// The query (empty: every span in the time range).
        #[arg(default_value = "")]
        query: String,
        /// Start of the time range: now-15m, now-7d, RFC 3339 or epoch milliseconds.
        #[arg(long, default_value = "now-15m")]
        from: String,
        /// End of the time range.
        #[arg(long, default_value = "now")]
        to: String,
        /// timestamp, -timestamp, duration or -duration.
        #[arg(long, default_value = "-timestamp")]
        sort: String,
        /// At most this many spans (pages are followed).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// Trace commands.
#[derive(Debug, Subcommand)]
pub enum TracesCommand {
    /// Show a trace's spans as a tree.
    Show {
        /// The trace id.
        trace_id: String,
        /// Start of the time range to look in.
        #[arg(long, default_value = "now-30d")]
        from: String,
    },
}

/// Every span of a search, up to `limit`, following pages.
async fn search(
    ctx: &Ctx,
    query: &str,
    from: &str,
    to: &str,
    sort: &str,
    limit: usize,
) -> anyhow::Result<Vec<SpanData>> {
    let mut spans = Vec::new();
    let mut cursor = None;
    loop {
        let mut request = SearchSpansRequest::default();
        request.data.kind = Some("spans".into());
        let a = &mut request.data.attributes;
        a.filter.query = Some(query.to_owned()).filter(|q| !q.is_empty());
        a.filter.from = Some(from.to_owned());
        a.filter.to = Some(to.to_owned());
        a.sort = Some(sort.to_owned());
        a.page.limit = Some(i64::try_from((limit - spans.len()).min(1000)).unwrap_or(1000));
        a.page.cursor = cursor.take();
        let page = ctx.client.search_spans(&request).await?;
        spans.extend(page.data);
        match page.meta.page.after {
            Some(after) if spans.len() < limit => cursor = Some(after),
            _ => return Ok(spans),
        }
    }
}

fn ms(ns: f64) -> String {
    format!("{:.1}ms", ns / 1e6)
}

/// Runs a span command.
pub fn run_spans(command: SpansCommand, ctx: Ctx) -> anyhow::Result<()> {
    let SpansCommand::Search { query, from, to, sort, limit } = command;
    if limit == 0 {
        return Err(usage("--limit must be at least 1"));
    }
    block_on(async move {
        let spans = search(&ctx, &query, &from, &to, &sort, limit).await?;
        ctx.out.list(&spans, || {
            let mut table =
                Table::new(["SPAN", "TRACE", "KIND", "NAME", "APP", "STATUS", "DURATION", "INPUT"]);
            for s in &spans {
                let a = &s.attributes;
                let input = a
                    .input
                    .as_ref()
                    .and_then(|i| {
                        i.value.clone().or_else(|| {
                            i.messages
                                .as_ref()
                                .map(|m| serde_json::Value::from(m.clone()).to_string())
                        })
                    })
                    .unwrap_or_default();
                table.row([
                    a.span_id.clone(),
                    a.trace_id.clone(),
                    a.span_kind.clone(),
                    a.name.clone(),
                    a.ml_app.clone(),
                    a.status.clone(),
                    ms(a.duration),
                    input,
                ]);
            }
            table
        })
    })
}

/// Runs a trace command.
pub fn run_traces(command: TracesCommand, ctx: Ctx) -> anyhow::Result<()> {
    let TracesCommand::Show { trace_id, from } = command;
    if trace_id.trim().is_empty() || trace_id.contains(char::is_whitespace) {
        return Err(usage(format!("'{trace_id}' is not a trace id")));
    }
    block_on(async move {
        let query = format!("@trace_id:{trace_id}");
        let mut spans = search(&ctx, &query, &from, "now", "timestamp", 10_000).await?;
        if spans.is_empty() {
            anyhow::bail!("no spans of trace '{trace_id}' since {from}: try an earlier --from");
        }
        spans.sort_by_key(|s| s.attributes.start_ns);
        ctx.out.list(&spans, || {
            let mut table = Table::new(["SPAN", "KIND", "NAME", "STATUS", "DURATION"]);
            let ids: std::collections::HashSet<&str> =
                spans.iter().map(|s| s.attributes.span_id.as_str()).collect();
            let mut rows = Vec::new();
            let roots: Vec<&SpanData> = spans
                .iter()
                .filter(|s| s.attributes.parent_id.as_deref().is_none_or(|p| !ids.contains(p)))
                .collect();
            fn walk<'a>(
                span: &'a SpanData,
                depth: usize,
                all: &'a [SpanData],
                rows: &mut Vec<(usize, &'a SpanData)>,
            ) {
                rows.push((depth, span));
                for child in all.iter().filter(|c| {
                    c.attributes.parent_id.as_deref() == Some(span.attributes.span_id.as_str())
                }) {
                    walk(child, depth + 1, all, rows);
                }
            }
            for root in roots {
                walk(root, 0, &spans, &mut rows);
            }
            for (depth, s) in rows {
                let a = &s.attributes;
                table.row([
                    a.span_id.clone(),
                    a.span_kind.clone(),
                    format!("{}{}", "  ".repeat(depth), a.name),
                    a.status.clone(),
                    ms(a.duration),
                ]);
            }
            table
        })
    })
}
