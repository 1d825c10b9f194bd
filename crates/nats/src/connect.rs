//! Connecting to NATS: credentials, TLS, reconnection with backoff, and connection events turned
//! into log lines and metrics.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};

use crate::driver::DriverError;

/// How to reach and authenticate to NATS.
#[derive(Clone, Debug, Default)]
pub struct ConnectSettings {
    /// Server URL(s), comma separated, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The connection name shown in NATS monitoring.
    pub name: Option<String>,
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (with `user`).
    pub password: Option<String>,
    /// Token authentication.
    pub token: Option<String>,
    /// An NKey seed (`SU...`).
    pub nkey_seed: Option<String>,
    /// A `.creds` file (JWT and NKey seed).
    pub credentials_file: Option<PathBuf>,
    /// TLS settings.
    pub tls: TlsSettings,
}

/// TLS settings of the NATS connection.
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    /// Require TLS.
    pub required: bool,
    /// A CA certificate file (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM), with `key_file`, for mutual TLS.
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub key_file: Option<PathBuf>,
}

/// Connects with the given settings. The client retries the first connection and reconnects
/// for ever with backoff; connection events are logged and counted
/// (`switchboard_nats_events_total{event}`).
///
/// # Errors
/// The credentials file cannot be read, or the first connection fails outright.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, DriverError> {
    let mut options = ConnectOptions::new()
        .name(
            settings
                .name
                .clone()
                .unwrap_or_else(|| "switchboard".to_owned()),
        )
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .reconnect_delay_callback(|attempts| {
            // 0, 100 ms, 200 ms, 400 ms ... capped at 5 s.
            let exponent = u32::try_from(attempts.min(6)).unwrap_or(6);
            Duration::from_millis(if attempts == 0 {
                0
            } else {
                100 * 2_u64.pow(exponent - 1)
            })
            .min(Duration::from_secs(5))
        })
        .event_callback(|event| async move {
            let name = match &event {
                Event::Connected => "connected",
                Event::Disconnected => "disconnected",
                Event::LameDuckMode => "lame_duck_mode",
                Event::Draining => "draining",
                Event::Closed => "closed",
                Event::SlowConsumer(_) => "slow_consumer",
                Event::ServerError(_) => "server_error",
                Event::ClientError(_) => "client_error",
            };
            crate::telemetry::nats_event(name);
            match event {
                Event::Connected => tracing::info!("connected to NATS"),
                Event::Closed | Event::Draining => {
                    tracing::info!(event = %event, "NATS connection event");
                }
                Event::SlowConsumer(sid) => tracing::warn!(
                    subscription = sid,
                    "NATS slow consumer: messages were dropped"
                ),
                other => tracing::warn!(event = %other, "NATS connection event"),
            }
        });
    if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &settings.token {
        options = options.token(token.clone());
    }
    if let Some(seed) = &settings.nkey_seed {
        options = options.nkey(seed.clone());
    }
    if let Some(path) = &settings.credentials_file {
        options =
            options
                .credentials_file(path)
                .await
                .map_err(|source| DriverError::Credentials {
                    path: path.clone(),
                    source,
                })?;
    }
    if settings.tls.required {
        options = options.require_tls(true);
    }
    if let Some(ca) = &settings.tls.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&settings.tls.cert_file, &settings.tls.key_file) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    options
        .connect(settings.url.as_str())
        .await
        .map_err(|source| DriverError::Connect {
            url: settings.url.clone(),
            source,
        })
}
