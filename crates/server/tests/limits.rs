//! Limits that keep the server up while clients misbehave: compressed intake bodies,
//! slow or idle connections, slow bodies, large requests in flight.

use std::io::Write;
use std::time::Duration;

use axum::http::StatusCode;
use llmobs_server::{AppState, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::util::{App, Keys};

/// A gzip body of `n` zero bytes.
fn gzip_zeros(n: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let chunk = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let take = left.min(chunk.len());
        encoder.write_all(&chunk[..take]).unwrap();
        left -= take;
    }
    encoder.finish().unwrap()
}

#[tokio::test]
async fn a_gzip_bomb_on_the_keyless_intake_is_refused_at_the_intake_limit() {
    let app = App::new().await;
    let bomb = gzip_zeros(48 << 20);
    assert!(bomb.len() < 1 << 20, "{} bytes compressed", bomb.len());
    for path in ["/api/v2/llmobs", "/evp_proxy/v2/api/v2/llmobs"] {
        let headers = [("Content-Encoding", "gzip"), ("X-Datadog-EVP-Subdomain", "llmobs-intake")];
        let (status, body) = app.send("POST", path, Keys::None, &headers, Some(bomb.clone())).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}: {body}");
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains("33554432 bytes") && detail.contains("max_intake_bytes"),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn deflate_intake_bodies_are_inflated_and_unknown_encodings_refused() {
    let app = App::new().await;
    let span = serde_json::json!([{"spans": [{"trace_id": "1", "span_id": "2", "name": "n",
        "start_ns": 1, "duration": 1, "status": "ok", "meta": {}, "metrics": {}, "tags": []}]}]);
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(span.to_string().as_bytes()).unwrap();
    let body = encoder.finish().unwrap();
    let headers = [("Content-Encoding", "deflate")];
    let (status, answer) =
        app.send("POST", "/api/v2/llmobs", Keys::Api, &headers, Some(body.clone())).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let headers = [("Content-Encoding", "br")];
    let (status, answer) =
        app.send("POST", "/api/v2/llmobs", Keys::Api, &headers, Some(body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().unwrap().contains("'br' is not supported"), "{answer}");
}

/// A server on a socket with `config`; it stops when the returned sender is dropped.
async fn serve(config: Config) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::util::open_store(dir.path()).await;
    store.create_org_keys("a", crate::util::API, crate::util::APP).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _dir = dir;
        let state = AppState::new(store, config);
        llmobs_server::serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop)
}

/// Reads until the peer closes the connection; `None` if it is still open after 15 s.
async fn read_to_close(stream: &mut TcpStream) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut got)).await {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

fn short_timeouts() -> Config {
    Config {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..Config::default()
    }
}

#[tokio::test]
async fn half_sent_headers_and_idle_keep_alive_connections_are_closed() {
    let (addr, _stop) = serve(short_timeouts()).await;
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    assert!(read_to_close(&mut half).await.is_some(), "a half header is kept open");

    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer =
        read_to_close(&mut idle).await.expect("an idle keep-alive connection is kept open");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn healthz_answers_while_more_idle_clients_than_connections_are_connected() {
    let (addr, _stop) = serve(Config { max_connections: 8, ..short_timeouts() }).await;
    let mut idle = Vec::new();
    for n in 0..40 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if n % 2 == 0 {
            stream.write_all(b"POST /api/v2/llmobs HTTP/1.1\r\nHost").await.unwrap();
        }
        idle.push(stream);
    }
    let mut health = TcpStream::connect(addr).await.unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut health).await.expect("/healthz did not answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_body_slower_than_the_body_timeout_gets_408() {
    let (addr, _stop) = serve(short_timeouts()).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = "POST /api/unstable/llm-obs/v1/prompts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\
                DD-API-KEY: org-a-api-key\r\nDD-APPLICATION-KEY: org-a-app-key\r\n\r\n{\"prompt";
    slow.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut slow).await.expect("a slow body is waited for forever");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
}

#[tokio::test]
async fn large_requests_past_the_limit_in_flight_wait_then_get_503() {
    let config = Config {
        max_body_bytes: 1024,
        max_large_requests: 1,
        large_request_wait: Duration::from_secs(1),
        body_timeout: Duration::from_secs(30),
        ..Config::default()
    };
    let (addr, _stop) = serve(config).await;
    let head = "POST /api/v2/llmobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\
                DD-API-KEY: org-a-api-key\r\n\r\n[";
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    second.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut second).await.expect("the second large request hangs");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("max_large_requests"), "{answer}");
    // A small request is not held up by the large one in flight.
    let mut small = TcpStream::connect(addr).await.unwrap();
    small
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut small).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(first);
}

#[tokio::test]
async fn a_json_string_over_the_field_limit_gets_413_naming_it() {
    let app = App::with_config(Config { max_field_bytes: 1000, ..Config::default() }).await;
    let long = serde_json::json!({"prompt_id": "long", "template": "x".repeat(1001)});
    let (status, body) = app.call("POST", crate::util::PROMPTS, Keys::Both, Some(long)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("field limit of 1000 bytes (max_field_bytes)"), "{detail}");
    let (status, _) = app.call("GET", &crate::util::path("long"), Keys::Api, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Many short strings, a body far over the field limit, and escaped quotes are fine.
    let messages: Vec<_> = (0..40)
        .map(|n| serde_json::json!({"role": "user", "content": format!("\"{n}\" {}", "y".repeat(900))}))
        .collect();
    let fine = serde_json::json!({"prompt_id": "fine", "template": messages});
    let (status, body) = app.call("POST", crate::util::PROMPTS, Keys::Both, Some(fine)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
