//! The SDK's integration tests, built into one binary.
//!
//! - `cache`: the cache tiers against a scripted HTTP stub (spec §7.7).
//! - `stub`: parsing, status mapping and transport against the stub (spec §7.8).
//! - `server`: every registry call against the real server, async and blocking.
//! - `props`: property tests of the on-disk layout.
//! - `datasets`: create, push, pull, versions, CSV import and exports against the server.
//! - `experiments`: the runner against the server (flow, failures, retries, timeouts,
//!   cancellation, runs, blocking facade) and SDK retries against a stub.
//! - `rerun`: `pull_experiment`, list filters, `rerun_evaluators`, summary evaluators
//!   with state, and Ctrl-C against a child process.
//! - `judge`: `LLMJudge` against a mock OpenAI-compatible endpoint, in an experiment,
//!   and published to the server then run remotely.
//! - `rust_api`: the API as Rust code uses it: options, versions, labels, `Display`,
//!   error kinds and conversions, typed records and evaluators, edits by id, cache
//!   scopes, and the record-tag bugs of the runner.
//! - `interop`: experiments of this SDK and of ddtrace 4.16.0 read by each other
//!   (needs `DDTRACE_PYTHON`).
//! - `official`: a dataset made by Datadog's official API client, pulled by this SDK
//!   (needs `DDTRACE_PYTHON` with `datadog-api-client`).

mod cache;
mod datasets;
mod experiments;
mod interop;
mod judge;
mod official;
mod props;
mod rerun;
mod rust_api;
mod server;
mod stub;
mod util;
