//! Setting the engine up on NATS: the intake and events streams (made if missing, refused if
//! they belong to another engine), the intake's durable consumer with nothing left over from a
//! previous run, and the subscriptions, confirmed before the engine says it is ready. In
//! cluster mode each request is tried again while its group elects a leader, and the intake is
//! set up behind the loop ([`super::SetupRetry`]).

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, Subscriber};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::io::IntakeMessage;
use super::{DriverError, DriverSettings, SetupRetry, nats};

/// What the shell listens to and publishes into.
pub(super) struct Wired {
    /// JetStream, for the events stream's publishes.
    pub(super) js: jetstream::Context,
    /// The events stream (its tail is read at start and after a refusal for order).
    pub(super) events_stream: stream::Stream,
    /// Command requests, `{p}.cmd.>`.
    pub(super) commands: Subscriber,
    /// Queries, `{p}.query.>`.
    pub(super) queries: Subscriber,
    /// The durable intake, `{p}.inbox.>`; it ends if its set-up behind the loop failed.
    pub(super) intake: BoxStream<'static, IntakeMessage>,
}

/// Makes (or checks) the streams and the intake consumer and subscribes; returns once
/// nats-server routes commands and queries here.
///
/// With [`DriverSettings::setup_retry`] (cluster mode) the intake is set up behind the loop
/// instead: commands and queries are served while the intake stream and its consumer are made,
/// which may wait seconds for their leader's election after a nats-server restart (intake
/// messages wait in their stream meanwhile). If that set-up fails after its tries, the intake
/// ends, and the loop with it ([`DriverError::SubscriptionEnded`]).
pub(super) async fn wire(client: &Client, settings: &DriverSettings) -> Result<Wired, DriverError> {
    let subjects = &settings.subjects;
    let js = jetstream::new(client.clone());
    let setup = IntakeSetup {
        js: js.clone(),
        stream: stream::Config {
            name: settings.inbox_stream.clone(),
            subjects: vec![subjects.inbox()],
            storage: stream::StorageType::File,
            retention: stream::RetentionPolicy::WorkQueue,
            duplicate_window: Duration::from_secs(120),
            num_replicas: settings.stream_replicas,
            ..Default::default()
        },
        consumer: settings.inbox_consumer.clone(),
        ack_wait: settings.inbox_ack_wait,
        retry: settings.setup_retry,
    };
    let intake = if settings.setup_retry.is_some() {
        setup.behind_the_loop()
    } else {
        setup.consume().await?.boxed()
    };
    let events_config = stream::Config {
        name: settings.events_stream.clone(),
        subjects: vec![subjects.events_wildcard()],
        storage: stream::StorageType::File,
        max_age: settings.events_max_age,
        duplicate_window: Duration::from_secs(120),
        num_replicas: settings.stream_replicas,
        ..Default::default()
    };
    let what = "create the events stream";
    let events_stream = tried(settings.setup_retry, what, || {
        own_stream(&js, events_config.clone(), what)
    })
    .await?;
    let commands = client
        .subscribe(subjects.commands())
        .await
        .map_err(nats("subscribe to commands"))?;
    let queries = client
        .subscribe(subjects.queries())
        .await
        .map_err(nats("subscribe to queries"))?;
    // `subscribe` only writes the subscriptions out. nats-server takes one connection's
    // operations in order, so once it has answered a request sent after them it routes commands
    // and queries here: only then is the engine ready (a command sent before would meet no
    // responder).
    let what = "confirm the subscriptions";
    tried(settings.setup_retry, what, || {
        let mut stream = events_stream.clone();
        async move { stream.info().await.map_err(nats(what)).map(|_| ()) }
    })
    .await?;
    Ok(Wired {
        js,
        events_stream,
        commands,
        queries,
        intake,
    })
}

/// What making the intake stream and its consumer takes.
struct IntakeSetup {
    js: jetstream::Context,
    stream: stream::Config,
    /// The durable consumer's name.
    consumer: String,
    ack_wait: Duration,
    retry: Option<SetupRetry>,
}

impl IntakeSetup {
    /// Makes (or checks) the intake stream and its consumer, and consumes it.
    async fn consume(&self) -> Result<consumer::pull::Stream, DriverError> {
        let what = "create the intake stream";
        let inbox = tried(self.retry, what, || {
            own_stream(&self.js, self.stream.clone(), what)
        })
        .await?;
        let what = "create the intake consumer";
        let consumer = tried(self.retry, what, || {
            intake_consumer(&inbox, &self.consumer, self.ack_wait)
        })
        .await?;
        consumer
            .messages()
            .await
            .map_err(nats("consume the intake"))
    }

    /// The intake, set up when first polled: its messages once [`IntakeSetup::consume`] has
    /// succeeded, or an end (logged) if it failed.
    fn behind_the_loop(self) -> BoxStream<'static, IntakeMessage> {
        let started = Instant::now();
        futures::stream::once(async move {
            match self.consume().await {
                Ok(messages) => {
                    tracing::info!(
                        took_ms = started.elapsed().as_millis(),
                        "consuming the intake"
                    );
                    messages.boxed()
                }
                Err(error) => {
                    tracing::warn!(%error, "could not set the intake up; the loop stops");
                    futures::stream::empty().boxed()
                }
            }
        })
        .flatten()
        .boxed()
    }
}

/// Runs one set-up request as `retry` says ([`SetupRetry`]; `None`: once): a try that
/// NATS fails or leaves unanswered past `per_try` (a stream or consumer electing its leader
/// after a nats-server restart answers nothing) is tried again, after a pause of a fifth of
/// `per_try`, until `within` has passed since the first; a refusal of what is there (a stream of
/// another engine's subjects) is not. Each step is safe to repeat: it makes what is missing and
/// checks what is there.
pub(super) async fn tried<T, F, Fut>(
    retry: Option<SetupRetry>,
    what: &'static str,
    mut step: F,
) -> Result<T, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, DriverError>>,
{
    let Some(retry) = retry else {
        return step().await;
    };
    let started = Instant::now();
    let mut attempt = 1_u32;
    loop {
        let error = match tokio::time::timeout(retry.per_try, step()).await {
            Ok(Err(error @ DriverError::Nats { .. })) => error,
            Ok(done) => {
                if attempt > 1 {
                    tracing::info!(
                        attempt,
                        took_ms = started.elapsed().as_millis(),
                        "could {what} on a later try"
                    );
                }
                return done;
            }
            Err(elapsed) => nats(what)(elapsed),
        };
        if started.elapsed() >= retry.within {
            return Err(error);
        }
        tracing::debug!(%error, attempt, "could not {what}; trying again");
        attempt += 1;
        tokio::time::sleep(retry.per_try / 5).await;
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
pub(super) fn stream_base(prefix: &str) -> String {
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
    name: &str,
    ack_wait: Duration,
) -> Result<consumer::PullConsumer, DriverError> {
    let config = consumer::pull::Config {
        durable_name: Some(name.to_owned()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait,
        max_ack_pending: 20_000,
        ..Default::default()
    };
    let mut consumer: consumer::PullConsumer = inbox
        .get_or_create_consumer(name, config.clone())
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
        .delete_consumer(name)
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
