//! The I/O the shell does on the node's behalf off its loop ([`Work`]: the events stream's
//! publishes and tail, reads of the log on blocking threads for the feed and a contact's
//! history), and the intake messages waiting for their acknowledgement ([`IntakeAcks`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream};
use async_nats::{HeaderMap, Message};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use switchboard_core::Event;
use switchboard_engine::{EngineError, HistoryFilter};
use tokio::task::{JoinError, JoinSet};

use super::SEQ_HEADER;
use crate::feed::{self, Ack, Publish, StreamTail};
use crate::node::{IntakeHandle, Mark, Request};

/// The work the shell does for the node off its round, every piece tracked: the events
/// stream's acknowledgements (at most the feed's window, 256, are awaited at a time) and the
/// tasks in a `JoinSet` (at most one log read, one tail read, the node's four history reads
/// and, at start-up, the retention fold's read of the whole log), shut down at stop.
pub(super) struct Work {
    js: jetstream::Context,
    events_stream: stream::Stream,
    dir: PathBuf,
    acks: FuturesUnordered<BoxFuture<'static, EventAck>>,
    tasks: JoinSet<Done>,
}

/// A piece of [`Work`] finished.
pub(super) enum Finished {
    /// JetStream answered a publish of the feed.
    Ack(EventAck),
    /// A task ended (an error: it panicked or was cancelled).
    Done(Result<Done, JoinError>),
}

impl Work {
    pub(super) fn new(js: jetstream::Context, events_stream: stream::Stream, dir: PathBuf) -> Self {
        Self {
            js,
            events_stream,
            dir,
            acks: FuturesUnordered::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Reads a contact's history up to `up_to` (for the node's query `id`).
    pub(super) fn history(&mut self, id: u64, contact_id: String, up_to: u64) {
        let dir = self.dir.clone();
        self.tasks
            .spawn_blocking(move || history(&dir, id, contact_id, up_to));
    }

    /// Folds the log up to `up_to` for shredding by retention, on a blocking thread (a read of
    /// the whole log: about a million events a second).
    pub(super) fn retention_fold(
        &mut self,
        up_to: u64,
        keys: switchboard_privacy::Keys,
        schedule: switchboard_privacy::RetentionSchedule,
    ) {
        let dir = self.dir.clone();
        self.tasks.spawn_blocking(move || {
            let folded = fold_log(&dir, up_to, &keys, &schedule);
            if let Err(error) = &folded {
                tracing::error!(%error, "retention: the log could not be read to follow subjects' lifetimes; nothing is erased by retention until the engine restarts");
            }
            Done::Retention(folded.ok())
        });
    }

    /// Starts what the events feed asks; returns whether it published (to flush).
    pub(super) async fn feed(&mut self, transmit: feed::Transmit) -> bool {
        let dir = self.dir.clone();
        match transmit {
            feed::Transmit::ReadLog { from, to } => {
                self.tasks.spawn_blocking(move || log_read(&dir, from, to));
            }
            feed::Transmit::ReadStreamTail => {
                self.tasks.spawn(tail(self.events_stream.clone()));
            }
            feed::Transmit::Publish(publish) => {
                let answer = publish_event(&self.js, publish).await;
                self.acks.push(answer);
                return true;
            }
        }
        false
    }

    /// The next piece of work to finish (acknowledgements first); pending while none is out.
    pub(super) async fn next(&mut self) -> Finished {
        tokio::select! {
            biased;
            Some(ack) = self.acks.next(), if !self.acks.is_empty() => Finished::Ack(ack),
            Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => Finished::Done(done),
            else => std::future::pending().await,
        }
    }

    /// Stops every task (a blocking read already running finishes on its thread; its result
    /// is dropped).
    pub(super) async fn shutdown(&mut self) {
        self.tasks.shutdown().await;
    }
}

/// A message of the durable intake, as its consumer delivers it.
pub(super) type IntakeMessage =
    Result<jetstream::Message, jetstream::consumer::pull::MessagesError>;

/// Intake messages handed to the node and not yet acknowledged, by handle: at most the intake
/// consumer's `max_ack_pending` (20 000).
#[derive(Default)]
pub(super) struct IntakeAcks {
    messages: HashMap<u64, jetstream::Message>,
    next: u64,
}

impl IntakeAcks {
    /// Keeps a delivered message to acknowledge later and gives it as the node takes it,
    /// with the handle the node knows it by (`None`: the consumer's error, counted and logged).
    pub(super) fn take(
        &mut self,
        delivered: IntakeMessage,
        mark: Mark,
    ) -> Option<(Request, IntakeHandle)> {
        let message = match delivered {
            Ok(message) => message,
            Err(error) => {
                crate::telemetry::intake_error();
                tracing::warn!(%error, "intake consumer error");
                return None;
            }
        };
        let mut plain = request(&message.message, mark);
        plain.reply = None; // JetStream's acknowledgement subject: acknowledged, never replied to.
        let handle = IntakeHandle(self.next);
        self.next += 1;
        self.messages.insert(handle.0, message);
        Some((plain, handle))
    }

    /// Acknowledges the message of `handle` (a failure is logged: JetStream delivers it again,
    /// and its repeat gets the first reply).
    pub(super) async fn ack(&mut self, handle: IntakeHandle) {
        if let Some(message) = self.messages.remove(&handle.0)
            && let Err(error) = message.ack().await
        {
            tracing::warn!(%error, "could not acknowledge an intake message");
        }
    }
}

/// A finished piece of work for the node.
#[derive(Debug)]
pub(super) enum Done {
    /// The feed's log read from `from` (`None`: it failed, and was logged).
    LogRead {
        from: u64,
        events: Option<Vec<Event>>,
    },
    /// The events stream's tail (`None`: it could not be read now, and was logged).
    Tail(Option<StreamTail>),
    /// A contact query's history (`None`: it could not be read, and was logged).
    History {
        id: u64,
        history: Option<Vec<(u64, Event)>>,
    },
    /// The retention fold of the log up to the node's start (`None`: the read failed, and was
    /// logged).
    Retention(Option<switchboard_privacy::RetentionFold>),
}

/// JetStream's answer to one publish of the feed: the event, its attempt, the answer, and the
/// error's text when it was not stored.
pub(super) type EventAck = (u64, u64, Ack, Option<String>);

/// Publishes one event to the events stream; the future answers once JetStream has (or the
/// client has given up).
async fn publish_event(js: &jetstream::Context, publish: Publish) -> BoxFuture<'static, EventAck> {
    let (seq, epoch) = (publish.seq, publish.epoch);
    let sent = js
        .publish_with_headers(publish.subject.clone(), publish.headers(), publish.body)
        .await;
    match sent {
        Ok(ack) => async move {
            match ack.await {
                Ok(ack) if ack.duplicate => (seq, epoch, Ack::Duplicate, None),
                Ok(_) => (seq, epoch, Ack::Stored, None),
                Err(error) => (seq, epoch, refused(&error), Some(error.to_string())),
            }
        }
        .boxed(),
        Err(error) => {
            let answer = (seq, epoch, refused(&error), Some(error.to_string()));
            std::future::ready(answer).boxed()
        }
    }
}

/// The feed's read of events `from..=to` from the log at `dir`, on a blocking thread.
fn log_read(dir: &Path, from: u64, to: u64) -> Done {
    let events = match read_events(dir, from, to) {
        Ok(events) => Some(events),
        Err(error) => {
            tracing::error!(%error, from, "could not read events to publish from the log; trying again");
            None
        }
    };
    Done::LogRead { from, events }
}

/// A contact's history up to `up_to` from the log at `dir`, on a blocking thread.
fn history(dir: &Path, id: u64, contact_id: String, up_to: u64) -> Done {
    let filter = HistoryFilter::Contact(contact_id);
    let history = match switchboard_engine::history_up_to(dir, &filter, up_to) {
        Ok(history) => Some(history),
        Err(error) => {
            tracing::warn!(%error, "could not read a contact's history");
            None
        }
    };
    Done::History { id, history }
}

/// The events stream's tail.
async fn tail(stream: stream::Stream) -> Done {
    Done::Tail(read_tail(stream).await)
}

/// A NATS message as the node takes it.
pub(super) fn request(message: &Message, mark: Mark) -> Request {
    let header = |name: &str| {
        message
            .headers
            .as_ref()
            .and_then(|headers: &HeaderMap| headers.get(name))
            .map(|value| value.as_str().to_owned())
    };
    Request {
        subject: message.subject.clone(),
        reply: message.reply.clone(),
        content_type: header("Content-Type"),
        msg_id: header("Nats-Msg-Id"),
        payload: message.payload.clone(),
        mark,
    }
}

/// Sleeps `wait`, or for ever.
pub(super) async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

/// The feed's reading of a failed publish.
fn refused(error: &jetstream::context::PublishError) -> Ack {
    match error.kind() {
        PublishErrorKind::WrongLastSequence => Ack::WrongLast,
        _ => Ack::Failed,
    }
}

/// The retention fold of the events from the first to `up_to` in the log at `dir`.
fn fold_log(
    dir: &Path,
    up_to: u64,
    keys: &switchboard_privacy::Keys,
    schedule: &switchboard_privacy::RetentionSchedule,
) -> Result<switchboard_privacy::RetentionFold, EngineError> {
    let mut fold = switchboard_privacy::RetentionFold::new();
    if up_to == 0 {
        return Ok(fold);
    }
    let reader = switchboard_log::LogReader::open(dir)?;
    for record in reader.read_from(1)?.up_to(up_to) {
        let record = record?;
        let event = switchboard_wire::decode_event(&record.payload).map_err(|source| {
            EngineError::Decode {
                seq: record.seq,
                source,
            }
        })?;
        fold.observe(keys, &event, schedule);
    }
    Ok(fold)
}

/// The events from `from` to `to` (both included) in the log at `dir`.
fn read_events(dir: &Path, from: u64, to: u64) -> Result<Vec<Event>, EngineError> {
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
        return Some(StreamTail::Expired {
            stream_seq: state.last_sequence,
        });
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
    Some(StreamTail::Event {
        event: last,
        stream_seq: state.last_sequence,
    })
}
