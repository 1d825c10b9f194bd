//! The events stream: every durable event, in sequence order, as JSON on `{p}.events.<type>`,
//! kept by a JetStream stream. Delivery to the stream is at least once and stored once:
//!
//! - each event is published with `Nats-Msg-Id` = its sequence number, and JetStream's
//!   acknowledgement is awaited; an event it did not acknowledge (NATS unreachable, a stream
//!   leader change) is published again, with backoff, until it is stored (the stream's duplicate
//!   window drops a second copy of one stored after all);
//! - the loop never waits for the stream: it hands each turn's durable events over without
//!   blocking, and when the publisher is too far behind to take them, it leaves them; the
//!   publisher, finding a gap before the next batch, reads the missing events back from the log;
//! - at start-up the publisher begins after the last event the stream holds, so whatever a
//!   previous run did not get stored is read from the log and published first.
//!
//! The log is the source of truth; the stream is its feed for downstream systems, and a consumer
//! resumes from a sequence number (the `Switchboard-Seq` header). An event republished after a
//! failure can be stored after later ones: order consumers by that header, not by arrival.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, HeaderMap, Subject};
use bytes::Bytes;
use switchboard_core::Event;
use switchboard_engine::EngineError;
use switchboard_wire::Subjects;
use tokio::sync::mpsc;

use crate::driver::{DriverError, SEQ_HEADER, nats};
use crate::telemetry;

/// The most turns of events waiting for the publisher in memory; beyond, they are read back from
/// the log when the publisher gets to them.
const TURNS_BEHIND_MAX: usize = 1024;

/// The most events published before their acknowledgements are awaited (and read from the log
/// at once when catching up).
const BURST_EVENTS_MAX: usize = 4096;

/// The longest wait between two attempts to get the same events stored.
const RETRY_WAIT_MAX: Duration = Duration::from_secs(5);

/// One turn's durable events: the first one's sequence number, and the events.
type Batch = (u64, Arc<Vec<Event>>);

/// An event ready to publish.
struct Outgoing {
    seq: u64,
    subject: Subject,
    headers: HeaderMap,
    body: Bytes,
}

/// The events stream's publisher: a task of its own, fed by the loop.
pub(crate) struct EventPublisher {
    sender: mpsc::Sender<Batch>,
    task: tokio::task::JoinHandle<()>,
}

impl EventPublisher {
    /// Starts publishing from sequence number `next` (the first event the stream lacks): the
    /// events up to `durable`, already in the log at `dir`, are read from it first.
    pub(crate) fn spawn(
        client: Client,
        subjects: Subjects,
        dir: PathBuf,
        next: u64,
        durable: u64,
    ) -> Self {
        let (sender, receiver) = mpsc::channel::<Batch>(TURNS_BEHIND_MAX);
        let mut publisher = Publisher {
            js: jetstream::new(client),
            subjects,
            event_subjects: std::collections::HashMap::new(),
            dir,
            next,
            acknowledged: next.saturating_sub(1),
        };
        let task = tokio::spawn(async move { publisher.run(receiver, durable).await });
        Self { sender, task }
    }

    /// Hands one turn's durable events over. Never waits: if the publisher is
    /// [`TURNS_BEHIND_MAX`] turns behind, the events are left in the log for it to read.
    pub(crate) fn publish(&self, first_seq: u64, events: Arc<Vec<Event>>) {
        match self.sender.try_send((first_seq, events)) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
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

/// The publisher task's state.
struct Publisher {
    js: jetstream::Context,
    subjects: Subjects,
    /// The subject of each event type, made once.
    event_subjects: std::collections::HashMap<&'static str, Subject>,
    /// The engine's data directory, to read events the channel did not bring.
    dir: PathBuf,
    /// The next event to publish: everything before it is stored in the stream.
    next: u64,
    /// Every event up to this one is stored in the stream.
    acknowledged: u64,
}

impl Publisher {
    async fn run(&mut self, mut receiver: mpsc::Receiver<Batch>, durable: u64) {
        // What the stream held at start-up, so that the gauge does not read as a lag meanwhile.
        telemetry::events_stream_sequence(self.acknowledged);
        if self.next <= durable {
            tracing::info!(
                from = self.next,
                to = durable,
                "publishing events missing from the events stream"
            );
            self.publish_from_log(durable + 1).await;
        }
        while let Some(first) = receiver.recv().await {
            let mut outgoing = Vec::new();
            let mut batch = Some(first);
            while let Some((first_seq, events)) = batch.take() {
                if first_seq > self.next {
                    // Batches were left while this task was behind: they are in the log.
                    self.publish_all(&mut outgoing).await;
                    self.publish_from_log(first_seq).await;
                }
                for (offset, event) in events.iter().enumerate() {
                    let seq = first_seq + offset as u64;
                    if seq >= self.next {
                        outgoing.extend(self.outgoing(seq, event));
                        self.next = seq + 1;
                    }
                }
                if outgoing.len() < BURST_EVENTS_MAX {
                    // Whatever else has been handed over goes out in the same burst.
                    batch = receiver.try_recv().ok();
                }
            }
            self.publish_all(&mut outgoing).await;
        }
    }

    /// Publishes the events from `self.next` up to (not including) `end`, read from the log a
    /// burst at a time.
    async fn publish_from_log(&mut self, end: u64) {
        while self.next < end {
            let (from, to) = (self.next, end.min(self.next + BURST_EVENTS_MAX as u64) - 1);
            let dir = self.dir.clone();
            let read = tokio::task::spawn_blocking(move || read_events(&dir, from, to)).await;
            let events = match read {
                Ok(Ok(events)) => events,
                Ok(Err(error)) => {
                    // Not published now; the next start begins after the stream's last event,
                    // so it would skip these only if later ones are stored: stop here instead.
                    tracing::error!(%error, from, to, "could not read events to publish from the log; the events stream stops here until a restart");
                    std::future::pending::<()>().await;
                    return;
                }
                Err(error) => {
                    tracing::error!(%error, "the log reader for the events stream failed");
                    std::future::pending::<()>().await;
                    return;
                }
            };
            let mut outgoing = Vec::with_capacity(events.len());
            for (seq, event) in &events {
                outgoing.extend(self.outgoing(*seq, event));
            }
            self.next = to + 1;
            self.publish_all(&mut outgoing).await;
        }
    }

    /// The event as a message, or `None` (logged) if it cannot be written as JSON.
    fn outgoing(&mut self, seq: u64, event: &Event) -> Option<Outgoing> {
        let mut json = Vec::with_capacity(256);
        if let Err(error) = switchboard_wire::write_event_json(seq, event, &mut json) {
            tracing::error!(%error, seq, "an event could not be written as JSON; not published");
            return None;
        }
        let mut headers = HeaderMap::new();
        let seq_text = seq.to_string();
        headers.insert("Nats-Msg-Id", seq_text.as_str());
        headers.insert(SEQ_HEADER, seq_text.as_str());
        let name = event.kind.name();
        let subject = self
            .event_subjects
            .entry(name)
            .or_insert_with(|| Subject::from(self.subjects.event(name)))
            .clone();
        Some(Outgoing {
            seq,
            subject,
            headers,
            body: Bytes::from(json),
        })
    }

    /// Publishes `outgoing` (emptying it) and waits until JetStream has stored every event,
    /// publishing again, with backoff, those it did not acknowledge.
    async fn publish_all(&mut self, outgoing: &mut Vec<Outgoing>) {
        let Some(last) = outgoing.last().map(|event| event.seq) else {
            return;
        };
        let mut attempt: u32 = 0;
        while !outgoing.is_empty() {
            let mut acks = Vec::with_capacity(outgoing.len());
            for event in outgoing.iter() {
                acks.push(
                    self.js
                        .publish_with_headers(
                            event.subject.clone(),
                            event.headers.clone(),
                            event.body.clone(),
                        )
                        .await,
                );
            }
            let mut failed = Vec::new();
            let mut first_error = None;
            for (event, ack) in outgoing.drain(..).zip(acks) {
                let stored = match ack {
                    Ok(ack) => ack.await.map(drop),
                    Err(error) => Err(error),
                };
                if let Err(error) = stored {
                    first_error.get_or_insert(error);
                    failed.push(event);
                }
            }
            // Stored: everything before the first event that was not (all, once none failed).
            let stored_up_to = failed.first().map_or(last, |event| event.seq - 1);
            self.acknowledged = self.acknowledged.max(stored_up_to);
            telemetry::events_stream_sequence(self.acknowledged);
            let Some(error) = first_error else {
                return;
            };
            attempt = attempt.saturating_add(1);
            telemetry::events_publish_retried(failed.len());
            if attempt == 1 || attempt.is_multiple_of(10) {
                tracing::warn!(
                    %error,
                    events = failed.len(),
                    first_seq = failed.first().map(|e| e.seq),
                    attempt,
                    "the events stream did not store events; publishing them again"
                );
            }
            let exponent = attempt.min(7) - 1;
            tokio::time::sleep(
                (Duration::from_millis(100) * 2_u32.pow(exponent)).min(RETRY_WAIT_MAX),
            )
            .await;
            *outgoing = failed;
        }
    }
}

/// The events from `from` to `to` (both included) in the log at `dir`.
fn read_events(
    dir: &std::path::Path,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Event)>, EngineError> {
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
        events.push((record.seq, event));
    }
    Ok(events)
}

/// The first event the events stream lacks: one after the `Switchboard-Seq` of its last message
/// (1 for an empty stream, or one whose last message cannot be read).
pub(crate) async fn first_unpublished(stream: &mut stream::Stream) -> Result<u64, DriverError> {
    let last = stream
        .info()
        .await
        .map_err(nats("read the events stream"))?
        .state
        .last_sequence;
    if last == 0 {
        return Ok(1);
    }
    match stream.get_raw_message(last).await {
        Ok(message) => Ok(message
            .headers
            .get(SEQ_HEADER)
            .and_then(|v| v.as_str().parse::<u64>().ok())
            .map_or(1, |seq| seq + 1)),
        Err(error) => {
            tracing::warn!(%error, "could not read the last published event; republishing all");
            Ok(1)
        }
    }
}
