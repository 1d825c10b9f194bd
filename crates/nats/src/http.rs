//! The engine's HTTP endpoint: `/metrics`, `/healthz` and `/readyz` on the metrics address,
//! served by hyper (HTTP/1.1), and the one place later web pages are added.
//!
//! - `GET /healthz`: 200 `ok` while the process can answer at all (liveness).
//! - `GET /readyz`: 200 `ready`, or 503 with each failing check on its own line (see
//!   [`Health::readiness`]).
//! - `GET /metrics`: the Prometheus text exposition (format 0.0.4).
//!
//! - `GET /`, `/wallboard`, `/desktop` and `/assets/*`: the web pages, embedded in the binary
//!   ([`switchboard_web::Pages`]).
//!
//! `HEAD` is answered like `GET` without the body; any other method is 405, any other path
//! 404. Every request is routed by one function, [`Endpoints::route`] (method and path in, a
//! whole response out): the pages are routes there, not another server.
//!
//! Bounds, against slow or greedy clients: a request head must arrive within
//! [`HEADER_READ_TIMEOUT`] (else the connection is closed) and fit in [`REQUEST_BYTES_MAX`]
//! (else 431); a connection lives at most [`CONNECTION_TIME_MAX`]; one request per connection
//! (`Connection: close`: Prometheus, load balancers and orchestrators send one short GET per
//! connection); at most [`CONNECTIONS_MAX`] connections at once, and one more is closed
//! unanswered. Each connection is a task of the server's `JoinSet` (so at most
//! [`CONNECTIONS_MAX`] tasks), told to finish on shutdown and joined, or aborted after
//! [`SHUTDOWN_GRACE`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_web::{Asset, Pages};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::health::{Health, Readiness};

/// A request head larger than this is refused (431). It is also hyper's smallest read buffer.
pub const REQUEST_BYTES_MAX: usize = 8 * 1024;
/// A connection must send its request head within this long, or it is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection is closed after this long, whatever it is doing (a client that does not read
/// its response holds nothing for longer).
pub const CONNECTION_TIME_MAX: Duration = Duration::from_secs(30);
/// At most this many connections are served at once; more are closed unanswered.
pub const CONNECTIONS_MAX: usize = 32;
/// On shutdown, connections still open after this long are aborted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often the Prometheus recorder's upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Content type of plain-text answers.
const TEXT: &str = "text/plain; charset=utf-8";
/// Content type of the Prometheus text exposition.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The server's bounds; [`HttpLimits::default`] is the constants of this module. Tests shrink
/// them so that a bound is reached quickly.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; one more is closed unanswered.
    pub connections_max: usize,
    /// Time for a connection to send its request head.
    pub header_read_timeout: Duration,
    /// Time a connection may stay open at all.
    pub connection_time_max: Duration,
    /// Time open connections get to finish on shutdown before they are aborted.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connections_max: CONNECTIONS_MAX,
            header_read_timeout: HEADER_READ_TIMEOUT,
            connection_time_max: CONNECTION_TIME_MAX,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// What the endpoint serves: cheap to clone (one per connection).
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Renders `/metrics`.
    metrics: PrometheusHandle,
    /// Answers `/readyz`.
    health: Health,
    /// The web pages.
    pages: Pages,
}

impl Endpoints {
    /// Serves `metrics` and `health`, and the pages unconfigured (they say so).
    #[must_use]
    pub fn new(metrics: PrometheusHandle, health: Health) -> Self {
        Self {
            metrics,
            health,
            pages: Pages::default(),
        }
    }

    /// Serves these pages.
    #[must_use]
    pub fn with_pages(mut self, pages: Pages) -> Self {
        self.pages = pages;
        self
    }

    /// The response to `method` on `path` (without its query): the whole routing table.
    /// `HEAD` gets `GET`'s response; hyper sends its head only.
    #[must_use]
    pub fn route(&self, method: &Method, path: &str) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match path {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" => readyz(self.health.readiness()),
            "/metrics" => response(StatusCode::OK, PROMETHEUS_TEXT, self.metrics.render()),
            _ => match self.pages.asset(path) {
                Some(asset) => page(asset),
                None => text(
                    StatusCode::NOT_FOUND,
                    "not found: try /wallboard, /desktop, /metrics, /healthz or /readyz\n",
                ),
            },
        }
    }
}

/// A page or one of its assets, with its own headers.
fn page(asset: Asset) -> Response<Full<Bytes>> {
    let mut answer = response(StatusCode::OK, asset.content_type, asset.body);
    for (name, value) in asset.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            answer
                .headers_mut()
                .insert(header::HeaderName::from_static(name), value);
        }
    }
    answer
}

/// A response with the headers every answer carries.
fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    response(status, TEXT, body)
}

fn readyz(readiness: Readiness) -> Response<Full<Bytes>> {
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    text(status, readiness.report())
}

/// Serves [`Endpoints`] on `listener` until `shutdown` completes, and runs the recorder's upkeep
/// meanwhile; then stops accepting, lets open connections finish (for at most
/// `limits.shutdown_grace`) and returns once every connection task has ended. Errors on single
/// connections are logged and dropped.
pub async fn serve(
    listener: TcpListener,
    endpoints: Endpoints,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(REQUEST_BYTES_MAX)
        .keep_alive(false);
    let builder = Arc::new(builder);
    // Tells every connection to finish: a watch, so that connections accepted at any time see it.
    let (stop, stopping) = watch::channel(false);
    // Bounded by `limits.connections_max`: a connection is refused rather than spawned past it.
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown.fuse());
    let mut upkeep = tokio::time::interval(UPKEEP_EVERY);
    upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                if let Err(error) = ended {
                    tracing::warn!(%error, "metrics listener: a connection task failed");
                }
            }
            _ = upkeep.tick() => endpoints.metrics.run_upkeep(),
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "metrics listener: accept failed");
                        continue;
                    }
                };
                // Reap the ended ones first, so that their places are free.
                while let Some(ended) = connections.try_join_next() {
                    if let Err(error) = ended {
                        tracing::warn!(%error, "metrics listener: a connection task failed");
                    }
                }
                if connections.len() >= limits.connections_max {
                    tracing::warn!("metrics listener: too many connections; one closed");
                    continue;
                }
                connections.spawn(connection(
                    stream,
                    endpoints.clone(),
                    builder.clone(),
                    limits.connection_time_max,
                    stopping.clone(),
                ));
            }
        }
    }
    drop(listener);
    // Nobody may be listening any more: a send error changes nothing.
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "metrics listener: connections still open at shutdown; aborted"
        );
        connections.shutdown().await;
    }
}

/// Serves one connection until it ends, its time is up, or (after `stopping`) its request in
/// progress is answered.
async fn connection(
    stream: TcpStream,
    endpoints: Endpoints,
    builder: Arc<http1::Builder>,
    time_max: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = endpoints.route(request.method(), request.uri().path());
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let mut served = pin!(builder.serve_connection(TokioIo::new(stream), service));
    // A bound on the connection's life, not a pause.
    let mut expired = pin!(tokio::time::sleep(time_max));
    let mut told = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "metrics listener: connection failed");
                }
                return;
            }
            // A closed channel (the server is gone) means stop too.
            _ = stopping.wait_for(|stop| *stop), if !told => {
                told = true;
                served.as_mut().graceful_shutdown();
            }
            () = &mut expired => {
                tracing::debug!("metrics listener: connection closed after its time");
                return;
            }
        }
    }
}

/// [`serve`] on a task of its own, stopped by [`HttpServer::stop`] (or aborted, with every
/// connection, when dropped).
#[derive(Debug)]
pub struct HttpServer {
    /// Fires the server's shutdown; taken by `stop`.
    stop: Option<oneshot::Sender<()>>,
    /// The server's task; joined by `stop`, aborted on drop.
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Starts [`serve`] on `listener` with `limits`.
    #[must_use]
    pub fn spawn(listener: TcpListener, endpoints: Endpoints, limits: HttpLimits) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, endpoints, limits, async {
            // A dropped sender stops the server as well.
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stops accepting, lets open connections finish (at most their shutdown grace) and
    /// returns once the server's task has ended.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            // The task may have ended already: nothing to tell then.
            let _ = stop.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::warn!(%error, "metrics listener: the server task failed");
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        // After `stop` the task has ended and this does nothing; otherwise the server and its
        // connections (its JoinSet, dropped with it) end here rather than outlive their owner.
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints() -> Endpoints {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        Endpoints::new(recorder.handle(), Health::new())
    }

    fn status(method: &Method, path: &str) -> StatusCode {
        endpoints().route(method, path).status()
    }

    #[test]
    fn routes_answer_with_their_status() {
        assert_eq!(status(&Method::GET, "/healthz"), StatusCode::OK);
        assert_eq!(status(&Method::HEAD, "/healthz"), StatusCode::OK);
        assert_eq!(status(&Method::GET, "/metrics"), StatusCode::OK);
        assert_eq!(
            status(&Method::GET, "/readyz"),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(status(&Method::GET, "/"), StatusCode::OK);
        assert_eq!(status(&Method::GET, "/wallboard"), StatusCode::OK);
        assert_eq!(status(&Method::HEAD, "/desktop"), StatusCode::OK);
        assert_eq!(
            status(&Method::GET, "/assets/nope.js"),
            StatusCode::NOT_FOUND
        );
        assert_eq!(status(&Method::GET, "/metrics/"), StatusCode::NOT_FOUND);
        assert_eq!(
            status(&Method::POST, "/metrics"),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            status(&Method::DELETE, "/nope"),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }

    #[test]
    fn every_answer_closes_and_is_not_cached() {
        let endpoints = endpoints();
        for (method, path) in [
            (Method::GET, "/metrics"),
            (Method::GET, "/readyz"),
            (Method::GET, "/nope"),
            (Method::PUT, "/healthz"),
        ] {
            let response = endpoints.route(&method, path);
            let headers = response.headers();
            assert_eq!(headers[header::CONNECTION], "close", "{method} {path}");
            assert_eq!(
                headers[header::CACHE_CONTROL],
                "no-store",
                "{method} {path}"
            );
            assert!(
                headers.contains_key(header::CONTENT_TYPE),
                "{method} {path}"
            );
        }
        let metrics = endpoints.route(&Method::GET, "/metrics");
        assert_eq!(metrics.headers()[header::CONTENT_TYPE], PROMETHEUS_TEXT);
        let refused = endpoints.route(&Method::POST, "/metrics");
        assert_eq!(refused.headers()[header::ALLOW], "GET, HEAD");
        let wallboard = endpoints.route(&Method::GET, "/wallboard");
        assert_eq!(wallboard.headers()[header::CONNECTION], "close");
        assert!(
            wallboard.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .is_ok_and(|policy| policy.contains("script-src 'self'")),
            "{:?}",
            wallboard.headers()
        );
    }
}
