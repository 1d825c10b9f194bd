//! The HTTP endpoint over real sockets: paths, status codes, headers and bodies as a client sees
//! them, HEAD, refusals (404, 405, 400, 431), one request per connection, and the bounds: a slow
//! request head is cut off, connections past the limit are closed unanswered, and shutdown ends
//! idle connections at once and aborts stuck ones after the grace.
//!
//! No NATS here: the endpoint is served with a recorder of its own (not installed process-wide)
//! and a health state that is never started (so `/readyz` is 503).

use std::net::SocketAddr;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use switchboard_nats::health::Health;
use switchboard_nats::http::{self, Endpoints, HttpLimits, HttpServer, REQUEST_BYTES_MAX};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any single expected condition may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

fn endpoints() -> Endpoints {
    let recorder = PrometheusBuilder::new().build_recorder();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("switchboard_test_total").increment(1);
    });
    Endpoints::new(recorder.handle(), Health::new())
}

async fn start(limits: HttpLimits) -> (SocketAddr, HttpServer) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("address");
    (address, HttpServer::spawn(listener, endpoints(), limits))
}

/// Reads until the server closes the connection (a reset counts as closed); what arrived.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut bytes))
        .await
        .expect("the server closes the connection in time");
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Sends `request` on a fresh connection and returns everything the server sent before closing.
async fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    // The server may close before reading it all (a refusal): a failed write is not a failure.
    let _ = stream.write_all(request).await;
    read_to_close(&mut stream).await
}

/// A parsed response: status code, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
    let mut lines = head.lines();
    let status_line = lines.next().expect("a status line");
    assert!(status_line.starts_with("HTTP/1."), "{status_line}");
    let status = status_line
        .split_ascii_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("name: value");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn get(address: SocketAddr, method: &str, path: &str) -> Answer {
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    parse(&exchange(address, request.as_bytes()).await)
}

#[tokio::test]
async fn paths_statuses_and_bodies() {
    let (address, server) = start(HttpLimits::default()).await;

    let health = get(address, "GET", "/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok\n");
    assert_eq!(
        health.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(health.header("content-length"), Some("3"));
    assert_eq!(health.header("connection"), Some("close"));
    assert_eq!(health.header("cache-control"), Some("no-store"));

    let ready = get(address, "GET", "/readyz").await;
    assert_eq!(ready.status, 503);
    assert!(ready.body.starts_with("not ready\n"), "{}", ready.body);
    assert!(
        ready.body.contains("NATS is not connected\n"),
        "{}",
        ready.body
    );
    assert!(ready.body.contains("not recovered"), "{}", ready.body);

    let metrics = get(address, "GET", "/metrics?name=x").await;
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        metrics.body.contains("switchboard_test_total 1\n"),
        "{}",
        metrics.body
    );

    // HEAD: GET's head, with its length, and no body.
    let head = get(address, "HEAD", "/metrics").await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(metrics.body.len().to_string().as_str())
    );
    assert_eq!(head.body, "");

    // The pages are routes of the same server (unconfigured here: they say so themselves).
    let wallboard = get(address, "GET", "/wallboard").await;
    assert_eq!(wallboard.status, 200);
    assert_eq!(
        wallboard.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        wallboard.body.contains("\"nats_ws_url\":null"),
        "{}",
        wallboard.body
    );

    let missing = get(address, "GET", "/wallboard/nowhere").await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body,
        "not found: try /wallboard, /desktop, /metrics, /healthz or /readyz\n"
    );
    let post = get(address, "POST", "/metrics").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // HTTP/1.0 without a Host header is answered too (in HTTP/1.0).
    let raw = exchange(address, b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert!(raw.starts_with("HTTP/1.0 200 OK\r\n"), "{raw}");

    server.stop().await;
}

#[tokio::test]
async fn one_request_per_connection() {
    let (address, server) = start(HttpLimits::default()).await;
    // Two requests pipelined on one connection: the first is answered, then the connection
    // closes.
    let twice = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    let raw = exchange(address, twice).await;
    assert_eq!(raw.matches("HTTP/1.1 200").count(), 1, "{raw}");
    server.stop().await;
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_refused() {
    let (address, server) = start(HttpLimits::default()).await;
    let garbage = parse(&exchange(address, b"this is not http\r\n\r\n").await);
    assert_eq!(garbage.status, 400);

    let mut big = String::from("GET /healthz HTTP/1.1\r\nHost: test\r\n");
    while big.len() <= REQUEST_BYTES_MAX {
        big.push_str("X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big.push_str("\r\n");
    let refused = parse(&exchange(address, big.as_bytes()).await);
    assert_eq!(refused.status, 431);
    server.stop().await;
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let limits = HttpLimits {
        header_read_timeout: Duration::from_millis(100),
        ..HttpLimits::default()
    };
    let (address, server) = start(limits).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("send half a head");
    // The rest never comes: the server closes without answering.
    let raw = read_to_close(&mut stream).await;
    assert!(!raw.contains("200"), "{raw}");
    // And goes on serving.
    assert_eq!(get(address, "GET", "/healthz").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_unanswered() {
    let limits = HttpLimits {
        connections_max: 2,
        ..HttpLimits::default()
    };
    let (address, server) = start(limits).await;
    // Two connections that send nothing hold both places (connections are accepted in order).
    let idle_one = TcpStream::connect(address).await.expect("connect");
    let mut idle_two = TcpStream::connect(address).await.expect("connect");
    let raw = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    assert_eq!(raw, "", "a connection past the limit is closed unanswered");

    // One place freed: served again (once the server has seen the close).
    drop(idle_one);
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    loop {
        poll.tick().await;
        let raw = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
        if !raw.is_empty() {
            assert_eq!(parse(&raw).status, 200);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a freed place is never reused"
        );
    }
    // The idle connection still holding a place is ended by the shutdown.
    server.stop().await;
    assert_eq!(read_to_close(&mut idle_two).await, "");
}

#[tokio::test]
async fn shutdown_ends_idle_connections_and_aborts_stuck_ones() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().expect("address");
    let limits = HttpLimits {
        header_read_timeout: Duration::from_secs(3600),
        connection_time_max: Duration::from_secs(3600),
        shutdown_grace: Duration::from_millis(100),
        ..HttpLimits::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(http::serve(listener, endpoints(), limits, async {
        let _ = stopped.await;
    }));
    let mut idle = TcpStream::connect(address).await.expect("connect");
    let mut stuck = TcpStream::connect(address).await.expect("connect");
    stuck
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("half a head");
    // Both are being served before the stop (answered proves the accept loop reached them).
    assert_eq!(get(address, "GET", "/healthz").await.status, 200);

    stop.send(()).expect("the server listens for its stop");
    tokio::time::timeout(WAIT, serving)
        .await
        .expect("the server stops in time")
        .expect("the server task ends cleanly");
    assert_eq!(read_to_close(&mut idle).await, "");
    assert_eq!(read_to_close(&mut stuck).await, "");
    // Nothing listens any more.
    let after = TcpStream::connect(address).await;
    if let Ok(mut stream) = after {
        assert_eq!(read_to_close(&mut stream).await, "");
    }
}
