//! The single-writer engine loop. See the crate documentation for the order of a turn.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, Message, Subject};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use switchboard_core::Command;
use switchboard_core::{EventKind, Timestamp};
use switchboard_engine::{Engine, EngineError, HistoryFilter, Snapshotter};
use switchboard_log::Report;
use switchboard_wire::{
    ErrorCode, Format, PAYLOAD_BYTES_MAX, QueryKind, Reply, Route, Subjects, WireError,
    names::ID_BYTES_MAX, query::HistoryEvent,
};

use crate::events::EventPublisher;
use crate::health::Health;
use crate::idempotency::ReplyCache;
use crate::telemetry::{self, Telemetry};

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
    /// The readiness state the loop reports into (served on `/readyz`).
    pub health: Health,
}

impl DriverSettings {
    /// Settings for a subject prefix, with defaults for the rest. The streams and the
    /// consumer are named from the prefix, so engines on different prefixes share a NATS
    /// without sharing a stream (`switchboard` gives `SWITCHBOARD_INBOX`,
    /// `SWITCHBOARD_EVENTS` and `switchboard-engine`).
    #[must_use]
    pub fn new(subjects: Subjects) -> Self {
        let base = stream_base(subjects.prefix());
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
            health: Health::new(),
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

/// The stream `config` names, made if missing. An existing one must capture exactly this
/// engine's subjects: one holding other subjects belongs to another engine (or to this one
/// before its prefix changed), and taking it over would take, acknowledge and so delete that
/// engine's intake.
async fn own_stream(
    js: &jetstream::Context,
    config: stream::Config,
    what: &'static str,
) -> Result<stream::Stream, DriverError> {
    let stream = js
        .get_or_create_stream(config.clone())
        .await
        .map_err(nats(what))?;
    let found = &stream.cached_info().config;
    if found.subjects != config.subjects {
        return Err(DriverError::StreamSubjects {
            stream: config.name,
            found: found.subjects.clone(),
            wanted: config.subjects,
        });
    }
    if found.num_replicas != config.num_replicas {
        tracing::warn!(
            stream = %config.name,
            replicas = found.num_replicas,
            configured = config.num_replicas,
            "the stream keeps its replicas as made; change them with `nats stream edit`"
        );
    }
    Ok(stream)
}

/// A JetStream name made from a subject prefix: its tokens upper-cased and joined by `_`, with
/// anything a stream name may not hold made `_` (`switchboard` gives `SWITCHBOARD`).
fn stream_base(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The durable consumer of the intake, with nothing left over from a previous run.
///
/// Messages a previous run took and never acknowledged (it was killed, or stopped with
/// messages still in its pull buffer) would otherwise come back only after the ack wait, behind
/// everything published since. The consumer is made afresh instead: the intake is a work
/// queue, so every message still in the stream is unacknowledged, and a new consumer delivers
/// them all again at once and in the order they were published. Those the previous run had
/// already made durable are refused on their second decision (`duplicate_contact`, say), as a
/// redelivery would be.
async fn intake_consumer(
    inbox: &stream::Stream,
    settings: &DriverSettings,
) -> Result<consumer::PullConsumer, DriverError> {
    let config = consumer::pull::Config {
        durable_name: Some(settings.inbox_consumer.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: settings.inbox_ack_wait,
        max_ack_pending: 20_000,
        ..Default::default()
    };
    let mut consumer: consumer::PullConsumer = inbox
        .get_or_create_consumer(&settings.inbox_consumer, config.clone())
        .await
        .map_err(nats("create the intake consumer"))?;
    let stranded = consumer
        .info()
        .await
        .map_err(nats("read the intake consumer"))?
        .num_ack_pending;
    if stranded == 0 {
        return Ok(consumer);
    }
    inbox
        .delete_consumer(&settings.inbox_consumer)
        .await
        .map_err(nats("remove the intake consumer"))?;
    let consumer = inbox
        .create_consumer(config)
        .await
        .map_err(nats("create the intake consumer"))?;
    tracing::info!(
        stranded,
        "intake messages a previous run took and never acknowledged are delivered again"
    );
    Ok(consumer)
}

/// The wall clock as the core's time. The driver is the one place that reads it.
pub(crate) fn wall_now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// One inbound message of a turn.
enum Input {
    /// A core NATS request on `{p}.cmd.>` (replied to on its reply subject, if any).
    Request(Message),
    /// A JetStream intake message on `{p}.inbox.>` (acknowledged once durable).
    Inbox(Box<jetstream::Message>),
}

/// What to do with one message once the turn's events are durable.
struct Answer {
    reply_to: Option<Subject>,
    format: Format,
    key: Option<String>,
    outcome: Outcome,
    inbox: Option<Box<jetstream::Message>>,
    received: Instant,
}

enum Outcome {
    /// Decided: the command, and its events `first_seq..=last_seq` (none when `first_seq` is
    /// past `last_seq`).
    Decided {
        command: Box<Command>,
        first_seq: u64,
        last_seq: u64,
    },
    /// Refused or invalid: an error reply, no events.
    Refused(WireError),
    /// A repeat of an idempotency key: the first reply, as given.
    Repeat(Bytes),
    /// A repeat of a key first seen earlier in this turn: that answer's reply.
    RepeatInTurn(usize),
}

/// Runs the engine loop until `shutdown` completes, then finishes the current turn, commits,
/// takes a snapshot and returns the engine.
///
/// # Errors
/// JetStream could not be set up, a subscription ended, or the engine's log failed (after which
/// the process must stop and restart to recover).
pub async fn run(
    client: Client,
    engine: Engine,
    settings: DriverSettings,
    shutdown: impl Future<Output = ()>,
) -> Result<Engine, DriverError> {
    let subjects = &settings.subjects;
    let js = jetstream::new(client.clone());
    let inbox = own_stream(
        &js,
        stream::Config {
            name: settings.inbox_stream.clone(),
            subjects: vec![subjects.inbox()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.stream_replicas,
            ..Default::default()
        },
        "create the intake stream",
    )
    .await?;
    let consumer = intake_consumer(&inbox, &settings).await?;
    let mut events_stream = own_stream(
        &js,
        stream::Config {
            name: settings.events_stream.clone(),
            subjects: vec![subjects.events_wildcard()],
            storage: stream::StorageType::File,
            max_age: settings.events_max_age,
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.stream_replicas,
            ..Default::default()
        },
        "create the events stream",
    )
    .await?;

    let mut commands = client
        .subscribe(subjects.commands())
        .await
        .map_err(nats("subscribe to commands"))?;
    let mut queries = client
        .subscribe(subjects.queries())
        .await
        .map_err(nats("subscribe to queries"))?;
    // `subscribe` only writes the subscriptions out. nats-server takes one connection's
    // operations in order, so once it has answered a request sent after them it routes commands
    // and queries here: only then is the engine ready (a command sent before would meet no
    // responder).
    events_stream
        .info()
        .await
        .map_err(nats("confirm the subscriptions"))?;
    let mut intake = consumer
        .messages()
        .await
        .map_err(nats("consume the intake"))?;
    let mut cache = ReplyCache::new(
        settings.idempotency_entries_max,
        settings.idempotency_window,
    );
    tracing::info!(
        commands = %subjects.commands(),
        inbox = %subjects.inbox(),
        next_seq = engine.next_seq(),
        "engine loop running"
    );

    let mut telemetry = Telemetry::new(engine.state(), settings.health.clone());
    telemetry.health().loop_started(&client);
    // The log moves onto the group committer's thread: a turn's `fdatasync` runs while the
    // loop decides the next turn, and each turn's answers wait in `in_flight` until the
    // committer reports its events durable.
    let (reports, mut durable_reports) = tokio::sync::mpsc::unbounded_channel::<Report>();
    let mut engine = engine.group_commit(move |report| {
        // The loop has stopped listening only when it is already shutting down.
        let _ = reports.send(report);
    })?;
    let mut in_flight = InFlight::new(engine.next_seq() - 1, engine.snapshotter()?);
    let publisher = EventPublisher::spawn(
        client.clone(),
        subjects.clone(),
        events_stream.clone(),
        engine.dir().to_path_buf(),
        engine.next_seq() - 1,
    );
    let mut sample_timer = tokio::time::interval(Duration::from_secs(1));
    sample_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut shutdown = pin!(shutdown.fuse());
    let mut batch: Vec<Input> = Vec::with_capacity(settings.batch_max);
    let history_reads = Arc::new(tokio::sync::Semaphore::new(HISTORY_READS_MAX));
    loop {
        let timer = engine
            .poll_timeout()
            .map(|at| at.saturating_since(wall_now()));
        let sleep = async {
            match timer {
                Some(wait) => tokio::time::sleep(wait).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            report = durable_reports.recv() => {
                match report {
                    Some(report) => {
                        in_flight
                            .reported(report, &client, &publisher, &mut telemetry)
                            .await?;
                    }
                    None => {
                        in_flight.log_failed(&client, Vec::new()).await;
                        return Err(DriverError::Engine(EngineError::Log(
                            switchboard_log::LogError::WriterStopped,
                        )));
                    }
                }
                continue;
            }
            _ = sample_timer.tick() => {
                telemetry.sample(&engine, wall_now(), Instant::now());
                continue;
            }
            message = commands.next() => match message {
                Some(message) => batch.push(Input::Request(message)),
                None => return Err(DriverError::SubscriptionEnded(subjects.commands())),
            },
            message = intake.next() => match message {
                Some(Ok(message)) => batch.push(Input::Inbox(Box::new(message))),
                Some(Err(error)) => {
                    telemetry::intake_error();
                    tracing::warn!(%error, "intake consumer error");
                }
                None => return Err(DriverError::SubscriptionEnded(subjects.inbox())),
            },
            message = queries.next() => match message {
                Some(message) => {
                    query(&client, &engine, subjects, &history_reads, &mut in_flight, &publisher, &message).await?;
                    continue;
                }
                None => return Err(DriverError::SubscriptionEnded(subjects.queries())),
            },
            () = sleep => {}
        }
        // Take whatever else has already arrived, without waiting, up to the batch bound.
        while batch.len() < settings.batch_max {
            match commands.next().now_or_never() {
                Some(Some(message)) => batch.push(Input::Request(message)),
                _ => break,
            }
        }
        while batch.len() < settings.batch_max {
            match intake.next().now_or_never() {
                Some(Some(Ok(message))) => batch.push(Input::Inbox(Box::new(message))),
                _ => break,
            }
        }
        let turn = match turn(
            &mut engine,
            subjects,
            &mut cache,
            &mut telemetry,
            std::mem::take(&mut batch),
        ) {
            Ok(turn) => turn,
            Err(failed) => {
                in_flight.log_failed(&client, failed.waiting).await;
                return Err(failed.error);
            }
        };
        in_flight.push(turn);
        in_flight.release(&client, &publisher).await?;
        // Queries that arrived meanwhile, a bounded number per turn: commands, taken first,
        // would otherwise keep a wallboard waiting for as long as they keep coming.
        for _ in 0..QUERIES_PER_TURN_MAX {
            let Some(Some(message)) = queries.next().now_or_never() else {
                break;
            };
            query(
                &client,
                &engine,
                subjects,
                &history_reads,
                &mut in_flight,
                &publisher,
                &message,
            )
            .await?;
        }
    }

    // Shutdown: intake stops; what was taken is finished, made durable and answered.
    tracing::info!(
        pending = batch.len(),
        in_flight = in_flight.turns.len(),
        "shutting down: finishing the last turn"
    );
    let turn = match turn(&mut engine, subjects, &mut cache, &mut telemetry, batch) {
        Ok(turn) => turn,
        Err(failed) => {
            in_flight.log_failed(&client, failed.waiting).await;
            return Err(failed.error);
        }
    };
    in_flight.push(turn);
    let mut engine = match engine.direct_commit() {
        Ok(engine) => engine,
        Err(error) => {
            in_flight.log_failed(&client, Vec::new()).await;
            return Err(error.into());
        }
    };
    in_flight.set_durable(engine.next_seq() - 1);
    // Everything is durable now; what is left is telling NATS, which may be down. Each step
    // waits for it a bounded time, so a stop never hangs on a lost connection: senders retry
    // what got no reply, JetStream redelivers what got no ack, and the next start publishes the
    // events the stream lacks.
    let wait = settings.shutdown_nats_wait;
    match tokio::time::timeout(wait, in_flight.release(&client, &publisher)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the last replies and acks may not have gone out"),
        Err(_) => tracing::warn!(
            wait_secs = wait.as_secs_f64(),
            "NATS did not take the last replies and acks in time; their senders will retry"
        ),
    }
    // The last snapshot is taken here; the follower stops first.
    in_flight.snapshotter.stop();
    telemetry.health().loop_stopped();
    let snapshot = engine.snapshot()?;
    // Every committed event reaches the events stream before a clean stop, NATS willing.
    publisher.finish(wait).await;
    if tokio::time::timeout(wait, client.flush()).await.is_err() {
        tracing::warn!(
            wait_secs = wait.as_secs_f64(),
            "NATS did not take the last messages in time"
        );
    }
    tracing::info!(
        snapshot = snapshot.as_ref().map(|path| path.display().to_string()),
        next_seq = engine.next_seq(),
        "engine stopped cleanly"
    );
    Ok(engine)
}

/// After a log failure, how long the `unavailable` replies to what was waiting may take to go
/// out (NATS may be down too; the process stops either way).
const LOG_FAILED_NATS_WAIT: Duration = Duration::from_secs(5);

/// The reply to a request whose events the log failed to make durable (or whose reply waited
/// for earlier ones that were not): not known to be durable, so to be sent again.
fn log_failed_error() -> WireError {
    WireError::new(
        ErrorCode::Unavailable,
        "the engine's event log could not be written and the engine is stopping; this was not \
         acknowledged: send it again, with the same idempotency key, once the engine is back",
    )
}

/// A turn the log refused: why, and the requests of the turn that wait for a reply.
struct TurnFailed {
    error: DriverError,
    waiting: Vec<(Subject, Format)>,
}

/// A turn decided and submitted to the log, with everything it sends once durable.
struct Turn {
    /// Nothing of the turn goes out before the log is durable up to here: its own last event,
    /// or, for a turn without events, the last event decided before it (its refusals and
    /// repeats were decided against a state that includes those).
    durable_at: u64,
    /// Replies to commands, in order, each with the format its request came in (for an
    /// `unavailable` reply in its place should the log fail).
    replies: Vec<(Subject, Bytes, Format)>,
    /// Intake messages to acknowledge.
    acks: Vec<jetstream::Message>,
    /// When each message of the turn was taken (for the reply latency metric).
    received: Vec<Instant>,
    /// Offers and desktop notices, made from the state as the turn left it.
    notices: Vec<(Subject, Bytes)>,
    /// The turn's events and the first one's sequence number, for the events stream.
    events: Option<(u64, Vec<switchboard_core::Event>)>,
}

/// Turns waiting for durability, oldest first, and the durable point reported so far.
struct InFlight {
    turns: std::collections::VecDeque<Turn>,
    durable_seq: u64,
    /// The durable point, for replies made off the loop (a contact query) to wait on.
    durable_watch: tokio::sync::watch::Sender<u64>,
    /// Follows the durable events and writes snapshots off the loop.
    snapshotter: Snapshotter,
}

impl InFlight {
    fn new(durable_seq: u64, snapshotter: Snapshotter) -> Self {
        Self {
            turns: std::collections::VecDeque::new(),
            durable_seq,
            durable_watch: tokio::sync::watch::Sender::new(durable_seq),
            snapshotter,
        }
    }

    /// Moves the durable point forward (never back) and tells whoever waits on it.
    fn set_durable(&mut self, seq: u64) {
        self.durable_seq = self.durable_seq.max(seq);
        self.durable_watch.send_replace(self.durable_seq);
    }

    fn push(&mut self, turn: Turn) {
        self.turns.push_back(turn);
    }

    /// A query's reply, held (as a turn of its own) until `durable_at` is durable.
    fn push_query(&mut self, durable_at: u64, reply_to: Subject, bytes: Bytes, format: Format) {
        self.turns.push_back(Turn {
            durable_at,
            replies: vec![(reply_to, bytes, format)],
            acks: Vec::new(),
            received: Vec::new(),
            notices: Vec::new(),
            events: None,
        });
    }

    /// Takes in the committer's report: a new durable point (then releases what it covers),
    /// or the failure that stops the engine.
    async fn reported(
        &mut self,
        report: Report,
        client: &Client,
        publisher: &EventPublisher,
        telemetry: &mut Telemetry,
    ) -> Result<(), DriverError> {
        match report {
            Report::Durable(group) => {
                telemetry.group_durable(&group);
                self.set_durable(group.durable.up_to_seq);
                self.release(client, publisher).await?;
                // Every turn up to the durable point has been released (a group holds whole
                // turns), so the snapshotter has had every event up to it.
                self.snapshotter
                    .durable(group.durable.up_to_seq, group.durable.head_hash);
                Ok(())
            }
            Report::Failed(error) => {
                telemetry.log_failed();
                self.log_failed(client, Vec::new()).await;
                Err(DriverError::Engine(EngineError::Log(error)))
            }
        }
    }

    /// The log failed, so nothing waiting here will become durable: every command and query
    /// waiting for a reply (those of the turns in flight, and `unsubmitted`, the requests of a
    /// turn the log refused) is answered `unavailable` now rather than left to time out.
    /// Intake messages are not acknowledged (JetStream delivers them again to the next run);
    /// offers, notices and events are dropped. NATS gets [`LOG_FAILED_NATS_WAIT`] at most.
    async fn log_failed(&mut self, client: &Client, unsubmitted: Vec<(Subject, Format)>) {
        let waiting: Vec<(Subject, Format)> = self
            .turns
            .drain(..)
            .flat_map(|turn| turn.replies)
            .map(|(reply_to, _, format)| (reply_to, format))
            .chain(unsubmitted)
            .collect();
        let replies = waiting.len();
        let send = async {
            for (reply_to, format) in waiting {
                telemetry::bad_message(ErrorCode::Unavailable.as_str());
                let bytes =
                    switchboard_wire::encode_reply(&Reply::Error(log_failed_error()), format);
                client
                    .publish(reply_to, Bytes::from(bytes))
                    .await
                    .map_err(nats("send an unavailable reply"))?;
            }
            client
                .flush()
                .await
                .map_err(nats("flush the unavailable replies"))
        };
        match tokio::time::timeout(LOG_FAILED_NATS_WAIT, send).await {
            Ok(Ok(())) => tracing::info!(
                replies,
                "requests waiting for the failed log were answered unavailable"
            ),
            Ok(Err(error)) => tracing::warn!(
                %error,
                replies,
                "could not answer the requests waiting for the failed log; their senders will retry"
            ),
            Err(_) => tracing::warn!(
                replies,
                "NATS did not take the unavailable replies in time; their senders will retry"
            ),
        }
    }

    /// Sends everything of the turns now durable, in order: replies and acknowledgements,
    /// then offers and notices, then hands their events to the events stream's publisher; one
    /// flush.
    async fn release(
        &mut self,
        client: &Client,
        publisher: &EventPublisher,
    ) -> Result<(), DriverError> {
        let mut sent = false;
        while self
            .turns
            .front()
            .is_some_and(|turn| turn.durable_at <= self.durable_seq)
        {
            let Some(turn) = self.turns.pop_front() else {
                break;
            };
            sent = true;
            for (reply_to, bytes, _) in turn.replies {
                if let Err(error) = client.publish(reply_to, bytes).await {
                    tracing::warn!(%error, "could not send a reply");
                }
            }
            for inbox in turn.acks {
                if let Err(error) = inbox.ack().await {
                    tracing::warn!(%error, "could not acknowledge an intake message");
                }
            }
            for received in turn.received {
                telemetry::command_replied(received.elapsed());
            }
            for (subject, bytes) in turn.notices {
                if let Err(error) = client.publish(subject, bytes).await {
                    tracing::warn!(%error, "could not publish an offer or a desktop notice");
                }
            }
            if let Some((first_seq, events)) = turn.events {
                let events = Arc::new(events);
                self.snapshotter.events(first_seq, Arc::clone(&events));
                publisher.publish(first_seq, events);
            }
        }
        if sent {
            client.flush().await.map_err(nats("flush a turn"))?;
        }
        Ok(())
    }
}

/// One turn: decide the batch and submit its events to the log. What it sends waits for the
/// events to be durable (see [`InFlight`]).
fn turn(
    engine: &mut Engine,
    subjects: &Subjects,
    cache: &mut ReplyCache,
    telemetry: &mut Telemetry,
    batch: Vec<Input>,
) -> Result<Turn, TurnFailed> {
    let now = wall_now();
    let started = Instant::now();
    if engine.tick(now) > 0 {
        telemetry::routing_decision("timer", started.elapsed());
    }
    let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
    for input in batch {
        let received = Instant::now();
        let (message, inbox) = match input {
            Input::Request(message) => (message, None),
            Input::Inbox(message) => {
                let plain = message.message.clone();
                (plain, Some(message))
            }
        };
        let format = Format::from_content_type(header(&message, "Content-Type"));
        let mut key = header(&message, "Nats-Msg-Id").map(str::to_owned);
        let outcome = decide(
            engine, subjects, cache, &answers, &message, format, &mut key, now, received,
        );
        if let Outcome::Refused(error) = &outcome {
            telemetry.refused(error.code.as_str(), now);
        }
        answers.push(Answer {
            // An intake message's reply subject is JetStream's acknowledgement subject: it is
            // acknowledged (once durable), never sent a reply.
            reply_to: if inbox.is_some() {
                None
            } else {
                message.reply.clone()
            },
            format,
            key,
            outcome,
            inbox,
            received,
        });
    }

    let submitted = match engine.submit() {
        Ok(submitted) => submitted,
        Err(error) => {
            telemetry.log_failed();
            return Err(TurnFailed {
                error: error.into(),
                waiting: answers
                    .into_iter()
                    .filter_map(|answer| answer.reply_to.map(|reply_to| (reply_to, answer.format)))
                    .collect(),
            });
        }
    };
    let messages = answers.len();
    let durable_at = engine.next_seq() - 1;
    let no_events = Vec::new();
    let (first_seq, events) = submitted
        .as_ref()
        .map_or((0, &no_events), |s| (s.first_seq, &s.events));
    if let Some(submitted) = &submitted {
        telemetry.submitted(&submitted.events, submitted.last_seq, engine.state());
    }

    // The replies, made now (and remembered for repeats at once, so a repeat in the next turn
    // gets this reply, not a second effect); sent once durable.
    let mut replies: Vec<Option<Bytes>> = Vec::with_capacity(answers.len());
    for answer in &answers {
        let bytes = match &answer.outcome {
            Outcome::Decided {
                command,
                first_seq: from,
                last_seq: to,
            } => {
                let own = events
                    .iter()
                    .enumerate()
                    .map(|(i, event)| (first_seq + i as u64, event))
                    .filter(|&(seq, _)| seq >= *from && seq <= *to);
                let body = switchboard_wire::reply_body(command, own);
                Some(Bytes::from(switchboard_wire::encode_reply(
                    &Reply::Ok(body),
                    answer.format,
                )))
            }
            Outcome::Refused(error) => Some(Bytes::from(switchboard_wire::encode_reply(
                &Reply::Error(error.clone()),
                answer.format,
            ))),
            Outcome::Repeat(bytes) => Some(bytes.clone()),
            Outcome::RepeatInTurn(first) => replies.get(*first).cloned().flatten(),
        };
        replies.push(bytes);
    }
    let now_instant = Instant::now();
    let mut turn = Turn {
        durable_at,
        replies: Vec::with_capacity(answers.len()),
        acks: Vec::new(),
        received: Vec::with_capacity(answers.len()),
        notices: Vec::new(),
        events: None,
    };
    for (answer, bytes) in answers.into_iter().zip(replies) {
        let Some(bytes) = bytes else { continue };
        if let (Some(key), Outcome::Decided { .. } | Outcome::Refused(_)) =
            (&answer.key, &answer.outcome)
        {
            cache.insert(key.clone(), bytes.clone(), now_instant);
        }
        if let Some(reply_to) = answer.reply_to {
            turn.replies.push((reply_to, bytes, answer.format));
        }
        if let Some(inbox) = answer.inbox {
            turn.acks.push(*inbox);
        }
        turn.received.push(answer.received);
    }
    telemetry::turn_finished(messages, cache.len());
    if let Some(submitted) = submitted {
        // Offers and notices read the state as this turn left it, so they are written now.
        for event in &submitted.events {
            desktop_notices(engine, subjects, event, &mut turn.notices);
        }
        turn.events = Some((submitted.first_seq, submitted.events));
    }
    Ok(turn)
}

/// What one event tells agents' desktops: an offer, and the notices (offer revoked or
/// expired, assigned, presence) on `{p}.agent.<id>.<notice>`, as (subject, body) pairs.
fn desktop_notices(
    engine: &Engine,
    subjects: &Subjects,
    event: &switchboard_core::Event,
    notices: &mut Vec<(Subject, Bytes)>,
) {
    if let EventKind::OfferMade(made) = &event.kind
        && let Some(notice) = switchboard_wire::offer_notice(engine.state(), made)
    {
        match switchboard_wire::encode_offer(&notice, Format::Json) {
            Ok(bytes) => notices.push((
                Subject::from(subjects.agent_offer(&made.agent)),
                Bytes::from(bytes),
            )),
            Err(error) => {
                tracing::error!(%error, offer = %made.offer, "an offer could not be written");
            }
        }
    }
    for (agent, notice) in switchboard_wire::agent_notices(event) {
        let name = notice.name();
        match switchboard_wire::encode_agent_notice(&notice, Format::Json) {
            Ok(bytes) => notices.push((
                Subject::from(subjects.agent_notice(&agent, name)),
                Bytes::from(bytes),
            )),
            Err(error) => {
                tracing::error!(%error, %agent, notice = name, "an agent notice could not be written");
            }
        }
    }
}

/// Decodes, checks the idempotency key and decides one message.
#[expect(
    clippy::too_many_arguments,
    reason = "one message's whole context, called from one place"
)]
fn decide(
    engine: &mut Engine,
    subjects: &Subjects,
    cache: &mut ReplyCache,
    earlier: &[Answer],
    message: &Message,
    format: Format,
    key: &mut Option<String>,
    now: Timestamp,
    received: Instant,
) -> Outcome {
    let refuse = |error: WireError| {
        telemetry::bad_message(error.code.as_str());
        crate::refusals::log_refusal(&message.subject, error.code.as_str(), &error.message);
        Outcome::Refused(error)
    };
    if message.payload.len() > PAYLOAD_BYTES_MAX {
        *key = None;
        return refuse(WireError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the body is {} bytes; at most {PAYLOAD_BYTES_MAX} are accepted",
                message.payload.len()
            ),
        ));
    }
    let (kind, agent) = match subjects.parse(message.subject.as_str()) {
        Ok(Route::Command(kind, agent)) => (kind, agent),
        Ok(Route::Query(_)) => {
            *key = None;
            return refuse(WireError::unknown_subject(message.subject.as_str()));
        }
        Err(error) => {
            *key = None;
            return refuse(error);
        }
    };
    if let Some(header) = key.as_deref()
        && header.len() > ID_BYTES_MAX
    {
        let length = header.len();
        *key = None;
        return refuse(WireError::invalid(format!(
            "the Nats-Msg-Id header is {length} bytes long, more than {ID_BYTES_MAX}"
        )));
    }
    let decoded =
        match switchboard_wire::decode_command(kind, agent.as_ref(), &message.payload, format) {
            Ok(decoded) => decoded,
            Err(error) => {
                // Not a command that was decided, so no reply to remember: a sender that
                // fixes its body and repeats the key gets the decision, not this refusal.
                *key = None;
                return refuse(error);
            }
        };
    if key.is_none() {
        key.clone_from(&decoded.command_id);
    }
    // A key is the sender's for one kind of command (and one agent): another sender's command
    // under the same key is a different command and never gets that sender's reply.
    if let Some(k) = key.take() {
        let agent = agent.as_ref().map_or("", |a| a.as_str());
        *key = Some(format!("{} {agent} {k}", kind.verb()));
    }
    if let Some(k) = key.as_deref() {
        if let Some(first) = earlier.iter().position(|a| a.key.as_deref() == Some(k)) {
            telemetry::repeated_command();
            return Outcome::RepeatInTurn(first);
        }
        if let Some(bytes) = cache.get(k, received) {
            telemetry::repeated_command();
            return Outcome::Repeat(bytes);
        }
    }
    let command = Box::new(decoded.command.clone());
    let first_seq = engine.next_seq();
    let started = Instant::now();
    let decided = engine.decide(decoded.command, now);
    telemetry::routing_decision("command", started.elapsed());
    match decided {
        Ok(_) => {
            telemetry::command_decided(kind.verb(), true);
            Outcome::Decided {
                command,
                first_seq,
                last_seq: engine.next_seq() - 1,
            }
        }
        Err(rejection) => {
            telemetry::command_decided(kind.verb(), false);
            refuse(WireError::from(&rejection))
        }
    }
}

fn header<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message.headers.as_ref()?.get(name).map(|v| v.as_str())
}

/// The most queries answered between two turns when commands keep the loop busy.
const QUERIES_PER_TURN_MAX: usize = 64;

/// The most contact histories read from the log at once (each reads the log on a blocking
/// thread); a contact query beyond it is refused `unavailable`, to be asked again.
const HISTORY_READS_MAX: usize = 4;

/// Answers one query; its reply waits in `in_flight` until everything decided before it is
/// durable (what the query read includes those events).
async fn query(
    client: &Client,
    engine: &Engine,
    subjects: &Subjects,
    history_reads: &Arc<tokio::sync::Semaphore>,
    in_flight: &mut InFlight,
    publisher: &EventPublisher,
    message: &Message,
) -> Result<(), DriverError> {
    let durable = in_flight.durable_watch.subscribe();
    if let Some((reply_to, bytes)) =
        answer_query(client, engine, subjects, history_reads, message, durable)
    {
        let format = Format::from_content_type(header(message, "Content-Type"));
        in_flight.push_query(engine.next_seq() - 1, reply_to, bytes, format);
        in_flight.release(client, publisher).await?;
    }
    Ok(())
}

/// Answers a read-only query: returns the reply to send once everything decided so far is
/// durable. A contact query is answered off the loop's thread and returns `None`: its task
/// waits on `durable` for the same point, then reads the history from the log.
fn answer_query(
    client: &Client,
    engine: &Engine,
    subjects: &Subjects,
    history_reads: &Arc<tokio::sync::Semaphore>,
    message: &Message,
    mut durable: tokio::sync::watch::Receiver<u64>,
) -> Option<(Subject, Bytes)> {
    let reply_to = message.reply.clone()?;
    let format = Format::from_content_type(header(message, "Content-Type"));
    let now = wall_now();
    let state = engine.state();
    let kind = match subjects.parse(message.subject.as_str()) {
        Ok(Route::Query(kind)) => kind,
        Ok(Route::Command(..)) => return None,
        Err(error) => {
            return Some((
                reply_to,
                Bytes::from(switchboard_wire::encode_reply(&Reply::Error(error), format)),
            ));
        }
    };
    telemetry::query_answered(kind.as_str());
    let refuse = |error: WireError| {
        telemetry::bad_message(error.code.as_str());
        crate::refusals::log_refusal(&message.subject, error.code.as_str(), &error.message);
        Some((
            reply_to.clone(),
            Bytes::from(switchboard_wire::encode_reply(&Reply::Error(error), format)),
        ))
    };
    // Like every request, a query that takes no fields refuses a body that has some.
    if matches!(kind, QueryKind::Queues | QueryKind::Agents)
        && let Err(error) = switchboard_wire::decode_empty_query(&message.payload, format)
    {
        return refuse(error);
    }
    let bytes = match kind {
        QueryKind::Queues => switchboard_wire::encode_query_reply(
            &switchboard_wire::queues_reply(engine.router(), now),
            format,
        ),
        QueryKind::Agents => switchboard_wire::encode_query_reply(
            &switchboard_wire::agents_reply(state, now),
            format,
        ),
        QueryKind::Contact => {
            let query = match switchboard_wire::decode_contact_query(&message.payload, format) {
                Ok(query) => query,
                Err(error) => return refuse(error),
            };
            let Ok(permit) = history_reads.clone().try_acquire_owned() else {
                telemetry::bad_message(ErrorCode::Unavailable.as_str());
                let busy = WireError::new(
                    ErrorCode::Unavailable,
                    format!(
                        "{HISTORY_READS_MAX} contact histories are being read already; \
                         ask again in a moment"
                    ),
                );
                return Some((
                    reply_to,
                    Bytes::from(switchboard_wire::encode_reply(&Reply::Error(busy), format)),
                ));
            };
            // The state's part now; the history is read from the log off the loop's thread.
            let known = state.contact(&query.contact_id).is_some()
                || state.finished_contact(&query.contact_id).is_some();
            let current = known
                .then(|| switchboard_wire::contact_reply(state, &query.contact_id, Vec::new()));
            let dir = engine.dir().to_path_buf();
            let client = client.clone();
            // The state's part includes every event decided so far: the reply waits until they
            // are durable, and the history is read after that, so it holds them too.
            let read = engine.next_seq() - 1;
            tokio::spawn(async move {
                if durable.wait_for(|seq| *seq >= read).await.is_err() {
                    // The loop stopped before they were durable (a clean stop makes everything
                    // durable first, so the log failed): `unavailable`, as for a command.
                    let bytes =
                        switchboard_wire::encode_reply(&Reply::Error(log_failed_error()), format);
                    if let Err(error) = client.publish(reply_to, Bytes::from(bytes)).await {
                        tracing::debug!(%error, "could not send an unavailable query reply");
                    }
                    return;
                }
                let id = query.contact_id.clone();
                // Up to what the state's part holds: records after it may not be durable yet.
                let history = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    switchboard_engine::history_up_to(&dir, &HistoryFilter::Contact(id), read)
                })
                .await;
                let history = match history {
                    Ok(Ok(history)) => history,
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "could not read a contact's history");
                        Vec::new()
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the history reader failed");
                        Vec::new()
                    }
                };
                let reply = match current {
                    Some(mut reply) => {
                        reply.history = history
                            .into_iter()
                            .map(|(seq, event)| HistoryEvent { seq, event })
                            .collect();
                        reply
                    }
                    // Not in the state (finished long ago, or never): the log alone tells.
                    None => switchboard_wire::contact_reply(
                        &switchboard_core::State::new(),
                        &query.contact_id,
                        history,
                    ),
                };
                let bytes = switchboard_wire::encode_query_reply(&reply, format);
                if let Err(error) = client.publish(reply_to, Bytes::from(bytes)).await {
                    tracing::warn!(%error, "could not send a query reply");
                }
            });
            return None;
        }
    };
    Some((reply_to, Bytes::from(bytes)))
}
