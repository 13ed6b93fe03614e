//! The SDK's integration tests, built into one binary.
//!
//! - `cache`: the cache tiers against a scripted HTTP stub (spec §7.7).
//! - `stub`: parsing, status mapping and transport against the stub (spec §7.8).
//! - `server`: every registry call against the real server, async and blocking.
//! - `props`: property tests of the on-disk layout.

mod cache;
mod props;
mod server;
mod stub;
mod util;
