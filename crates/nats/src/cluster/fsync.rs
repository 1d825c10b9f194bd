//! Whether a nats-server fsyncs every JetStream write (`sync_interval: always`), read from its
//! monitoring endpoint (`GET /varz`, `jetstream.config.sync_always`).
//!
//! Jepsen's analysis of NATS 2.12.1 found that the default (fsync every two minutes) loses
//! acknowledged writes when servers crash together, so cluster mode requires the setting
//! (docs/cluster.md). A client connection cannot see it: only the monitoring endpoint shows it,
//! so an engine checks it at start-up for the servers it is given the monitoring URLs of
//! (`[cluster] nats_monitor_urls`). One GET per server over HTTP/1.1 (hyper's client), bounded
//! by [`CHECK_TIMEOUT`] and [`VARZ_BYTES_MAX`].

use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

/// How long one server's check may take, connecting included.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest `/varz` answer read (a server's is a few KiB).
pub const VARZ_BYTES_MAX: usize = 1 << 20;

/// What a server's `/varz` says of its JetStream writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsyncSetting {
    /// The server's name (`server_name`).
    pub server_name: String,
    /// Whether it fsyncs every write before acknowledging it (`sync_interval: always`).
    pub sync_always: bool,
}

/// Why a server's setting could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FsyncCheckError {
    /// The URL is not `http://HOST:PORT` (with an optional path prefix).
    #[error("{url:?} is not a monitoring URL of the form http://HOST:PORT")]
    BadUrl {
        /// The URL given.
        url: String,
    },
    /// The server did not answer within [`CHECK_TIMEOUT`].
    #[error("no answer within {} s", CHECK_TIMEOUT.as_secs())]
    Timeout,
    /// Connecting or the HTTP exchange failed.
    #[error("{0}")]
    Http(String),
    /// The server answered with another status than 200.
    #[error("answered {0}")]
    Status(StatusCode),
    /// The answer is not `/varz`'s JSON, or has no JetStream configuration (JetStream is off).
    #[error("{0}")]
    Answer(String),
}

/// Reads the fsync setting of the nats-server whose monitoring endpoint is `url`
/// (`http://nats-1:8222`).
///
/// # Errors
/// The URL is malformed, the server did not answer in time, or its answer is not what `/varz`
/// gives with JetStream enabled.
pub async fn fsync_setting(url: &str) -> Result<FsyncSetting, FsyncCheckError> {
    let (authority, base) = parse(url)?;
    let body = tokio::time::timeout(CHECK_TIMEOUT, get(authority, &format!("{base}/varz")))
        .await
        .map_err(|_| FsyncCheckError::Timeout)??;
    setting_of(&body)
}

/// Checks that `url` is a monitoring URL this module can read (`http://HOST:PORT`, with an
/// optional path prefix), for configuration checks.
///
/// # Errors
/// [`FsyncCheckError::BadUrl`] when it is not.
pub fn check_url(url: &str) -> Result<(), FsyncCheckError> {
    parse(url).map(|_| ())
}

/// `http://HOST:PORT[/prefix]` as its authority and path prefix (without a trailing `/`).
fn parse(url: &str) -> Result<(&str, &str), FsyncCheckError> {
    let bad = || FsyncCheckError::BadUrl {
        url: url.to_owned(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok((authority, path.trim_end_matches('/')))
}

/// One `GET path` to `authority`, its body if it answered 200.
async fn get(authority: &str, path: &str) -> Result<Bytes, FsyncCheckError> {
    let http = |error: &dyn std::fmt::Display| FsyncCheckError::Http(error.to_string());
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| http(&e))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    let request = Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(&e))?;
    let exchange = async {
        let response = sender.send_request(request).await.map_err(|e| http(&e))?;
        if response.status() != StatusCode::OK {
            return Err(FsyncCheckError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), VARZ_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| http(&e))?;
        Ok(body.to_bytes())
    };
    // The connection is driven here, not by a spawned task; once it has ended (the server
    // closes after the answer), the exchange only has buffered bytes left to read.
    let (mut exchange, mut connection) = (pin!(exchange), pin!(connection));
    tokio::select! {
        biased;
        answered = &mut exchange => answered,
        ended = &mut connection => {
            ended.map_err(|e| http(&e))?;
            exchange.await
        }
    }
}

/// The setting in a `/varz` answer.
fn setting_of(body: &[u8]) -> Result<FsyncSetting, FsyncCheckError> {
    let varz: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| FsyncCheckError::Answer(format!("not /varz's JSON: {e}")))?;
    let config = varz
        .get("jetstream")
        .and_then(|jetstream| jetstream.get("config"))
        .ok_or_else(|| {
            FsyncCheckError::Answer("no JetStream configuration: is JetStream enabled?".to_owned())
        })?;
    Ok(FsyncSetting {
        server_name: varz
            .get("server_name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned(),
        // Absent when false (the server omits the field then).
        sync_always: config
            .get("sync_always")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitoring_urls_parse_to_an_authority_and_a_prefix() {
        assert_eq!(parse("http://nats-1:8222").ok(), Some(("nats-1:8222", "")));
        assert_eq!(
            parse("http://127.0.0.1:8222/").ok(),
            Some(("127.0.0.1:8222", ""))
        );
        assert_eq!(
            parse("http://proxy:80/nats-1/").ok(),
            Some(("proxy:80", "/nats-1"))
        );
        for bad in [
            "nats-1:8222",
            "https://nats-1:8222",
            "http://nats-1",
            "http://:8222",
        ] {
            assert!(
                matches!(parse(bad), Err(FsyncCheckError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_setting_is_read_from_the_jetstream_configuration() {
        let always = br#"{"server_name":"n1","jetstream":{"config":{"sync_always":true}}}"#;
        let lazy = br#"{"server_name":"n2","jetstream":{"config":{"max_memory":1}}}"#;
        assert_eq!(
            setting_of(always).ok(),
            Some(FsyncSetting {
                server_name: "n1".to_owned(),
                sync_always: true
            })
        );
        assert_eq!(setting_of(lazy).ok().map(|s| s.sync_always), Some(false));
        assert!(matches!(
            setting_of(br#"{"server_name":"n3"}"#),
            Err(FsyncCheckError::Answer(_))
        ));
        assert!(matches!(
            setting_of(b"<html>"),
            Err(FsyncCheckError::Answer(_))
        ));
    }
}
