//! The events feed's rules without I/O: which durable event goes to the JetStream events stream
//! next, what is confirmed stored, what to publish again after a failure, and where to resume
//! after a restart. The node (`node/`) embeds an [`EventsFeed`] and hands it the events it
//! releases; the driver's shell only moves bytes between it, JetStream and the log reader; a seeded simulation (`feed/simulation.rs`) drives the same type
//! with a simulated stream, network, log and crashes.
//!
//! # The rules
//!
//! - **Order by construction.** Event `n` is published with `Nats-Msg-Id: n` and
//!   `Nats-Expected-Last-Sequence` set to the stream sequence event `n-1` was stored at: JetStream
//!   refuses it unless the stream's last message is event `n-1`. So a window of events may be in
//!   flight at once, yet a failed event can never be overtaken by a later one, and an
//!   acknowledgement of `n` (stored or duplicate) means every event up to `n` is stored. The
//!   feed learns where the stream's sequence stands from its tail (the last message's stream
//!   sequence and `Switchboard-Seq`, an [`Anchor`]); with ordered publishing each event takes the
//!   next stream sequence, so one anchor serves every event after it. The stream sequence is in
//!   every replica's store, so a nats-server that restarts agrees with its peers on it (unlike
//!   the last message id, which a replica that caught up from its peers can get wrong and then
//!   refuse to apply what the leader stored: nats-server's `last msgid mismatch`).
//! - **On any failure, publish again from the first unconfirmed event**, in order, after a
//!   backoff: what was in flight behind the failed event is refused for order and goes again too.
//!   Acknowledgements of an abandoned attempt (an older epoch) still confirm; their failures are
//!   ignored.
//! - **Resume after the stream's last event.** At start the shell reads the stream's last
//!   message's `Switchboard-Seq` ([`StreamTail`]); with ordered publishing the stream has no gap,
//!   so everything up to it is stored. A refusal for order of the first unconfirmed event means
//!   the stream does not end where the feed thinks (the event was stored but its
//!   acknowledgement lost: JetStream checks the sequence before its duplicate window; another
//!   leader published; the stream was made again): it reads the tail again and resumes after it.
//! - **The log is the source.** Durable events handed over by the loop are held in memory (at
//!   most [`HELD_EVENTS_MAX`]); whatever did not fit, or came before the feed was ready, is read
//!   back from the log ([`READ_EVENTS_MAX`] at a time).
//!
//! # Using it
//!
//! Feed inputs with the `handle_*` methods (each that can start a wait takes `now`), then drain
//! [`EventsFeed::poll_transmit`] until it returns `None`, then wait until
//! [`EventsFeed::poll_timeout`] (or the next input) and call [`EventsFeed::handle_timeout`].
//! Outputs come in this order: the stream's tail to read, a log read, then publishes in sequence
//! order.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use switchboard_core::{Event, Timestamp};
use switchboard_wire::Subjects;

use crate::driver::SEQ_HEADER;

/// The most events published and not yet confirmed at once.
pub(crate) const WINDOW_EVENTS_MAX: u64 = 256;

/// The most events held in memory past the last confirmed one; beyond, they are left in the log
/// and read back when the feed gets to them.
pub(crate) const HELD_EVENTS_MAX: u64 = 16_384;

/// The most events asked of the log in one read.
pub(crate) const READ_EVENTS_MAX: u64 = 4096;

/// How long a published event may go without an answer before the feed counts it as failed
/// (async-nats answers a lost acknowledgement with a timeout error before this).
pub(crate) const ACK_WAIT_MAX: Duration = Duration::from_secs(10);

/// The first wait before trying again after a failure; it doubles with each further failure.
pub(crate) const RETRY_WAIT_MIN: Duration = Duration::from_millis(100);

/// The longest wait before trying again after a failure.
pub(crate) const RETRY_WAIT_MAX: Duration = Duration::from_secs(5);

/// The header naming the stream sequence the stream's last message must have.
pub(crate) const EXPECTED_LAST_SEQUENCE_HEADER: &str = "Nats-Expected-Last-Sequence";

/// JetStream's answer to one published event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ack {
    /// Stored now.
    Stored,
    /// Stored before (JetStream's duplicate window knew the message id).
    Duplicate,
    /// Refused: the stream's last message is not the previous event (its sequence is not the
    /// expected one).
    WrongLast,
    /// No answer, a timeout, the stream unavailable, or any other error: not known to be stored.
    Failed,
}

/// What the stream's last message says about where the feed stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamTail {
    /// The stream has never held a message.
    Empty,
    /// The stream's last message is event `event` (its `Switchboard-Seq`), stored at stream
    /// sequence `stream_seq`.
    Event {
        /// The last message's `Switchboard-Seq`.
        event: u64,
        /// The last message's stream sequence.
        stream_seq: u64,
    },
    /// The stream has held messages, the last at `stream_seq`, but keeps none (all older than
    /// its `max_age`): it cannot say where the feed stopped.
    Expired {
        /// The stream's last sequence.
        stream_seq: u64,
    },
}

impl StreamTail {
    /// The stream's last sequence (0 for a stream that never held a message).
    fn stream_seq(self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Event { stream_seq, .. } | Self::Expired { stream_seq } => stream_seq,
        }
    }
}

/// Where the events stream's sequence stands against the events: everything up to event `event`
/// is stored, the last of it at stream sequence `stream_seq` (0: the stream was empty). Event
/// `n` after it is expected at `stream_seq + (n - event)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Anchor {
    event: u64,
    stream_seq: u64,
}

impl Anchor {
    /// The stream sequence the stream's last message must have when event `seq` is published:
    /// that of event `seq - 1`. (`seq` is always past the anchor; if it were not, the expectation
    /// would be refused for order, never stored out of order.)
    fn expected_last_sequence(self, seq: u64) -> u64 {
        self.stream_seq + (seq - 1).saturating_sub(self.event)
    }
}

/// One event to publish to the events stream.
#[derive(Clone, Debug)]
pub(crate) struct Publish {
    /// The event's sequence number (also its `Nats-Msg-Id` and `Switchboard-Seq`).
    pub(crate) seq: u64,
    /// The attempt it belongs to; hand it back with its [`Ack`].
    pub(crate) epoch: u64,
    /// `{p}.events.<type>`.
    pub(crate) subject: Subject,
    /// The stream sequence the stream's last message must have (`None` only under the legacy
    /// rules of the tests).
    pub(crate) expected_last_sequence: Option<u64>,
    /// The event as JSON.
    pub(crate) body: Bytes,
}

impl Publish {
    /// The message's headers: `Nats-Msg-Id`, `Switchboard-Seq` and
    /// `Nats-Expected-Last-Sequence`.
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let seq = self.seq.to_string();
        headers.insert("Nats-Msg-Id", seq.as_str());
        headers.insert(SEQ_HEADER, seq.as_str());
        if let Some(last) = self.expected_last_sequence {
            headers.insert(EXPECTED_LAST_SEQUENCE_HEADER, last.to_string().as_str());
        }
        headers
    }
}

/// What the feed asks the shell to do.
#[derive(Clone, Debug)]
pub(crate) enum Transmit {
    /// Read the stream's last message and answer with [`EventsFeed::handle_stream_tail`].
    ReadStreamTail,
    /// Read events `from..=to` from the log and answer with [`EventsFeed::handle_log_read`].
    ReadLog {
        /// The first event to read.
        from: u64,
        /// The last event to read.
        to: u64,
    },
    /// Publish this event and answer with [`EventsFeed::handle_ack`].
    Publish(Publish),
}

/// Counters for telemetry, read with [`EventsFeed::take_counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Events published again after a failure.
    pub(crate) republished: u64,
    /// Events JetStream refused because the stream's last message was not the previous event.
    pub(crate) refused_for_order: u64,
}

/// Where the feed is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Waiting to learn the stream's tail (at start, and after a refusal for order of the first
    /// unconfirmed event); `asked` once the read is out.
    ReadingTail { asked: bool },
    /// Publishing.
    Publishing,
}

/// The events feed's state machine. See the module documentation.
#[derive(Debug)]
pub(crate) struct EventsFeed {
    subjects: Subjects,
    /// The subject of each event type, made once.
    event_subjects: HashMap<&'static str, Subject>,
    phase: Phase,
    /// The last event durable in the log; nothing after it exists yet.
    durable: u64,
    /// Every event up to this one is stored in the stream.
    confirmed: u64,
    /// The next event to publish; `confirmed + 1..next` are in flight in this epoch.
    next: u64,
    /// Batches of events held in memory, by first sequence number; together they cover
    /// `held_start()..held_end` without a hole. Batches wholly confirmed are dropped.
    held: BTreeMap<u64, Arc<Vec<Event>>>,
    /// One past the last event held (or `confirmed + 1` when none is).
    held_end: u64,
    /// Whether a log read is out (one at a time).
    reading: bool,
    /// Whether the stream's tail has been read once (the feed knows where to resume).
    resumed: bool,
    /// The attempt: bumped when the feed abandons what is in flight and starts again.
    epoch: u64,
    /// The deadline of each event in flight in this epoch, in sequence order.
    deadlines: VecDeque<(u64, Timestamp)>,
    /// While backing off after a failure: when to try again.
    retry_at: Option<Timestamp>,
    /// Failures since the last progress, for the backoff.
    failures: u32,
    /// Where the stream's sequence stands, from the last read of its tail.
    anchor: Anchor,
    counts: Counts,
    /// Test-only: today's rules before this type, to show the simulation finds their defects.
    #[cfg(test)]
    legacy: Option<Legacy>,
}

/// The rules of the publisher before this feed (kept to prove the simulation finds defects):
/// no expected-last header; a failed event is published again alone, while later ones go on.
#[cfg(test)]
#[derive(Debug, Default)]
struct Legacy {
    /// Failed events waiting to go again.
    retry: std::collections::BTreeSet<u64>,
    /// Events acknowledged above `confirmed`.
    acked: std::collections::BTreeSet<u64>,
}

impl EventsFeed {
    /// A feed for an engine whose log is durable up to `durable`; it first asks for the stream's
    /// tail.
    pub(crate) fn new(subjects: Subjects, durable: u64) -> Self {
        Self {
            subjects,
            event_subjects: HashMap::new(),
            phase: Phase::ReadingTail { asked: false },
            durable,
            confirmed: 0,
            next: 1,
            held: BTreeMap::new(),
            held_end: 1,
            reading: false,
            resumed: false,
            epoch: 0,
            deadlines: VecDeque::new(),
            retry_at: None,
            failures: 0,
            anchor: Anchor::default(),
            counts: Counts::default(),
            #[cfg(test)]
            legacy: None,
        }
    }

    /// A feed following the old rules (see [`Legacy`]).
    #[cfg(test)]
    pub(crate) fn new_legacy(subjects: Subjects, durable: u64) -> Self {
        let mut feed = Self::new(subjects, durable);
        feed.legacy = Some(Legacy::default());
        feed
    }

    /// Every event up to this one is stored in the stream.
    pub(crate) fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// The last event durable in the log, as the feed knows it.
    #[cfg(test)]
    pub(crate) fn durable(&self) -> u64 {
        self.durable
    }

    /// Whether everything durable is confirmed stored and nothing is out.
    pub(crate) fn is_idle(&self) -> bool {
        self.phase == Phase::Publishing && self.confirmed == self.durable && !self.reading
    }

    /// The current attempt (see [`Publish::epoch`]).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Failures since the feed last made progress (0 when the last attempt went well).
    pub(crate) fn failures_in_a_row(&self) -> u32 {
        self.failures
    }

    /// The counters since the last call.
    pub(crate) fn take_counts(&mut self) -> Counts {
        std::mem::take(&mut self.counts)
    }

    /// One turn's events, durable in the log from `first_seq`. Held if they continue what is
    /// held and fit; otherwise left in the log, to be read when the feed gets to them.
    pub(crate) fn handle_durable(&mut self, first_seq: u64, events: Arc<Vec<Event>>) {
        let count = events.len() as u64;
        if count == 0 {
            return;
        }
        let last = first_seq + count - 1;
        self.durable = self.durable.max(last);
        let fits = self.held_end + count - (self.confirmed + 1) <= HELD_EVENTS_MAX;
        if self.phase == Phase::Publishing && !self.reading && first_seq == self.held_end && fits {
            self.held.insert(first_seq, events);
            self.held_end = last + 1;
        }
    }

    /// The log is durable up to `seq`, but the events were left in it: they are read from the
    /// log. (The node always hands the events over, and the feed leaves in the log what it
    /// cannot hold; the simulation uses this to start a feed behind.)
    #[cfg(test)]
    pub(crate) fn handle_durable_point(&mut self, seq: u64) {
        self.durable = self.durable.max(seq);
    }

    /// The answer to [`Transmit::ReadLog`] from `from`: the events read (fewer than asked if the
    /// log ends sooner), or `None` if the read failed (tried again after a backoff).
    pub(crate) fn handle_log_read(
        &mut self,
        now: Timestamp,
        from: u64,
        events: Option<Vec<Event>>,
    ) {
        self.reading = false;
        match events {
            Some(events) if !events.is_empty() => {
                if from == self.held_end {
                    self.held_end = from + events.len() as u64;
                    self.held.insert(from, Arc::new(events));
                }
            }
            _ => self.back_off(now),
        }
    }

    /// The answer to [`Transmit::ReadStreamTail`], or `None` if it could not be read (tried
    /// again after a backoff).
    pub(crate) fn handle_stream_tail(&mut self, now: Timestamp, tail: Option<StreamTail>) {
        let Phase::ReadingTail { asked: true } = self.phase else {
            return;
        };
        let Some(tail) = tail else {
            self.phase = Phase::ReadingTail { asked: false };
            self.back_off(now);
            return;
        };
        let starting = !self.resumed;
        self.resumed = true;
        let resume_after = match (tail, starting) {
            (StreamTail::Event { event, .. }, _) => event,
            (StreamTail::Empty, true) => 0,
            (StreamTail::Expired { .. }, true) => {
                tracing::warn!(
                    durable = self.durable,
                    "the events stream keeps no message (all older than its max_age): it cannot \
                     say where the feed stopped; resuming after the log's last event"
                );
                self.durable
            }
            (StreamTail::Empty | StreamTail::Expired { .. }, false) => {
                // Made again, or everything in it expired: nothing in it to keep order with.
                tracing::warn!(
                    confirmed = self.confirmed,
                    "the events stream holds no message (made again, or all expired); going on \
                     after the last event it stored"
                );
                self.confirmed
            }
        };
        self.anchor = Anchor {
            event: resume_after,
            stream_seq: tail.stream_seq(),
        };
        if resume_after > self.durable {
            tracing::warn!(
                stream = resume_after,
                log = self.durable,
                "the events stream is ahead of the log (a log restored from a backup?); \
                 publishing resumes once the log passes it"
            );
        }
        self.resume_after(resume_after);
        self.phase = Phase::Publishing;
        self.epoch += 1;
    }

    /// JetStream's answer to the publish of `seq` in attempt `epoch`.
    pub(crate) fn handle_ack(&mut self, now: Timestamp, seq: u64, epoch: u64, ack: Ack) {
        #[cfg(test)]
        if self.legacy.is_some() {
            self.legacy_ack(now, seq, ack);
            return;
        }
        match ack {
            Ack::Stored | Ack::Duplicate => {
                // Published in order: the stream holds every event up to `seq`.
                if seq > self.confirmed && seq <= self.durable {
                    self.confirm(seq);
                }
            }
            Ack::WrongLast | Ack::Failed => {
                if ack == Ack::WrongLast {
                    self.counts.refused_for_order += 1;
                }
                if epoch != self.epoch || seq <= self.confirmed || seq >= self.next {
                    return; // An abandoned attempt: its events go again already.
                }
                if ack == Ack::WrongLast && seq == self.confirmed + 1 {
                    // The stream does not end where the feed thinks: ask it.
                    tracing::warn!(
                        seq,
                        "the events stream refused an event for order; reading its last event"
                    );
                    self.phase = Phase::ReadingTail { asked: false };
                }
                self.start_again(now);
            }
        }
    }

    /// Time has passed: a backoff may be over, an acknowledgement overdue.
    pub(crate) fn handle_timeout(&mut self, now: Timestamp) {
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
        }
        if let Some(&(seq, deadline)) = self.deadlines.front()
            && deadline <= now
        {
            #[cfg(test)]
            if self.legacy.is_some() {
                self.deadlines.pop_front();
                self.legacy_ack(now, seq, Ack::Failed);
                return;
            }
            tracing::debug!(seq, "no answer from the events stream in time");
            self.start_again(now);
        }
    }

    /// When [`EventsFeed::handle_timeout`] should next be called, if at all.
    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        let deadline = self.deadlines.front().map(|&(_, at)| at);
        match (self.retry_at, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing to do, if any (see the module documentation for the order).
    pub(crate) fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        if self.retry_at.is_some() {
            return None;
        }
        match self.phase {
            Phase::ReadingTail { asked: false } => {
                self.phase = Phase::ReadingTail { asked: true };
                return Some(Transmit::ReadStreamTail);
            }
            Phase::ReadingTail { asked: true } => return None,
            Phase::Publishing => {}
        }
        let held = self.held_end - (self.confirmed + 1);
        if !self.reading && self.held_end <= self.durable && held < HELD_EVENTS_MAX {
            let count = READ_EVENTS_MAX.min(HELD_EVENTS_MAX - held);
            let to = self.durable.min(self.held_end + count - 1);
            self.reading = true;
            return Some(Transmit::ReadLog {
                from: self.held_end,
                to,
            });
        }
        self.next_publish(now)
    }

    /// The next event to publish, if the window has room and it is held.
    fn next_publish(&mut self, now: Timestamp) -> Option<Transmit> {
        #[cfg(test)]
        if let Some(legacy) = &mut self.legacy
            && let Some(seq) = legacy.retry.pop_first()
        {
            return self.publish(now, seq);
        }
        if self.next >= self.held_end || self.next - self.confirmed > WINDOW_EVENTS_MAX {
            return None;
        }
        let seq = self.next;
        self.next += 1;
        self.publish(now, seq)
    }

    /// The message for event `seq` (held), with its deadline noted.
    fn publish(&mut self, now: Timestamp, seq: u64) -> Option<Transmit> {
        let event = self.held_event(seq)?;
        let name = event.kind.name();
        let mut body = Vec::with_capacity(256);
        if let Err(error) = switchboard_wire::write_event_json(seq, &event, &mut body) {
            // Cannot happen for an event the engine decided; publishing it empty would still
            // keep the feed's order, and the error names it.
            tracing::error!(%error, seq, "an event could not be written as JSON");
        }
        let subject = self
            .event_subjects
            .entry(name)
            .or_insert_with(|| Subject::from(self.subjects.event(name)))
            .clone();
        let expected = Some(self.anchor.expected_last_sequence(seq));
        #[cfg(test)]
        let expected = expected.filter(|_| self.legacy.is_none());
        self.deadlines.push_back((seq, now + ACK_WAIT_MAX));
        Some(Transmit::Publish(Publish {
            seq,
            epoch: self.epoch,
            subject,
            expected_last_sequence: expected,
            body: Bytes::from(body),
        }))
    }

    /// Event `seq` from the held batches.
    fn held_event(&self, seq: u64) -> Option<Event> {
        let (first, batch) = self.held.range(..=seq).next_back()?;
        let offset = usize::try_from(seq - first).ok()?;
        batch.get(offset).cloned()
    }

    /// Every event up to `seq` is stored.
    fn confirm(&mut self, seq: u64) {
        debug_assert!(seq > self.confirmed);
        self.confirmed = seq;
        self.next = self.next.max(seq + 1);
        self.held_end = self.held_end.max(seq + 1);
        self.failures = 0;
        while self.deadlines.front().is_some_and(|&(s, _)| s <= seq) {
            self.deadlines.pop_front();
        }
        self.confirm_held(seq);
    }

    /// Everything up to `last` is stored and nothing after it: publish from `last + 1`.
    fn resume_after(&mut self, last: u64) {
        self.confirmed = last;
        self.next = last + 1;
        self.deadlines.clear();
        let held_start = self.held.first_key_value().map(|(&first, _)| first);
        if held_start.is_none_or(|first| first > last + 1) || self.held_end <= last {
            self.held.clear();
            self.held_end = last + 1;
        } else {
            self.confirm_held(last);
        }
    }

    /// Drops the held batches wholly at or before `last`.
    fn confirm_held(&mut self, last: u64) {
        while let Some((&first, batch)) = self.held.first_key_value() {
            if first + batch.len() as u64 - 1 > last {
                break;
            }
            self.held.pop_first();
        }
    }

    /// Abandons what is in flight and publishes again from the first unconfirmed event, after a
    /// backoff.
    fn start_again(&mut self, now: Timestamp) {
        self.counts.republished += self.next - (self.confirmed + 1);
        self.epoch += 1;
        self.next = self.confirmed + 1;
        self.deadlines.clear();
        self.back_off(now);
    }

    /// Waits before the next attempt, longer after each failure in a row.
    fn back_off(&mut self, now: Timestamp) {
        let exponent = self.failures.min(6);
        self.failures = self.failures.saturating_add(1);
        let wait = (RETRY_WAIT_MIN * 2_u32.pow(exponent)).min(RETRY_WAIT_MAX);
        self.retry_at = Some(now + wait);
    }

    /// The old rules' answer handling: an acknowledged event counts, and the contiguous run
    /// from `confirmed` is confirmed; a failed one goes again alone after a backoff.
    #[cfg(test)]
    fn legacy_ack(&mut self, now: Timestamp, seq: u64, ack: Ack) {
        let Some(legacy) = &mut self.legacy else {
            return;
        };
        self.deadlines.retain(|&(s, _)| s != seq);
        match ack {
            Ack::Stored | Ack::Duplicate => {
                legacy.acked.insert(seq);
                let mut last = self.confirmed;
                while legacy.acked.remove(&(last + 1)) {
                    last += 1;
                }
                if last > self.confirmed {
                    self.confirm(last);
                }
            }
            Ack::WrongLast | Ack::Failed => {
                if seq > self.confirmed && !legacy.acked.contains(&seq) {
                    legacy.retry.insert(seq);
                    self.counts.republished += 1;
                    self.back_off(now);
                }
            }
        }
    }
}

/// Whether a stream holding `messages` messages, the first being event `first` and the last
/// event `last`, holds each event between once and in order as far as counting can tell. A stream
/// written by a build before ordered publishing may hold an event out of order or twice.
pub(crate) fn tail_is_consistent(messages: u64, first: u64, last: u64) -> bool {
    last >= first && messages == last - first + 1
}

#[cfg(test)]
pub(crate) mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream sequences the feed expects for the events it publishes next, taken until it
    /// has none to publish.
    fn expectations(feed: &mut EventsFeed, now: Timestamp) -> Vec<(u64, Option<u64>)> {
        std::iter::from_fn(|| match feed.poll_transmit(now)? {
            Transmit::Publish(publish) => Some((publish.seq, publish.expected_last_sequence)),
            other => panic!("a publish, not {other:?}"),
        })
        .collect()
    }

    /// Answers the feed's read of the stream's tail (which it must be asking for) with `tail`.
    fn tail_read(feed: &mut EventsFeed, now: Timestamp, tail: StreamTail) {
        assert!(matches!(
            feed.poll_transmit(now),
            Some(Transmit::ReadStreamTail)
        ));
        feed.handle_stream_tail(now, Some(tail));
    }

    /// The feed's answer to `seq` refused for order: after its backoff, it reads the tail, which
    /// says `tail`. Returns the time after the backoff.
    fn refused_for_order(
        feed: &mut EventsFeed,
        now: Timestamp,
        seq: u64,
        tail: StreamTail,
    ) -> Timestamp {
        feed.handle_ack(now, seq, feed.epoch(), Ack::WrongLast);
        let later = now + Duration::from_secs(10);
        feed.handle_timeout(later);
        tail_read(feed, later, tail);
        later
    }

    #[test]
    fn each_event_expects_the_stream_sequence_of_the_one_before() {
        let now = Timestamp::from_millis(1_000);
        let mut feed = EventsFeed::new(Subjects::new("t").expect("a valid prefix"), 100);
        // The stream ends with event 100 at stream sequence 503 (it held other messages first).
        let tail = StreamTail::Event {
            event: 100,
            stream_seq: 503,
        };
        tail_read(&mut feed, now, tail);
        let events: Vec<Event> = (101..=103).map(simulation::event).collect();
        feed.handle_durable(101, Arc::new(events));
        assert_eq!(
            expectations(&mut feed, now),
            [(101, Some(503)), (102, Some(504)), (103, Some(505))]
        );

        // Event 101 was stored meanwhile (another leader, or a lost acknowledgement): refused for
        // order, the feed reads the tail and goes on after it.
        let tail = StreamTail::Event {
            event: 101,
            stream_seq: 504,
        };
        let later = refused_for_order(&mut feed, now, 101, tail);
        assert_eq!(
            expectations(&mut feed, later),
            [(102, Some(504)), (103, Some(505))]
        );
        feed.handle_ack(later, 103, feed.epoch(), Ack::Stored);
        assert!(feed.is_idle(), "event 103 stored: everything up to it is");
    }

    #[test]
    fn an_empty_stream_expects_sequence_0_and_a_stream_made_again_starts_over() {
        let now = Timestamp::from_millis(1_000);
        let mut feed = EventsFeed::new(Subjects::new("t").expect("a valid prefix"), 0);
        tail_read(&mut feed, now, StreamTail::Empty);
        feed.handle_durable(1, Arc::new(vec![simulation::event(1)]));
        assert_eq!(expectations(&mut feed, now), [(1, Some(0))]);
        feed.handle_ack(now, 1, feed.epoch(), Ack::Stored);

        // The stream is made again: event 2 is refused, the tail says empty, and event 2 goes
        // as the new stream's first.
        feed.handle_durable(2, Arc::new(vec![simulation::event(2)]));
        assert_eq!(expectations(&mut feed, now), [(2, Some(1))]);
        let later = refused_for_order(&mut feed, now, 2, StreamTail::Empty);
        assert_eq!(expectations(&mut feed, later), [(2, Some(0))]);
    }

    #[test]
    fn a_stream_is_consistent_when_its_count_matches_its_ends() {
        assert!(tail_is_consistent(10, 1, 10));
        assert!(tail_is_consistent(5, 6, 10));
        assert!(!tail_is_consistent(9, 1, 10), "a gap");
        assert!(!tail_is_consistent(11, 1, 10), "a duplicate");
        assert!(!tail_is_consistent(2, 10, 9), "out of order");
    }
}
