//! Integration tests of the server, through its router: each request goes through the
//! same routing, auth, extraction and store code as over a socket.

mod util;

mod auth;
mod concurrency;
mod datasets;
mod experiments;
mod fuzz;
mod input;
mod limits;
mod pages;
mod pages_access;
mod pages_datasets;
mod pages_demo;
mod pages_prompts;
mod pages_views;

mod prompts;
mod resolve;
mod server;
