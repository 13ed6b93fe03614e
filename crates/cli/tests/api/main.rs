//! Every API command of `llmobs` run as a user types it, against a real server: tables,
//! `--json` compared with what the API answers, exit codes, bad input (a clear error,
//! nothing changed), the CI gate, prompts as files, and the progress bar on a terminal.

mod config;
mod datasets;
mod experiments;
mod projects;
mod prompts;
mod terminal;
mod util;
