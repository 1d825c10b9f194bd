//! The events stream's shell: a task that moves bytes between an [`EventsFeed`] (which holds
//! every rule: order, confirmation, retries, where to resume) and JetStream, the log and the
//! clock. Every durable event goes, in sequence order, as JSON to `{p}.events.<type>`, kept by a
//! JetStream stream, stored exactly once and in log order (see `feed.rs` for how).
//!
//! - The loop never waits for the stream: it hands each turn's durable events over with
//!   `try_send`; when the channel is full it says only how far the log is durable (a watch), and
//!   the feed reads those events back from the log.
//! - At start-up the feed reads the stream's last event and resumes after it; the shell checks
//!   that the stream's message count matches its first and last events, and says so loudly if a
//!   build before ordered publishing left it with an event out of order or twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::Client;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use switchboard_core::Event;
use switchboard_engine::EngineError;
use switchboard_wire::Subjects;
use tokio::sync::{mpsc, watch};

use crate::driver::SEQ_HEADER;
use crate::feed::{self, Ack, EventsFeed, StreamTail, Transmit};
use crate::telemetry;

/// The most turns of events waiting for the feed in memory; beyond, they are read back from the
/// log when the feed gets to them.
const TURNS_BEHIND_MAX: usize = 1024;

/// The most transmits the shell carries out before it looks at its inputs again.
const TRANSMITS_PER_ROUND_MAX: usize = 1024;

/// One turn's durable events: the first one's sequence number, and the events.
type Batch = (u64, Arc<Vec<Event>>);

/// A log read on a blocking thread.
type LogRead = tokio::task::JoinHandle<Result<Vec<Event>, EngineError>>;

/// JetStream's answer to one publish: the event, its attempt, the answer, and the error if it
/// was not stored.
type Answer = (u64, u64, Ack, Option<String>);

/// The events stream's publisher: a task of its own, fed by the loop.
pub(crate) struct EventPublisher {
    sender: mpsc::Sender<Batch>,
    /// How far the log is durable, raised when a batch did not fit in the channel.
    left_in_log: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl EventPublisher {
    /// Starts the feed of the events stream `stream` for a log (at `dir`) durable up to
    /// `durable`: it resumes after the stream's last event.
    pub(crate) fn spawn(
        client: Client,
        subjects: Subjects,
        stream: stream::Stream,
        dir: PathBuf,
        durable: u64,
    ) -> Self {
        let (sender, receiver) = mpsc::channel::<Batch>(TURNS_BEHIND_MAX);
        let (left_in_log, left) = watch::channel(durable);
        let shell = Shell {
            js: jetstream::new(client),
            stream,
            dir,
            feed: EventsFeed::new(subjects, durable),
        };
        let task = tokio::spawn(shell.run(receiver, left));
        Self {
            sender,
            left_in_log,
            task,
        }
    }

    /// Hands one turn's durable events over. Never waits: if the feed is [`TURNS_BEHIND_MAX`]
    /// turns behind, the events are left in the log for it to read.
    pub(crate) fn publish(&self, first_seq: u64, events: Arc<Vec<Event>>) {
        let last = first_seq + (events.len() as u64).saturating_sub(1);
        match self.sender.try_send((first_seq, events)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.left_in_log.send_replace(last);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // The task ends only when its channel closes or it panicked; the events are in
                // the log and a restart publishes them.
                tracing::error!(
                    first_seq,
                    "the events stream's publisher has stopped; events wait for a restart"
                );
            }
        }
    }

    /// Closes the channel and waits, at most `wait`, for what was handed over to be stored;
    /// past that (NATS unreachable) the rest is left to the next start.
    pub(crate) async fn finish(self, wait: Duration) {
        drop(self.sender);
        let mut task = self.task;
        match tokio::time::timeout(wait, &mut task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the events stream's publisher failed"),
            Err(_) => {
                task.abort();
                tracing::warn!(
                    wait_secs = wait.as_secs_f64(),
                    "the events stream did not take the last events in time; the next start \
                     publishes what it lacks"
                );
            }
        }
    }
}

/// The publisher task: the feed and the means to carry out what it asks.
struct Shell {
    js: jetstream::Context,
    stream: stream::Stream,
    dir: PathBuf,
    feed: EventsFeed,
}

/// What is out on the feed's behalf: at most one log read, one tail read, and the window's
/// acknowledgements (bounded by the feed's window).
#[derive(Default)]
struct Outstanding {
    acks: FuturesUnordered<BoxFuture<'static, Answer>>,
    log_read: Option<(u64, LogRead)>,
    tail: Option<BoxFuture<'static, Option<StreamTail>>>,
}

impl Shell {
    async fn run(mut self, mut batches: mpsc::Receiver<Batch>, mut left: watch::Receiver<u64>) {
        let mut out = Outstanding::default();
        let mut closed = false;
        let mut confirmed = None;
        loop {
            self.transmit(&mut out).await;
            self.report(&mut confirmed);
            if closed && self.feed.is_idle() {
                return;
            }
            let timer = self.feed.poll_timeout();
            tokio::select! {
                batch = batches.recv(), if !closed => match batch {
                    Some((first_seq, events)) => self.feed.handle_durable(first_seq, events),
                    None => closed = true,
                },
                Ok(()) = left.changed() => {
                    let durable = *left.borrow_and_update();
                    self.feed.handle_durable_point(durable);
                }
                Some((seq, epoch, ack, error)) = out.acks.next(), if !out.acks.is_empty() => {
                    self.acknowledged(seq, epoch, ack, error);
                }
                read = async {
                    match &mut out.log_read {
                        Some((_, task)) => task.await,
                        None => std::future::pending().await,
                    }
                }, if out.log_read.is_some() => {
                    let from = out.log_read.take().map_or(0, |(from, _)| from);
                    let events = match read {
                        Ok(Ok(events)) => Some(events),
                        Ok(Err(error)) => {
                            tracing::error!(%error, from, "could not read events to publish from the log; trying again");
                            None
                        }
                        Err(error) => {
                            tracing::error!(%error, from, "the log reader for the events stream failed; trying again");
                            None
                        }
                    };
                    self.feed.handle_log_read(crate::driver::wall_now(), from, events);
                }
                tail = async {
                    match &mut out.tail {
                        Some(tail) => tail.await,
                        None => std::future::pending().await,
                    }
                }, if out.tail.is_some() => {
                    out.tail = None;
                    self.feed.handle_stream_tail(crate::driver::wall_now(), tail);
                }
                () = async {
                    match timer {
                        Some(at) => tokio::time::sleep(at.saturating_since(crate::driver::wall_now())).await,
                        None => std::future::pending().await,
                    }
                }, if timer.is_some() => self.feed.handle_timeout(crate::driver::wall_now()),
            }
        }
    }

    /// Carries out what the feed asks, up to [`TRANSMITS_PER_ROUND_MAX`] things.
    async fn transmit(&mut self, out: &mut Outstanding) {
        for _ in 0..TRANSMITS_PER_ROUND_MAX {
            let Some(transmit) = self.feed.poll_transmit(crate::driver::wall_now()) else {
                return;
            };
            match transmit {
                Transmit::Publish(publish) => {
                    let (seq, epoch) = (publish.seq, publish.epoch);
                    let sent = self
                        .js
                        .publish_with_headers(
                            publish.subject.clone(),
                            publish.headers(),
                            publish.body,
                        )
                        .await;
                    match sent {
                        Ok(ack) => out.acks.push(
                            async move {
                                match ack.await {
                                    Ok(ack) if ack.duplicate => (seq, epoch, Ack::Duplicate, None),
                                    Ok(_) => (seq, epoch, Ack::Stored, None),
                                    Err(error) => {
                                        (seq, epoch, refused(&error), Some(error.to_string()))
                                    }
                                }
                            }
                            .boxed(),
                        ),
                        Err(error) => {
                            self.acknowledged(seq, epoch, refused(&error), Some(error.to_string()));
                        }
                    }
                }
                Transmit::ReadLog { from, to } => {
                    let dir = self.dir.clone();
                    let task = tokio::task::spawn_blocking(move || read_events(&dir, from, to));
                    out.log_read = Some((from, task));
                }
                Transmit::ReadStreamTail => {
                    out.tail = Some(read_tail(self.stream.clone()).boxed());
                }
            }
        }
    }

    /// Hands JetStream's answer to the feed; a failure of the current attempt that starts a run
    /// of them, and every tenth after, is logged (not those of events abandoned behind it).
    fn acknowledged(&mut self, seq: u64, epoch: u64, ack: Ack, error: Option<String>) {
        let current = epoch == self.feed.epoch();
        self.feed
            .handle_ack(crate::driver::wall_now(), seq, epoch, ack);
        if let Some(error) = error.filter(|_| current) {
            let failures = self.feed.failures_in_a_row();
            if failures == 1 || failures.is_multiple_of(10) {
                tracing::warn!(
                    %error,
                    seq,
                    failures,
                    "the events stream did not store events; publishing again from event {}",
                    self.feed.confirmed() + 1
                );
            }
        }
    }

    /// Telemetry: how far the stream is confirmed, what went again.
    fn report(&mut self, confirmed: &mut Option<u64>) {
        if *confirmed != Some(self.feed.confirmed()) {
            *confirmed = Some(self.feed.confirmed());
            telemetry::events_stream_sequence(self.feed.confirmed());
        }
        let counts = self.feed.take_counts();
        if counts.republished > 0 {
            telemetry::events_publish_retried(counts.republished);
        }
        if counts.refused_for_order > 0 {
            telemetry::events_refused_for_order(counts.refused_for_order);
        }
    }
}

/// The feed's reading of a failed publish.
fn refused(error: &jetstream::context::PublishError) -> Ack {
    match error.kind() {
        PublishErrorKind::WrongLastMessageId => Ack::WrongLast,
        _ => Ack::Failed,
    }
}

/// The events from `from` to `to` (both included) in the log at `dir`.
fn read_events(dir: &std::path::Path, from: u64, to: u64) -> Result<Vec<Event>, EngineError> {
    let reader = switchboard_log::LogReader::open(dir)?;
    let mut events = Vec::new();
    for record in reader.read_from(from)?.up_to(to) {
        let record = record?;
        let event = switchboard_wire::decode_event(&record.payload).map_err(|source| {
            EngineError::Decode {
                seq: record.seq,
                source,
            }
        })?;
        events.push(event);
    }
    Ok(events)
}

/// The `Switchboard-Seq` of a stored message, if it has one.
fn event_seq(message: &jetstream::message::StreamMessage) -> Option<u64> {
    message
        .headers
        .get(SEQ_HEADER)
        .and_then(|value| value.as_str().parse::<u64>().ok())
}

/// Where the events stream ends, or `None` if that could not be read now (logged). Says loudly
/// if its message count does not match its first and last events.
async fn read_tail(mut stream: stream::Stream) -> Option<StreamTail> {
    let state = match stream.info().await {
        Ok(info) => info.state.clone(),
        Err(error) => {
            tracing::warn!(%error, "could not read the events stream's state; trying again");
            return None;
        }
    };
    if state.last_sequence == 0 {
        return Some(StreamTail::Empty);
    }
    if state.messages == 0 {
        return Some(StreamTail::Expired);
    }
    let last = match stream.get_raw_message(state.last_sequence).await {
        Ok(message) => event_seq(&message),
        Err(error) => {
            tracing::warn!(%error, "could not read the events stream's last event; trying again");
            return None;
        }
    };
    let Some(last) = last else {
        tracing::error!(
            stream_seq = state.last_sequence,
            "the events stream's last message has no Switchboard-Seq header: something else \
             writes to it; not publishing until it ends with an event"
        );
        return None;
    };
    let first = stream
        .get_raw_message(state.first_sequence)
        .await
        .ok()
        .and_then(|message| event_seq(&message));
    if let Some(first) = first
        && !feed::tail_is_consistent(state.messages, first, last)
    {
        tracing::error!(
            messages = state.messages,
            first,
            last,
            "the events stream holds a number of messages that does not match its first and \
             last events: a build before ordered publishing stored an event out of order, twice, \
             or not at all; consumers should order by Switchboard-Seq and drop repeats up to \
             event {last}, and check for a missing one"
        );
    }
    Some(StreamTail::Event(last))
}
