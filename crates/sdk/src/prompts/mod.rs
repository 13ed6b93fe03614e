//! Prompts: the [`Prompt`] that `get_prompt` returns and its options, the two cache tiers
//! behind it, and the registry's management calls.
//!
//! - [`prompt`]: [`Prompt`], [`GetPrompt`], [`Fallback`], [`Source`];
//! - [`get`]: `get_prompt` and its refreshes;
//! - [`cache_key`]: which cached copy a call may use (origin, org, prompt, selector);
//! - [`hot`], [`warm`]: the memory and disk tiers;
//! - [`registry`], [`records`] and [`requests`]: creating, updating, listing prompts and versions,
//!   and moving labels;
//! - [`files`]: prompts kept as files with a lockfile, a fallback source.

pub(crate) mod cache_key;
mod files;
pub(crate) mod get;
pub(crate) mod hot;
mod prompt;
mod records;
mod registry;
mod requests;
pub(crate) mod warm;

pub use files::{LOCKFILE, Lockfile, Pin, PromptDir, PromptFile};
pub use prompt::{Fallback, GetPrompt, Prompt, Source};
pub use records::{PromptInfo, PromptVersion};
pub use requests::{NewPrompt, NewVersion};
