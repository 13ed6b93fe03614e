//! A bare axum "hello" server: the throughput ceiling `bench/server.sh` compares the
//! prompt read path against. Same runtime and HTTP stack as `llmobs serve`, no work.
//!
//! `cargo run --release -p llmobs-server --example hello -- 127.0.0.1:0`

use axum::Router;
use axum::routing::get;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let app = Router::new().route("/", get(|| async { "hello" }));
        axum::serve(listener, app).await
    })
}
