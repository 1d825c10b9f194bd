//! Connecting to NATS: credentials, TLS, reconnection with backoff, and connection events turned
//! into log lines and metrics.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, ServerAddr};

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
    /// How long a request (a JetStream API call among them) waits for its reply; `None`: the
    /// client's default, 10 s. Cluster mode bounds it by the lease
    /// ([`crate::cluster::role::Leadership::request_bound`]).
    pub request_timeout: Option<Duration>,
    /// The prefix of the client's reply inboxes (`_INBOX` when `None`): a user whose NATS
    /// permissions allow replies only under its own prefix (`_INBOX.privacy.>`) sets it.
    pub inbox_prefix: Option<String>,
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

/// How long a request waits for its reply unless [`ConnectSettings::request_timeout`] says
/// otherwise (the NATS client's own default).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the first connection may take before [`connect`] gives up.
pub const FIRST_CONNECT_WAIT: Duration = Duration::from_secs(30);

impl ConnectSettings {
    /// The servers of `url`, a comma-separated list (`nats://a:4222,nats://b:4222`).
    ///
    /// # Errors
    /// The list is empty, or an entry is not a NATS URL.
    pub fn servers(&self) -> Result<Vec<ServerAddr>, DriverError> {
        let invalid = |reason: String| DriverError::Settings(format!("nats url: {reason}"));
        let servers = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ServerAddr>()
                    .map_err(|error| invalid(format!("`{entry}` is not a NATS URL ({error})")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(invalid("no server given".to_owned()));
        }
        Ok(servers)
    }

    /// Checks what can be checked without connecting: the URLs, and settings that only work
    /// in pairs (`user` with `password`, `cert_file` with `key_file`).
    ///
    /// # Errors
    /// The first problem found, naming the setting.
    pub fn check(&self) -> Result<(), DriverError> {
        self.servers()?;
        let pair = |a: bool, b: bool, named: &str, other: &str| {
            if a && !b {
                Err(DriverError::Settings(format!(
                    "nats {named} is set but {other} is not; they go together"
                )))
            } else {
                Ok(())
            }
        };
        let (user, password) = (self.user.is_some(), self.password.is_some());
        pair(user, password, "user", "password")?;
        pair(password, user, "password", "user")?;
        let (cert, key) = (self.tls.cert_file.is_some(), self.tls.key_file.is_some());
        pair(cert, key, "tls.cert_file", "tls.key_file")?;
        pair(key, cert, "tls.key_file", "tls.cert_file")
    }
}

/// Connects with the given settings. The client retries the first connection (for at most
/// [`FIRST_CONNECT_WAIT`], naming what it waited for) and then reconnects for ever with
/// backoff; connection events are logged and counted (`switchboard_nats_events_total{event}`),
/// so a refused password or an unreachable server shows in the log while it waits.
///
/// # Errors
/// The settings do not [check](ConnectSettings::check), the credentials file cannot be read,
/// or no server could be reached in time.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, DriverError> {
    settings.check()?;
    let servers = settings.servers()?;
    let mut options = ConnectOptions::new()
        .name(
            settings
                .name
                .clone()
                .unwrap_or_else(|| "switchboard".to_owned()),
        )
        .custom_inbox_prefix(settings.inbox_prefix.as_deref().unwrap_or("_INBOX"))
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(
            settings.request_timeout.unwrap_or(DEFAULT_REQUEST_TIMEOUT),
        ))
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
    let client = options
        .connect(servers.as_slice())
        .await
        .map_err(|source| DriverError::Connect {
            url: settings.url.clone(),
            source,
        })?;
    // With `retry_on_initial_connect` the client is handed back at once and connects in the
    // background: wait for it here, so that an unreachable server is reported as that and not
    // as a JetStream request timing out later.
    let deadline = tokio::time::Instant::now() + FIRST_CONNECT_WAIT;
    let mut poll = tokio::time::interval(Duration::from_millis(20));
    while client.connection_state() != async_nats::connection::State::Connected {
        if tokio::time::Instant::now() >= deadline {
            return Err(DriverError::NotConnected {
                url: settings.url.clone(),
                waited: FIRST_CONNECT_WAIT,
            });
        }
        poll.tick().await;
    }
    Ok(client)
}
