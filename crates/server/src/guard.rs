//! HTTP-level limits that keep the server up while clients misbehave.
//!
//! - [`serve_connections`] accepts at most [`Config::max_connections`] connections at
//!   once and gives each client [`Config::header_timeout`] to send a request's headers,
//!   which is also how long an idle keep-alive connection stays open;
//! - [`limit_bodies`], run by the request middleware, gives every request [`Config::body_timeout`] to send
//!   its body (408 after it) and lets only [`Config::max_large_requests`] requests whose
//!   body may pass [`Config::max_body_bytes`] be read at once (503 when none frees up
//!   within [`Config::large_request_wait`]), which bounds the memory bodies in flight
//!   can take; after a request with a body over 1 MiB it hands the freed memory back to
//!   the system (glibc keeps it otherwise).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::state::{AppState, Config};

/// The error a body read past its deadline ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {0:?} (body_timeout)")]
pub(crate) struct BodyTimeout(Duration);

/// Whether `err`, or an error it wraps, is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<BodyTimeout>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// A request body that fails with [`BodyTimeout`] once its deadline passes.
struct TimedBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl hyper::body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// A deadline on every request body, and a turn for large ones; run by the request
/// middleware ([`crate::log::request`]) around the rest of the application.
pub(crate) async fn limit_bodies(state: &AppState, request: Request, next: Next) -> Response {
    // A request that has no body (most reads) has nothing to time or to take a turn for.
    if hyper::body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let config = &state.config;
    let headers = request.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let large = match declared {
        Some(length) => length > config.max_body_bytes as u64,
        None => headers.contains_key(TRANSFER_ENCODING),
    };
    let _turn = if large {
        match tokio::time::timeout(config.large_request_wait, state.large_requests.acquire()).await
        {
            Ok(Ok(permit)) => Some(permit),
            _ => {
                return ApiError::Unavailable(format!(
                    "{} large requests are being read already (max_large_requests); retry later",
                    config.max_large_requests
                ))
                .into_response();
            }
        }
    } else {
        None
    };
    let timeout = config.body_timeout;
    let request = request.map(|inner| {
        Body::new(TimedBody { inner, deadline: Box::pin(tokio::time::sleep(timeout)), timeout })
    });
    let response = next.run(request).await;
    if large || declared.is_some_and(|length| length > TRIM_AFTER_BYTES) {
        return_memory();
    }
    response
}

/// Bodies larger than this hand their memory back to the system once answered.
const TRIM_AFTER_BYTES: u64 = 1 << 20;

/// Asks the allocator to return free memory to the system, on a blocking thread, at most
/// one call at a time. A request made while a call runs makes it run once more afterwards,
/// so the memory of the last large request is always handed back.
fn return_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        static TRIMMING: AtomicBool = AtomicBool::new(false);
        static AGAIN: AtomicBool = AtomicBool::new(false);
        AGAIN.store(true, Ordering::Release);
        if !TRIMMING.swap(true, Ordering::AcqRel) {
            tokio::task::spawn_blocking(|| {
                loop {
                    AGAIN.store(false, Ordering::Release);
                    // SAFETY: malloc_trim only walks and releases glibc's own free lists;
                    // it takes no pointer and is safe to call from any thread.
                    unsafe { libc::malloc_trim(0) };
                    TRIMMING.store(false, Ordering::Release);
                    // Asked again meanwhile, and nobody else took the turn: trim once more.
                    if !AGAIN.load(Ordering::Acquire) || TRIMMING.swap(true, Ordering::AcqRel) {
                        break;
                    }
                }
            });
        }
    }
}

/// Serves `app` on `listener` under the connection limits of `config` until `shutdown`
/// resolves, then lets open connections finish their requests.
pub(crate) async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_timeout).keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or a connection reset before accept: wait
                    // a moment rather than spin.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            tower::Service::call(&mut app.clone(), request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
