//! Where `audit verify`, `audit show`, `audit open` and `replay` read a log: the engine's data
//! directory (the file log), or, with `--nats-url`, a routing domain's JetStream log (cluster
//! mode), read and checked exactly as the file log is (CRC, dense seq, hash chain).

use std::path::PathBuf;

use anyhow::{Context, Result};
use async_nats::jetstream::{self, context::GetStreamErrorKind};
use switchboard_jetlog::{JetStreamConfig, StreamReader};
use switchboard_log::{LogError, Record};
use switchboard_nats::cluster::Domain;
use tokio::runtime::Runtime;

use crate::config;

/// The log to read: `--data-dir`, a domain's JetStream log with `--nats-url`, or whatever the
/// engine's `--config` says (its `[log] backend`, NATS settings, prefix and data directory).
#[derive(Debug, clap::Args)]
pub(crate) struct LogSource {
    /// The engine's data directory (holding the log's segment files).
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        required_unless_present_any = ["nats_url", "config"]
    )]
    data_dir: Option<PathBuf>,
    /// Read the routing domain's log from JetStream (cluster mode) instead of a data directory:
    /// the NATS server URL(s), comma separated.
    #[arg(long)]
    nats_url: Option<String>,
    /// With JetStream: the routing domain, by its subject prefix (the engine's
    /// `[nats] subject_prefix`; default `switchboard`, or the --config file's).
    #[arg(long)]
    subject_prefix: Option<String>,
    /// With JetStream: a NATS credentials file (.creds) to connect with.
    #[arg(long)]
    nats_creds: Option<PathBuf>,
    /// The engine's configuration file: the log it names is read (`[log] backend = "jetstream"`:
    /// the domain's stream, with its `[nats]` URL, credentials, TLS and subject prefix; else its
    /// `[engine] data_dir`). The flags above win over it.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// An opened source.
pub(crate) enum Source {
    /// A data directory holding a file log.
    Dir(PathBuf),
    /// A domain's JetStream log.
    Stream(Box<StreamSource>),
}

impl LogSource {
    /// Opens the source: for JetStream, connects and checks that the domain's log stream exists
    /// and holds records (an absent or empty stream must not pass for a whole, empty trail).
    pub(crate) fn open(&self) -> Result<Source> {
        let file = match &self.config {
            Some(path) => Some(config::load(path)?.0),
            None => None,
        };
        let in_cluster = file
            .as_ref()
            .is_some_and(|f| f.log.backend == config::LogBackend::Jetstream);
        if self.nats_url.is_none() && !in_cluster {
            let dir = self
                .data_dir
                .clone()
                .or_else(|| file.map(|f| f.engine.data_dir))
                .context("name a --data-dir (or --nats-url for a JetStream log)")?;
            crate::audit::require_log(&dir)?;
            return Ok(Source::Dir(dir));
        }
        let nats = file.map_or_else(|| config::FileConfig::default().nats, |f| f.nats);
        let (settings, prefix) = nats.for_client(
            self.nats_url.as_ref(),
            self.nats_creds.as_ref(),
            self.subject_prefix.as_ref(),
        );
        StreamSource::open(&settings, &prefix).map(|s| Source::Stream(Box::new(s)))
    }
}

/// A routing domain's JetStream log, open for reading.
pub(crate) struct StreamSource {
    /// Runs the client; its `block_on` drives each read from the command's thread.
    runtime: Runtime,
    /// JetStream on the connection.
    context: jetstream::Context,
    /// The domain's log stream.
    pub(crate) config: JetStreamConfig,
    /// The servers, as given.
    pub(crate) url: String,
    /// The stream's last seq when opened.
    pub(crate) last_seq: u64,
    /// The domain's keystore bucket (`SB_KEYS_<PREFIX>`).
    pub(crate) keys_bucket: String,
}

impl StreamSource {
    fn open(settings: &switchboard_nats::ConnectSettings, prefix: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("could not start the async runtime")?;
        let domain = Domain::new(prefix);
        let config = JetStreamConfig::new(domain.log_stream(), domain.log_subject());
        let url = settings.url.clone();
        let keys_bucket = domain.keys_bucket();
        let (context, last_seq) = runtime.block_on(async {
            let client = switchboard_nats::connect(settings)
                .await
                .with_context(|| format!("could not connect to NATS at {url}"))?;
            let context = jetstream::new(client);
            let mut stream = match context.get_stream(&config.stream).await {
                Ok(stream) => stream,
                Err(error) => {
                    if let GetStreamErrorKind::JetStream(js) = error.kind()
                        && js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
                    {
                        anyhow::bail!(
                            "no event log for domain `{prefix}` on {url}: JetStream has no \
                             stream {} (check --subject-prefix; `serve` in cluster mode makes it)",
                            config.stream
                        );
                    }
                    return Err(error).with_context(|| {
                        format!("could not read stream {} on {url}", config.stream)
                    });
                }
            };
            let info = stream
                .info()
                .await
                .with_context(|| format!("could not read stream {} on {url}", config.stream))?;
            Ok((context, info.state.last_sequence))
        })?;
        if last_seq == 0 {
            anyhow::bail!(
                "no event log for domain `{prefix}` on {url}: stream {} holds no records",
                config.stream
            );
        }
        Ok(Self {
            runtime,
            context,
            config,
            url,
            last_seq,
            keys_bucket,
        })
    }

    /// Every record from the first, each checked as the file log's reader checks it.
    pub(crate) fn records(&self) -> Result<impl Iterator<Item = Result<Record, LogError>> + '_> {
        let mut reader = self
            .runtime
            .block_on(StreamReader::start(&self.context, &self.config, 1))
            .with_context(|| format!("could not read stream {}", self.config.stream))?;
        Ok(std::iter::from_fn(move || {
            self.runtime.block_on(reader.next())
        }))
    }

    /// The domain's keys, read without writing: `None` when the keystore bucket or its domain
    /// secret does not exist (the bucket is never made, nor a secret or a key).
    pub(crate) fn keys(&self) -> Result<Option<switchboard_privacy::Keys>> {
        self.runtime
            .block_on(async {
                let Some(store) = switchboard_privacy::KvKeystore::open_existing(
                    &self.context,
                    &self.keys_bucket,
                )
                .await?
                else {
                    return Ok(None);
                };
                store.load_existing().await
            })
            .with_context(|| format!("could not read keystore bucket {}", self.keys_bucket))
    }

    /// Checks the whole log (see `JetStreamLog::verify`).
    pub(crate) fn verify(&self) -> Result<switchboard_jetlog::StreamVerifyReport, LogError> {
        self.runtime
            .block_on(switchboard_jetlog::JetStreamLog::verify(
                &self.context,
                &self.config,
            ))
    }
}
