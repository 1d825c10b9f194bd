//! Health: the engine's readiness, shared between the engine loop (which sets it) and a tiny
//! HTTP responder serving `/metrics`, `/healthz` and `/readyz` on the metrics address.
//!
//! - `GET /healthz`: 200 while the process can answer at all (liveness).
//! - `GET /readyz`: 200 when the engine's NATS connection is up (read live from the client), the log is writable (the last commit did not
//!   fail), the state is recovered (the engine loop is running), the loop has sampled within
//!   the last [`HEARTBEAT_STALE`] and the data directory's file system has at least the
//!   configured floor free ([`Health::set_min_free_bytes`]); else 503 with the failing checks
//!   listed, one per line.
//! - `GET /metrics`: the Prometheus text exposition.
//!
//! Anything else is 404 (405 for a method other than GET or HEAD). The responder reads at most
//! [`REQUEST_BYTES_MAX`] of a request's head within [`REQUEST_TIMEOUT`], answers with
//! `Connection: close`, and serves at most [`CONNECTIONS_MAX`] connections at once. It is not a
//! general web server and needs none: Prometheus, load balancers and orchestrators send one
//! short GET per connection.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use async_nats::Client;
use futures::FutureExt;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// A request head larger than this is refused (431).
pub const REQUEST_BYTES_MAX: usize = 8 * 1024;
/// A connection must send its request head within this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many connections are served at once; more are closed unanswered.
pub const CONNECTIONS_MAX: usize = 32;
/// The loop is considered stuck when it has not sampled for this long.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(15);
/// How often the Prometheus recorder's upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The readiness state: cheap to clone, shared by the loop and the responder.
#[derive(Clone, Debug)]
pub struct Health(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// The engine's NATS client, asked for its connection state on each check.
    client: OnceLock<Client>,
    /// True from the loop's start until a commit fails (the loop then stops).
    log_writable: AtomicBool,
    /// Set when the engine loop starts with a recovered engine.
    state_recovered: AtomicBool,
    /// Milliseconds since `started` at the loop's last sample; `u64::MAX` before the first.
    heartbeat_ms: AtomicU64,
    /// Free bytes on the data directory's file system at the last sample; `u64::MAX` before
    /// the first (or when it cannot be read: a metric failing is no reason to refuse traffic).
    free_bytes: AtomicU64,
    /// Below this many free bytes the engine is not ready (0: no floor). Set once at start.
    min_free_bytes: AtomicU64,
    /// The origin of `heartbeat_ms`.
    started: Instant,
}

/// The checks behind `/readyz`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "five independent checks, reported as such"
)]
pub struct Readiness {
    /// The NATS connection is up.
    pub nats_connected: bool,
    /// The last commit succeeded (or none has failed yet).
    pub log_writable: bool,
    /// The state was recovered and the engine loop runs.
    pub state_recovered: bool,
    /// The loop sampled within [`HEARTBEAT_STALE`].
    pub loop_alive: bool,
    /// The data directory's file system has at least the floor free (or no floor is set).
    pub disk_space: bool,
}

impl Readiness {
    /// All checks pass.
    #[must_use]
    pub const fn is_ready(&self) -> bool {
        self.nats_connected
            && self.log_writable
            && self.state_recovered
            && self.loop_alive
            && self.disk_space
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// Not ready: nothing recovered, nothing connected.
    #[must_use]
    pub fn new() -> Self {
        Self(Arc::new(Inner {
            client: OnceLock::new(),
            log_writable: AtomicBool::new(false),
            state_recovered: AtomicBool::new(false),
            heartbeat_ms: AtomicU64::new(u64::MAX),
            free_bytes: AtomicU64::new(u64::MAX),
            min_free_bytes: AtomicU64::new(0),
            started: Instant::now(),
        }))
    }

    /// The engine loop started with a recovered engine whose log is open for writing, on this
    /// NATS client (whose connection state `/readyz` reads live).
    pub fn loop_started(&self, client: &Client) {
        // One health belongs to one engine loop on one client; a restarted loop keeps the
        // first client it was given.
        if self.0.client.set(client.clone()).is_err() {
            tracing::debug!("health already watches a NATS client; keeping the first");
        }
        self.0.state_recovered.store(true, Ordering::Release);
        self.0.log_writable.store(true, Ordering::Release);
        self.beat();
    }

    /// The engine loop stopped (shutdown or failure): not ready any more.
    pub fn loop_stopped(&self) {
        self.0.state_recovered.store(false, Ordering::Release);
    }

    /// The engine's NATS connection is up now.
    #[must_use]
    pub fn nats_connected(&self) -> bool {
        self.0.client.get().is_some_and(|client| {
            client.connection_state() == async_nats::connection::State::Connected
        })
    }

    /// Records whether the log can still be written.
    pub fn set_log_writable(&self, writable: bool) {
        self.0.log_writable.store(writable, Ordering::Release);
    }

    /// Not ready while the data directory's file system has fewer than `bytes` free (0: no
    /// floor), so that traffic stops before a full disk stops the engine.
    pub fn set_min_free_bytes(&self, bytes: u64) {
        self.0.min_free_bytes.store(bytes, Ordering::Release);
    }

    /// Records the free bytes just read from the data directory's file system.
    pub fn set_free_bytes(&self, bytes: u64) {
        self.0.free_bytes.store(bytes, Ordering::Release);
    }

    /// The loop is alive now.
    pub fn beat(&self) {
        let ms = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.0.heartbeat_ms.store(ms, Ordering::Release);
    }

    /// The checks now.
    #[must_use]
    pub fn readiness(&self) -> Readiness {
        let beat = self.0.heartbeat_ms.load(Ordering::Acquire);
        let now = u64::try_from(self.0.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        let stale = u64::try_from(HEARTBEAT_STALE.as_millis()).unwrap_or(u64::MAX);
        Readiness {
            nats_connected: self.nats_connected(),
            log_writable: self.0.log_writable.load(Ordering::Acquire),
            state_recovered: self.0.state_recovered.load(Ordering::Acquire),
            loop_alive: beat != u64::MAX && now.saturating_sub(beat) <= stale,
            disk_space: self.0.free_bytes.load(Ordering::Acquire)
                >= self.0.min_free_bytes.load(Ordering::Acquire),
        }
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `listener` until `shutdown` completes, and
/// runs the recorder's upkeep meanwhile. Errors on single connections are logged and dropped.
pub async fn serve_http(
    listener: TcpListener,
    metrics: PrometheusHandle,
    health: Health,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut shutdown = pin!(shutdown.fuse());
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = upkeep.tick() => metrics.run_upkeep(),
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "metrics listener: accept failed");
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    tracing::warn!("metrics listener: too many connections; one closed");
                    continue;
                };
                let metrics = metrics.clone();
                let health = health.clone();
                tokio::spawn(async move {
                    if let Err(error) = answer(stream, &metrics, &health).await {
                        tracing::debug!(%error, "metrics listener: connection failed");
                    }
                    drop(permit);
                });
            }
        }
    }
}

/// A response: status line text, content type, body.
struct Response {
    status: &'static str,
    content_type: &'static str,
    body: String,
}

impl Response {
    fn text(status: &'static str, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

async fn answer(
    mut stream: TcpStream,
    metrics: &PrometheusHandle,
    health: &Health,
) -> std::io::Result<()> {
    let head = tokio::time::timeout(REQUEST_TIMEOUT, read_head(&mut stream)).await;
    let (response, head_only) = match head {
        Err(_) => (Response::text("408 Request Timeout", "timeout\n"), false),
        Ok(Err(error)) => return Err(error),
        Ok(Ok(None)) => (
            Response::text("431 Request Header Fields Too Large", "too large\n"),
            false,
        ),
        Ok(Ok(Some(head))) => respond(&head, metrics, health),
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    );
    if !head_only {
        out.push_str(&response.body);
    }
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads up to the end of the request head; `None` if it exceeds [`REQUEST_BYTES_MAX`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0_u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            // The peer closed: answer whatever arrived (a bare request line is enough).
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer.windows(4).any(|w| w == b"\r\n\r\n") || buffer.windows(2).any(|w| w == b"\n\n") {
            break;
        }
        if buffer.len() > REQUEST_BYTES_MAX {
            return Ok(None);
        }
    }
    Ok(Some(String::from_utf8_lossy(&buffer).into_owned()))
}

/// The response to a request head, and whether to send the head only (HEAD).
fn respond(head: &str, metrics: &PrometheusHandle, health: &Health) -> (Response, bool) {
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_ascii_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return (Response::text("400 Bad Request", "bad request\n"), false);
    };
    if !version.starts_with("HTTP/1.") || parts.next().is_some() {
        return (Response::text("400 Bad Request", "bad request\n"), false);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return (Response::text("405 Method Not Allowed", "use GET\n"), false);
        }
    };
    let path = target.split('?').next().unwrap_or_default();
    let response = match path {
        "/healthz" => Response::text("200 OK", "ok\n"),
        "/readyz" => readyz(health.readiness()),
        "/metrics" => Response {
            status: "200 OK",
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics.render(),
        },
        _ => Response::text(
            "404 Not Found",
            "not found: try /metrics, /healthz or /readyz\n",
        ),
    };
    (response, head_only)
}

fn readyz(readiness: Readiness) -> Response {
    if readiness.is_ready() {
        return Response::text("200 OK", "ready\n");
    }
    let mut body = String::from("not ready\n");
    for (ok, what) in [
        (readiness.nats_connected, "NATS is not connected"),
        (readiness.log_writable, "the log is not writable"),
        (
            readiness.state_recovered,
            "the state is not recovered (the engine loop is not running)",
        ),
        (
            readiness.loop_alive,
            "the engine loop has not reported recently",
        ),
        (
            readiness.disk_space,
            "the data directory's file system has less free space than engine.min_free_bytes",
        ),
    ] {
        if !ok {
            body.push_str(what);
            body.push('\n');
        }
    }
    Response::text("503 Service Unavailable", body)
}

#[cfg(test)]
mod tests {
    use super::Health;

    #[test]
    fn readiness_fails_below_the_free_space_floor_and_only_there() {
        let health = Health::new();
        assert!(health.readiness().disk_space, "no floor, nothing sampled");
        health.set_min_free_bytes(1000);
        assert!(health.readiness().disk_space, "nothing sampled yet");
        health.set_free_bytes(1000);
        assert!(health.readiness().disk_space, "at the floor");
        health.set_free_bytes(999);
        assert!(!health.readiness().disk_space, "below the floor");
        health.set_min_free_bytes(0);
        assert!(health.readiness().disk_space, "0: no floor");
        health.set_free_bytes(0);
        assert!(
            health.readiness().disk_space,
            "0: no floor, even on a full disk"
        );
    }
}
