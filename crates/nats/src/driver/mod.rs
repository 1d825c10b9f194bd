//! The NATS driver: [`run`] sets the engine up on NATS (`setup.rs`), takes the engine apart into
//! the router, which a [`Node`] takes over, and the log, which goes to a group committer
//! thread, and runs the shell (`shell.rs`), which moves bytes and time between the node and
//! NATS, the committer, the snapshotter and the clock until shutdown; then puts the engine back
//! together, with a snapshot. Every rule is the node's (`node/`); `io.rs` holds the reads and
//! publishes the shell does for it.

mod io;
mod setup;
mod shell;
mod stop;

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::Client;
use switchboard_core::Timestamp;
use switchboard_engine::{
    Engine, EngineError, EngineParts, SnapshotSink, Snapshotter, SnapshotterOptions,
};
use switchboard_log::{CommitterOptions, EventLog, GroupCommitter, Report};
use switchboard_privacy::{
    FileKeystore, KEYSTORE_FILE, KeyDelta, Keys, KvKeystore, KvKeystoreConfig, Sealer,
};
use switchboard_wire::{Receipt, Subjects};

use crate::health::Health;
use crate::node::{Node, NodeSettings};
use crate::telemetry::Telemetry;
use io::{IntakeAcks, Work};
use shell::Shell;

/// The header naming an event's sequence number in the log, on every published event.
pub const SEQ_HEADER: &str = "Switchboard-Seq";

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// The subjects of the wire contract.
    pub subjects: Subjects,
    /// The most messages decided in one turn (one `fdatasync`).
    pub batch_max: usize,
    /// The JetStream stream holding the durable intake (`{PREFIX}_INBOX`).
    pub inbox_stream: String,
    /// The durable consumer of the intake stream (`{prefix}-engine`).
    pub inbox_consumer: String,
    /// How long an intake message taken and not acknowledged waits before JetStream delivers
    /// it again (a message is acknowledged once durable, so normally within a turn).
    pub inbox_ack_wait: Duration,
    /// The JetStream stream keeping every published event (`{PREFIX}_EVENTS`).
    pub events_stream: String,
    /// How many servers of a JetStream cluster keep each stream (1 to 5), when the stream is
    /// made; an existing stream keeps its own.
    pub stream_replicas: usize,
    /// At shutdown, how long each last exchange with NATS (replies and acks, the events
    /// stream, the final flush) may wait for it, so that a stop never hangs while NATS is down.
    pub shutdown_nats_wait: Duration,
    /// How long the events stream keeps events.
    pub events_max_age: Duration,
    /// How long a reply is remembered for a repeated idempotency key.
    pub idempotency_window: Duration,
    /// How many replies are remembered at most.
    pub idempotency_entries_max: usize,
    /// The idempotency receipts the engine's recovery read back from the log
    /// (`Recovered::receipts`, each with its record's time, oldest first): the window starts
    /// from them, so a command repeated after a restart gets its first reply. Empty by default
    /// (a new log, or a caller that does not pass them: repeats then get the core's answer).
    pub receipts: Vec<(Timestamp, Receipt)>,
    /// The readiness state the loop reports into (served on `/readyz`).
    pub health: Health,
    /// Told once the loop serves (subscribed; the intake consumed, or with `setup_retry` being
    /// set up behind the loop): cluster mode times a takeover to it.
    pub serving: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// How the set-up's JetStream requests (the streams, the intake consumer) are tried:
    /// `None` (the default) tries each once, waiting the connection's request timeout, before
    /// the loop serves; cluster mode tries them quickly and again, so that a new leader keeps
    /// its lease through a stream's or consumer's leader election, and sets the intake up
    /// behind the loop, serving commands and queries meanwhile (docs/cluster.md).
    pub setup_retry: Option<SetupRetry>,
    /// Where each snapshot also goes (cluster mode: the domain's snapshot bucket).
    pub snapshot_sink: Option<SnapshotSink>,
    /// Where the keys personal data is sealed under are kept.
    pub keystore: KeystoreSetting,
    /// The `[retention]` schedule the engine shreds by (docs/privacy.md); `None`: no shredding
    /// by retention.
    pub retention: Option<switchboard_privacy::RetentionSchedule>,
}

impl DriverSettings {
    /// Settings for a subject prefix, with defaults for the rest. The streams and the
    /// consumer are named from the prefix, so engines on different prefixes share a NATS
    /// without sharing a stream (`switchboard` gives `SWITCHBOARD_INBOX`,
    /// `SWITCHBOARD_EVENTS` and `switchboard-engine`).
    #[must_use]
    pub fn new(subjects: Subjects) -> Self {
        let base = setup::stream_base(subjects.prefix());
        Self {
            batch_max: 1024,
            inbox_stream: format!("{base}_INBOX"),
            inbox_consumer: format!("{}-engine", base.to_ascii_lowercase()),
            inbox_ack_wait: Duration::from_secs(30),
            events_stream: format!("{base}_EVENTS"),
            stream_replicas: 1,
            shutdown_nats_wait: Duration::from_secs(10),
            subjects,
            events_max_age: Duration::from_secs(7 * 24 * 3600),
            idempotency_window: Duration::from_secs(10 * 60),
            idempotency_entries_max: 100_000,
            receipts: Vec::new(),
            health: Health::new(),
            serving: None,
            setup_retry: None,
            snapshot_sink: None,
            keystore: KeystoreSetting::DataDir,
            retention: None,
        }
    }
}

/// Tries of one set-up request: each waits at most `per_try` for its reply, and a failed one
/// (unanswered or refused by NATS) is tried again until `within` has passed since the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupRetry {
    /// The most one try waits for its reply.
    pub per_try: Duration,
    /// The most all the tries of one request take together.
    pub within: Duration,
}

/// Where the engine keeps the keys its personal data is sealed under (docs/privacy.md).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum KeystoreSetting {
    /// The file `keys` in the engine's data directory (a single engine).
    #[default]
    DataDir,
    /// A JetStream KV bucket (cluster mode: every engine of the domain shares it).
    Kv(KvKeystoreConfig),
}

/// The keystore the loop saves new keys to.
#[derive(Debug)]
pub(crate) enum Keystore {
    /// The data directory's file.
    File(FileKeystore),
    /// The bucket, with its keys as last saved.
    Kv {
        /// The bucket.
        store: Box<KvKeystore>,
        /// Its keys.
        keys: Keys,
    },
}

impl Keystore {
    /// Opens the keystore `setting` names, making one if there is none. A keystore missing
    /// while the log holds events is reported loudly and replaced: routing goes on, and what
    /// the lost one sealed reads as `[erased]` for good.
    async fn open(
        setting: &KeystoreSetting,
        dir: &Path,
        js: &async_nats::jetstream::Context,
        log_has_events: bool,
    ) -> Result<(Self, Keys), DriverError> {
        match setting {
            KeystoreSetting::DataDir => {
                let path = dir.join(KEYSTORE_FILE);
                let (store, lost) = FileKeystore::open_or_create(&path, log_has_events)?;
                if let Some(lost) = lost {
                    tracing::error!(
                        error = %lost,
                        "the keystore is missing while the log holds events: a new one was made; personal data sealed under the lost one reads as [erased] for good (a log written before sealing holds none: then ignore this)"
                    );
                }
                let keys = store.keys().clone();
                Ok((Self::File(store), keys))
            }
            KeystoreSetting::Kv(config) => {
                // The bucket not answering is NATS failing (cluster mode tries it again, then
                // stops serving), not a keystore to look at.
                let bucket = |error| match error {
                    error @ switchboard_privacy::PrivacyError::Bucket { .. } => {
                        nats("open the keystore bucket")(error)
                    }
                    other => DriverError::Keystore(other),
                };
                let store = KvKeystore::open(js, config).await.map_err(bucket)?;
                let had_secret = store.has_secret().await.map_err(bucket)?;
                let keys = store.load().await.map_err(bucket)?;
                tracing::info!(bucket = %config.bucket, subjects = keys.len(), "keystore bucket loaded");
                if !had_secret && log_has_events {
                    tracing::error!(
                        bucket = %config.bucket,
                        "the keystore bucket held no domain secret while the log holds events: a \
                         new one was made; personal data sealed under the lost keystore reads as \
                         [erased] for good (a log written before sealing holds none: then ignore \
                         this)"
                    );
                }
                Ok((
                    Self::Kv {
                        store: Box::new(store),
                        keys: keys.clone(),
                    },
                    keys,
                ))
            }
        }
    }

    /// [`Keystore::open`] as `settings` says, tried as its `setup_retry` says (a keystore
    /// bucket whose leader was on a restarted nats-server answers nothing until its election).
    async fn open_tried(
        settings: &DriverSettings,
        dir: &Path,
        js: &async_nats::jetstream::Context,
        log_has_events: bool,
    ) -> Result<(Self, Keys), DriverError> {
        setup::tried(settings.setup_retry, "open the keystore", || {
            Self::open(&settings.keystore, dir, js, log_has_events)
        })
        .await
    }

    /// Saves keys the node made (or destroyed). A failure is logged, not fatal: routing goes
    /// on; what was sealed under a key that was not saved is lost at the next restart.
    pub(crate) async fn save(&mut self, delta: &KeyDelta) {
        let saved = match self {
            Self::File(store) => {
                let changes = store.keys_mut().apply(delta);
                store.commit(&changes)
            }
            Self::Kv { store, keys } => {
                let changes = keys.apply(delta);
                store.save(keys, &changes).await
            }
        };
        if let Err(error) = saved {
            tracing::error!(
                %error,
                "keys could not be saved to the keystore: routing goes on, but personal data sealed under them will read as [erased] after a restart"
            );
        }
    }
}

/// Why the loop stopped other than by shutdown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The first connection to NATS failed.
    #[error("could not connect to NATS at {url}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        source: async_nats::ConnectError,
    },
    /// No NATS server could be reached within the first connection's bound (the log shows
    /// each attempt's error: refused, unknown host, authorization...).
    #[error(
        "could not connect to NATS at {url} within {} s: check the URL, that the server runs, \
         and the credentials (each attempt's error is logged above)",
        waited.as_secs()
    )]
    NotConnected {
        /// The URL(s) tried.
        url: String,
        /// How long it tried.
        waited: Duration,
    },
    /// A stream this engine would use already exists and captures other subjects.
    #[error(
        "the JetStream stream {stream} captures {found:?}, not {wanted:?}: it belongs to another \
         engine, or this engine's subject prefix changed; give each engine its own prefix, or \
         move the stream deliberately (`nats stream edit`)"
    )]
    StreamSubjects {
        /// The stream.
        stream: String,
        /// The subjects it captures.
        found: Vec<String>,
        /// The subjects this engine needs it to capture.
        wanted: Vec<String>,
    },
    /// The connection settings are not usable as given.
    #[error("{0}")]
    Settings(String),
    /// The credentials file could not be read.
    #[error("could not read the NATS credentials file {}", path.display())]
    Credentials {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A NATS or JetStream operation failed.
    #[error("NATS: could not {what}")]
    Nats {
        /// What was being done.
        what: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The engine failed (the log could not be written): the process must stop; a restart
    /// recovers exactly what is durable.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The keystore could not be opened (damaged, unreadable: an operator must look).
    #[error("the keystore: {0}")]
    Keystore(#[from] switchboard_privacy::PrivacyError),
    /// A subscription ended: the connection was closed.
    #[error("the NATS subscription to {0} ended")]
    SubscriptionEnded(String),
}

pub(crate) fn nats<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> DriverError {
    move |e| DriverError::Nats {
        what,
        source: Box::new(e),
    }
}

/// The wall clock as the core's time. The driver is the one place that reads it.
pub(crate) fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Runs the engine loop until `shutdown` completes, then finishes the current turn, makes
/// everything durable and answered, takes a snapshot and returns the engine.
///
/// # Errors
/// JetStream could not be set up, a subscription ended, or the engine's log failed (after which
/// the process must stop and restart to recover).
pub async fn run(
    client: Client,
    engine: Engine,
    mut settings: DriverSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<Engine, DriverError> {
    let EngineParts {
        router,
        log,
        dir,
        options,
    } = engine.into_parts()?;
    let durable = log.next_seq() - 1;
    // The streams and the keystore are set up side by side: after a nats-server restart each
    // may wait seconds for its leader's election (cluster mode tries again meanwhile), and a new
    // leader serves after the slower of the two, not after their sum.
    let (wired, (keystore, keys)) = tokio::try_join!(setup::wire(&client, &settings), async {
        let js = async_nats::jetstream::new(client.clone());
        Keystore::open_tried(&settings, &dir, &js, durable > 0).await
    })?;
    tracing::info!(
        commands = %settings.subjects.commands(),
        inbox = %settings.subjects.inbox(),
        next_seq = durable + 1,
        "engine loop running"
    );
    let telemetry = Telemetry::new(router.state(), settings.health.clone());
    telemetry.health().loop_started(&client);
    let snapshotter = Snapshotter::spawn(
        router.state(),
        durable,
        SnapshotterOptions {
            dir: dir.clone(),
            snapshot: options.snapshot.clone(),
            every_events: options.snapshot_every_events,
            sink: settings.snapshot_sink.clone(),
        },
    )
    .map_err(|source| EngineError::Thread {
        what: "snapshot",
        source,
    })?;
    // Unbounded, with a bound: see the shell's documentation.
    let (reports, receiver) = tokio::sync::mpsc::unbounded_channel::<Report>();
    let committer =
        GroupCommitter::spawn_reporting(log, CommitterOptions::default(), move |report| {
            // The loop has stopped listening only when it is already shutting down.
            let _ = reports.send(report);
        })
        .map_err(EngineError::Log)?;
    let mut node = Node::new(
        router,
        durable,
        NodeSettings {
            subjects: settings.subjects.clone(),
            batch_max: settings.batch_max,
            idempotency_window: settings.idempotency_window,
            idempotency_entries_max: settings.idempotency_entries_max,
        },
        Sealer::from_os(keys),
    );
    node.restore_receipts(std::mem::take(&mut settings.receipts));
    let mut work = Work::new(wired.js.clone(), wired.events_stream.clone(), dir.clone());
    if let Some(schedule) = settings.retention.clone() {
        node.set_retention(schedule);
    }
    if let Some((schedule, keys)) = node.retention_fold_inputs() {
        work.retention_fold(durable, keys, schedule);
    }
    let mut shell = Shell {
        client,
        wired,
        node,
        keystore,
        committer,
        reports: receiver,
        snapshotter,
        telemetry,
        dir: dir.clone(),
        subjects: settings.subjects.clone(),
        batch_max: settings.batch_max.max(1),
        intake: IntakeAcks::default(),
        work,
        durable_point: None,
        started: Instant::now(),
        clock: wall_now(),
        stopping: false,
    };
    // Serving from here: the takeover's time includes opening the keystore.
    if let Some(serving) = &settings.serving {
        serving.notify_one();
    }
    let shutdown = pin!(shutdown);
    shell.serve(shutdown).await?;
    let health = shell.telemetry.health().clone();
    let (node, log) = shell.stop(settings.shutdown_nats_wait).await?;
    health.loop_stopped();
    let mut engine = Engine::from_parts(EngineParts {
        router: node.into_router(),
        log,
        dir,
        options,
    })?;
    let snapshot = engine.snapshot()?;
    tracing::info!(
        snapshot = snapshot.as_ref().map(|path| path.display().to_string()),
        next_seq = engine.next_seq(),
        "engine stopped cleanly"
    );
    Ok(engine)
}
