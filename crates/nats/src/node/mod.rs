//! The node: every rule of the NATS driver, without I/O.
//!
//! [`Node`] owns the routing core (a [`Router`]) and decides everything the driver used to decide
//! in async code tied to NATS and the log's committer: how a turn is gathered and decided;
//! idempotency; which replies, intake acknowledgements, offers and desktop notices wait for which
//! durable point; the order of queries and replies; the events feed ([`EventsFeed`]); the timers.
//! It does no I/O, reads no clock and spawns nothing, in the manner of quinn-proto's
//! `Connection` and TigerBeetle's replica (docs/adr/0002-the-node.md). The tokio shell
//! (`driver/shell.rs`) moves bytes and time between it and NATS, the log's group committer and
//! the clock; a seeded simulation (`node/vopr`) drives the same type over a simulated disk and
//! NATS, with crashes.
//!
//! # Using it
//!
//! Hand inputs in with the `handle_*` methods, each with `now` (the wall clock as the core's
//! [`Timestamp`]; the shell keeps it from going back). Then drain [`Node::poll_transmit`] until it
//! returns `None`, carrying out each [`Transmit`] in the order given, and wait until
//! [`Node::poll_timeout`] (or the next input) to call [`Node::handle_timeout`].
//!
//! # The rules
//!
//! - **A turn** is every command and intake message handed in between two calls of
//!   `poll_transmit`, at most `batch_max` of them (the turn closes early when full). Each command
//!   is decided as it comes in, after the core's timers due by then; the turn's events go out as
//!   one [`Transmit::Append`], in order, numbered on from the last event decided.
//! - **Nothing leaves before it is durable.** A turn's replies, intake acknowledgements, offers
//!   and desktop notices, and its events for the events feed, are released only once the log is
//!   durable up to the turn's last event, or, for a turn without events, up to the last event
//!   decided before it (its refusals, repeats and query replies read a state holding those).
//!   Turns are released in order. The shell says how far the log is durable with
//!   [`Node::handle_durable`].
//! - **Queries** are answered from the state as it is when they come in, and their reply joins
//!   the open turn, so it never reports what a crash could take back. A contact's history is read
//!   from the log once it is durable up to that point ([`Transmit::ReadHistory`]).
//! - **Idempotency.** A command with a key (`Nats-Msg-Id`, or the body's `command_id`; scoped
//!   to the command's kind and agent) is remembered with its reply at once, for
//!   `idempotency_window`, at most `idempotency_entries_max` of them; a repeat gets that reply,
//!   in the format it asks in, released with its own turn. A keyed command that produced events
//!   also writes its reply into the log, as a receipt on its last event's record; at start-up
//!   [`Node::restore_receipts`] rebuilds the window from those the engine's recovery read back,
//!   so a repeat after a restart gets the first reply too (a refusal is not kept across one).
//! - **A failed log** ([`Node::handle_log_failed`]) answers every request still waiting
//!   `unavailable`, leaves intake unacknowledged (JetStream delivers it again to the next run) and
//!   drops offers, notices and events; later requests are answered `unavailable` at once.
//! - **Personal data** (docs/privacy.md). A command's personal fields (customer reference,
//!   attribute values, free text about a contact) are sealed as it is decoded, before the core
//!   sees it, by the node's [`Sealer`] (its keys, and a generator the node is handed: seeded in
//!   a simulation); so the core's state, its events, the log and the snapshots hold tokens, not
//!   plaintext. Keys made in a turn go to the keystore ([`Transmit::SaveKeys`]) before the
//!   turn's append. Output is opened: the events feed, offers and contact histories carry the
//!   plaintext, or `[erased]` where the key is gone.

mod idempotency;
mod notices;
mod query;
mod retention;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vopr;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_nats::Subject;
use bytes::Bytes;
use switchboard_core::{AgentId, Event, EventKind, Router, State, Timestamp};
use switchboard_log::Entry;
use switchboard_privacy::{KeyDelta, Keys, RetentionFold, RetentionSchedule, Sealer};
use switchboard_wire::{
    CommandKind, ErrorCode, Format, PAYLOAD_BYTES_MAX, Receipt, Reply, Route, Subjects, WireError,
    names::ID_BYTES_MAX,
};

use crate::feed::{self, Ack, EventsFeed, StreamTail};
use crate::refusals::RefusalLog;
use crate::telemetry;
use idempotency::Window;
use query::History;

/// How the node decides.
#[derive(Clone, Debug)]
pub(crate) struct NodeSettings {
    /// The subjects of the wire contract.
    pub(crate) subjects: Subjects,
    /// The most commands and intake messages in one turn (one append).
    pub(crate) batch_max: usize,
    /// How long a reply is remembered for a repeated idempotency key.
    pub(crate) idempotency_window: Duration,
    /// How many replies are remembered at most.
    pub(crate) idempotency_entries_max: usize,
}

/// An opaque mark the shell gives each message it hands in (its own clock's reading) and gets
/// back with what answers it, for its reply latency metric. The node never looks at it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mark(pub(crate) u64);

/// The shell's handle of an intake message, to acknowledge it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IntakeHandle(pub(crate) u64);

/// One request from NATS: a command (`{p}.cmd.>`), a query (`{p}.query.>`), or, handed to
/// [`Node::handle_intake`], a durable intake message (`{p}.inbox.>`).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The subject it came on.
    pub(crate) subject: Subject,
    /// Where to reply (none for intake: its acknowledgement is the answer).
    pub(crate) reply: Option<Subject>,
    /// The `Content-Type` header: the body's format, and the reply's.
    pub(crate) content_type: Option<String>,
    /// The `Nats-Msg-Id` header: an idempotency key.
    pub(crate) msg_id: Option<String>,
    /// The body.
    pub(crate) payload: Bytes,
    /// The shell's mark, handed back with the answer.
    pub(crate) mark: Mark,
}

/// A turn's events for the log.
#[derive(Clone, Debug)]
pub(crate) struct Append {
    /// The first event's sequence number; the rest follow densely.
    pub(crate) first_seq: u64,
    /// The log entries, one per event.
    pub(crate) entries: Vec<Entry>,
    /// The events themselves (for telemetry).
    pub(crate) events: Arc<Vec<Event>>,
}

/// What the node asks the shell to do, in the order given.
#[derive(Clone, Debug)]
pub(crate) enum Transmit {
    /// Save these keys to the keystore before carrying out what follows (the append of values
    /// sealed under them): made keys must be durable before anything sealed under them is.
    SaveKeys(KeyDelta),
    /// Append a turn's events to the log; report with [`Node::handle_durable`] (or
    /// [`Node::handle_log_failed`]).
    Append(Append),
    /// Publish a reply.
    Reply {
        /// The request's reply subject.
        to: Subject,
        /// The reply.
        body: Bytes,
        /// The command's mark (none for a query's reply).
        mark: Option<Mark>,
    },
    /// Acknowledge an intake message: its command is durable (or was refused).
    AckIntake {
        /// The message.
        handle: IntakeHandle,
        /// Its mark.
        mark: Mark,
    },
    /// Publish an offer or a desktop notice (core NATS).
    Notice {
        /// `{p}.agent.<id>.<notice>`.
        subject: Subject,
        /// The notice.
        body: Bytes,
    },
    /// These events are durable and released: hand them to whatever follows the log (the
    /// snapshotter), then, once the transmits of this durable point are done, the point itself.
    Released {
        /// The first event's sequence number.
        first_seq: u64,
        /// The events.
        events: Arc<Vec<Event>>,
    },
    /// Read a contact's events from the log, up to `up_to` (durable), and answer with
    /// [`Node::handle_history`].
    ReadHistory {
        /// The read's number, to hand back.
        id: u64,
        /// The contact.
        contact_id: String,
        /// The last event to read.
        up_to: u64,
    },
    /// The events feed asks for this (publish to the events stream, read its tail, read the
    /// log): answer with [`Node::handle_event_ack`], [`Node::handle_stream_tail`] or
    /// [`Node::handle_log_read`].
    Feed(feed::Transmit),
}

/// What one message of a turn is answered with, once the turn is durable.
#[derive(Debug)]
enum Answer {
    /// A reply, kept with its format for an `unavailable` reply in its place should the log
    /// fail.
    Reply {
        to: Subject,
        body: Bytes,
        format: Format,
        mark: Option<Mark>,
    },
    /// An intake acknowledgement.
    Ack { handle: IntakeHandle, mark: Mark },
}

/// The turn being gathered.
#[derive(Debug, Default)]
struct OpenTurn {
    /// The first event's sequence number (meaningful once it has events).
    first_seq: u64,
    /// Its events so far.
    events: Vec<Event>,
    /// The idempotency receipts of its keyed commands, each by the index (in `events`) of the
    /// command's last event, which carries it into the log.
    receipts: Vec<(usize, Receipt)>,
    /// Its answers so far, in the order the messages came.
    answers: Vec<Answer>,
    /// Commands and intake messages taken (bounded by `batch_max`).
    messages: usize,
}

impl OpenTurn {
    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.answers.is_empty() && self.messages == 0
    }
}

/// A turn decided and handed to the log, with everything it sends once durable.
#[derive(Debug)]
struct ClosedTurn {
    /// Nothing of it goes out before the log is durable up to here.
    durable_at: u64,
    answers: Vec<Answer>,
    /// Offers and desktop notices, made from the state as the turn left it.
    notices: Vec<(Subject, Bytes)>,
    /// Its events and the first one's sequence number.
    events: Option<(u64, Arc<Vec<Event>>)>,
}

/// Whom a command's answer goes to.
#[derive(Clone, Debug)]
enum Target {
    /// A request: its reply subject, if it has one.
    Reply(Option<Subject>),
    /// An intake message: acknowledged.
    Intake(IntakeHandle),
}

/// The driver's rules over the routing core. See the module documentation.
#[derive(Debug)]
pub(crate) struct Node {
    settings: NodeSettings,
    router: Router,
    /// The last event decided (in the open turn or handed to the log).
    last_decided: u64,
    /// Every event up to here is durable.
    durable: u64,
    open: OpenTurn,
    /// Turns handed to the log and not yet released, oldest first. Bounded by the log's
    /// committer, whose queue stops the shell when it is full.
    waiting: VecDeque<ClosedTurn>,
    window: Window,
    feed: EventsFeed,
    /// Contact histories asked for and not yet answered (at most [`query::HISTORY_READS_MAX`]).
    histories: BTreeMap<u64, History>,
    next_history: u64,
    refusals: RefusalLog,
    /// Outputs not yet taken, in order; drained by the shell after every input.
    transmits: VecDeque<Transmit>,
    /// The events stream position last reported to telemetry.
    feed_reported: Option<u64>,
    /// The log failed: nothing more becomes durable.
    failed: bool,
    /// The latest time handed in.
    now: Timestamp,
    /// Seals commands' personal fields as they come in, opens events' for output.
    sealer: Sealer,
    /// Shredding by retention, when `[retention]` is configured.
    retention: Option<retention::Retention>,
}

impl Node {
    /// A node over `router`, whose state holds exactly the log's events up to `durable` (all
    /// durable); its events feed resumes after the events stream's last event.
    pub(crate) fn new(
        router: Router,
        durable: u64,
        settings: NodeSettings,
        sealer: Sealer,
    ) -> Self {
        let feed = EventsFeed::new(settings.subjects.clone(), durable);
        Self::with_feed(router, durable, settings, feed, sealer)
    }

    /// A node with the given events feed (the simulation's choice of rules).
    pub(crate) fn with_feed(
        router: Router,
        durable: u64,
        settings: NodeSettings,
        feed: EventsFeed,
        sealer: Sealer,
    ) -> Self {
        debug_assert_eq!(router.state().events_applied(), durable);
        let window = Window::new(
            settings.idempotency_entries_max,
            settings.idempotency_window,
        );
        Self {
            settings,
            router,
            last_decided: durable,
            durable,
            open: OpenTurn::default(),
            waiting: VecDeque::new(),
            window,
            feed,
            histories: BTreeMap::new(),
            next_history: 0,
            refusals: RefusalLog::default(),
            transmits: VecDeque::new(),
            feed_reported: None,
            failed: false,
            now: Timestamp::EPOCH,
            sealer,
            retention: None,
        }
    }

    /// Shreds by `schedule` (docs/privacy.md, "Retention") once [`Node::handle_retention_fold`]
    /// hands in the log's fold up to where the node started. Call before any input.
    pub(crate) fn set_retention(&mut self, schedule: RetentionSchedule) {
        self.retention = Some(retention::Retention::new(schedule));
    }

    /// The schedule and keys a start-up fold of the log needs, when retention is on.
    pub(crate) fn retention_fold_inputs(&self) -> Option<(RetentionSchedule, Keys)> {
        let retention = self.retention.as_ref()?;
        Some((retention.schedule().clone(), self.sealer.keys().clone()))
    }

    /// The log's fold up to where the node started (read off the loop): shredding begins.
    pub(crate) fn handle_retention_fold(&mut self, fold: RetentionFold, now: Timestamp) {
        self.advance(now);
        if let Some(retention) = &mut self.retention {
            retention.folded(self.sealer.keys(), fold);
        }
    }

    /// Rebuilds the idempotency window from the receipts recovery read back from the log
    /// (`Recovered::receipts`: each with its record's time, oldest first), so that a repeat
    /// after a restart gets the first reply. Call before any input. The window's bounds hold:
    /// receipts older than the window are forgotten at the first look, and past
    /// `idempotency_entries_max` the oldest go first.
    pub(crate) fn restore_receipts(&mut self, receipts: Vec<(Timestamp, Receipt)>) {
        for (at, receipt) in receipts {
            self.window
                .insert(receipt.key, Reply::Ok(receipt.reply), at);
        }
    }

    /// The router: the state (with every event decided, durable or not) and configuration.
    pub(crate) const fn router(&self) -> &Router {
        &self.router
    }

    /// The routing state, with every event decided, durable or not.
    pub(crate) const fn state(&self) -> &State {
        self.router.state()
    }

    /// The router, once the node is done (the shell's clean stop).
    pub(crate) fn into_router(self) -> Router {
        self.router
    }

    /// The last event decided.
    #[cfg(test)]
    pub(crate) const fn last_decided(&self) -> u64 {
        self.last_decided
    }

    /// Whether every turn is released: nothing decided waits for the log.
    pub(crate) fn is_settled(&self) -> bool {
        self.open.is_empty() && self.waiting.is_empty()
    }

    /// Whether the events feed has stored every durable event and has nothing out.
    pub(crate) fn feed_is_idle(&self) -> bool {
        self.feed.is_idle()
    }

    /// How many idempotency keys are remembered.
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.window.len()
    }

    /// Whether the log has failed.
    pub(crate) const fn has_failed(&self) -> bool {
        self.failed
    }

    fn advance(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
    }

    /// A command or query request from NATS.
    pub(crate) fn handle_request(&mut self, request: &Request, now: Timestamp) {
        self.advance(now);
        let format = Format::from_content_type(request.content_type.as_deref());
        if self.failed {
            if let Some(to) = request.reply.clone() {
                self.unavailable(to, format);
            }
            return;
        }
        match self.settings.subjects.parse(request.subject.as_str()) {
            Ok(Route::Query(kind)) => self.query(kind, request, format),
            Ok(Route::Command(kind, agent)) => {
                let target = Target::Reply(request.reply.clone());
                self.command(Ok((kind, agent)), request, format, target);
            }
            Err(error) => {
                let target = Target::Reply(request.reply.clone());
                self.command(Err(error), request, format, target);
            }
        }
    }

    /// A durable intake message, acknowledged (by `handle`) once its command is durable.
    pub(crate) fn handle_intake(
        &mut self,
        request: &Request,
        handle: IntakeHandle,
        now: Timestamp,
    ) {
        self.advance(now);
        if self.failed {
            return; // Left unacknowledged: delivered again to the next run.
        }
        let format = Format::from_content_type(request.content_type.as_deref());
        let route = match self.settings.subjects.parse(request.subject.as_str()) {
            Ok(Route::Command(kind, agent)) => Ok((kind, agent)),
            Ok(Route::Query(_)) => Err(WireError::unknown_subject(request.subject.as_str())),
            Err(error) => Err(error),
        };
        self.command(route, request, format, Target::Intake(handle));
    }

    /// The log is durable up to `seq`: releases what waited for it.
    pub(crate) fn handle_durable(&mut self, seq: u64) {
        debug_assert!(seq <= self.last_decided, "durable past what was decided");
        self.durable = self.durable.max(seq.min(self.last_decided));
        self.release();
    }

    /// The log failed: nothing waiting will become durable. Every request waiting for a reply
    /// is answered `unavailable`; intake is left unacknowledged; offers, notices and events
    /// are dropped. Returns how many requests were answered `unavailable`.
    pub(crate) fn handle_log_failed(&mut self) -> usize {
        if self.failed {
            return 0;
        }
        self.failed = true;
        // What the shell has not taken yet will not be appended either.
        self.transmits
            .retain(|transmit| !matches!(transmit, Transmit::Append(_)));
        let open = std::mem::take(&mut self.open);
        let waiting: Vec<Answer> = self
            .waiting
            .drain(..)
            .flat_map(|turn| turn.answers)
            .chain(open.answers)
            .collect();
        let mut answered = 0;
        for answer in waiting {
            if let Answer::Reply { to, format, .. } = answer {
                self.unavailable(to, format);
                answered += 1;
            }
        }
        answered + self.fail_histories()
    }

    /// Time has passed: the core's timers due by `now` are decided (their events join the open
    /// turn), the events feed's backoff or acknowledgement wait may be over, a summary of
    /// refusals may be due. Returns how many events the core's timers decided.
    pub(crate) fn handle_timeout(&mut self, now: Timestamp) -> usize {
        self.advance(now);
        let decided = if self.failed {
            0
        } else {
            self.tick() + self.shred()
        };
        self.feed.handle_timeout(self.now);
        if let Some(summary) = self.refusals.poll(self.now) {
            warn_refusals(&summary);
        }
        self.report_feed();
        decided
    }

    /// When [`Node::handle_timeout`] should next be called, if at all.
    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        let core = if self.failed {
            None
        } else {
            self.router.poll_timeout()
        };
        let retention = self
            .retention
            .as_ref()
            .filter(|_| !self.failed)
            .and_then(retention::Retention::due_at);
        [
            core,
            self.feed.poll_timeout(),
            self.refusals.due_at(),
            retention,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing to do. The first call after inputs closes the open turn (its events go
    /// out first, as an append); then come what durable points released, in order, and the
    /// events feed's work.
    pub(crate) fn poll_transmit(&mut self, now: Timestamp) -> Option<Transmit> {
        self.advance(now);
        if !self.open.is_empty() {
            self.close_turn();
        }
        if let Some(transmit) = self.transmits.pop_front() {
            return Some(transmit);
        }
        if self.failed {
            return None;
        }
        self.feed.poll_transmit(self.now).map(Transmit::Feed)
    }

    /// The events stream's answer to the publish of event `seq` in the feed's attempt `epoch`;
    /// `error` is its text when it was not stored.
    pub(crate) fn handle_event_ack(
        &mut self,
        seq: u64,
        epoch: u64,
        ack: Ack,
        error: Option<&str>,
        now: Timestamp,
    ) {
        self.advance(now);
        let current = epoch == self.feed.epoch();
        self.feed.handle_ack(self.now, seq, epoch, ack);
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
        self.report_feed();
    }

    /// The answer to the feed's log read from `from` (`None`: it failed).
    pub(crate) fn handle_log_read(
        &mut self,
        from: u64,
        events: Option<Vec<Event>>,
        now: Timestamp,
    ) {
        self.advance(now);
        let keys = self.sealer.keys();
        let events = events.map(|events| {
            events
                .into_iter()
                .map(|e| open_for_output(keys, e))
                .collect()
        });
        self.feed.handle_log_read(self.now, from, events);
    }

    /// The events stream's tail (`None`: it could not be read).
    pub(crate) fn handle_stream_tail(&mut self, tail: Option<StreamTail>, now: Timestamp) {
        self.advance(now);
        self.feed.handle_stream_tail(self.now, tail);
        self.report_feed();
    }

    /// A contact's history read for query `id` (`None`: the read failed; the reply then holds
    /// the state's part only).
    pub(crate) fn handle_history(&mut self, id: u64, history: Option<Vec<(u64, Event)>>) {
        self.history_read(id, history);
    }

    /// Decides the core's timers due by now; their events join the open turn.
    fn tick(&mut self) -> usize {
        if self.router.poll_timeout().is_none_or(|at| at > self.now) {
            return 0;
        }
        let decided = self.router.handle_timeout(self.now);
        self.take_events();
        decided
    }

    /// Erases the subjects whose retention ran out, if a check is due; returns how many events
    /// that decided.
    fn shred(&mut self) -> usize {
        let Some(retention) = &mut self.retention else {
            return 0;
        };
        let mut decided = 0;
        for command in retention.due(self.now) {
            match self.router.handle_command(command, self.now) {
                Ok(events) => decided += events,
                Err(rejection) => {
                    tracing::error!(%rejection, "retention: the core refused an erasure");
                }
            }
        }
        self.take_events();
        decided
    }

    /// Moves the core's new events into the open turn, numbering them. An erasure destroys the
    /// customer's key at once: nothing more is sealed under it, what was reads as `[erased]`,
    /// and the turn's key changes (saved before its append) take it from the keystore.
    fn take_events(&mut self) {
        for event in self.router.drain_events() {
            if self.open.events.is_empty() {
                self.open.first_seq = self.last_decided + 1;
            }
            if let EventKind::PersonalDataErased(erased) = &event.kind {
                erase_key(&mut self.sealer, erased);
            }
            if let Some(retention) = &mut self.retention {
                retention.observe(self.sealer.keys(), &event);
            }
            self.open.events.push(event);
            self.last_decided += 1;
        }
    }

    /// Decides one command (or refuses it), and queues its answer in the open turn.
    fn command(
        &mut self,
        route: Result<(CommandKind, Option<AgentId>), WireError>,
        request: &Request,
        format: Format,
        target: Target,
    ) {
        let reply = self.decide(route, request, format);
        let body = Bytes::from(switchboard_wire::encode_reply(&reply, format));
        let answer = match target {
            Target::Reply(Some(to)) => Some(Answer::Reply {
                to,
                body,
                format,
                mark: Some(request.mark),
            }),
            Target::Reply(None) => None,
            Target::Intake(handle) => Some(Answer::Ack {
                handle,
                mark: request.mark,
            }),
        };
        self.open.answers.extend(answer);
        self.open.messages += 1;
        if self.open.messages >= self.settings.batch_max.max(1) {
            self.close_turn();
        }
    }

    /// The reply to one command: refused if it is bad input, the first reply if its key was
    /// seen, else the core's decision (after the timers due by now).
    fn decide(
        &mut self,
        route: Result<(CommandKind, Option<AgentId>), WireError>,
        request: &Request,
        format: Format,
    ) -> Reply {
        if request.payload.len() > PAYLOAD_BYTES_MAX {
            return self.refuse(
                request,
                WireError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "the body is {} bytes; at most {PAYLOAD_BYTES_MAX} are accepted",
                        request.payload.len()
                    ),
                ),
            );
        }
        let (kind, agent) = match route {
            Ok(route) => route,
            Err(error) => return self.refuse(request, error),
        };
        if let Some(header) = request.msg_id.as_deref()
            && header.len() > ID_BYTES_MAX
        {
            let length = header.len();
            return self.refuse(
                request,
                WireError::invalid(format!(
                    "the Nats-Msg-Id header is {length} bytes long, more than {ID_BYTES_MAX}"
                )),
            );
        }
        let decoded = match switchboard_wire::decode_command(
            kind,
            agent.as_ref(),
            &request.payload,
            format,
        ) {
            Ok(decoded) => decoded,
            // Not a command that was decided, so no reply to remember: a sender that fixes
            // its body and repeats the key gets the decision, not this refusal.
            Err(error) => return self.refuse(request, error),
        };
        // A key is the sender's for one kind of command (and one agent): another sender's
        // command under the same key is a different command and never gets that sender's reply.
        let key = request
            .msg_id
            .clone()
            .or(decoded.command_id)
            .map(|key| scoped_key(kind, agent.as_ref(), &key));
        if let Some(key) = key.as_deref()
            && let Some(first) = self.window.get(key, self.now)
        {
            telemetry::repeated_command();
            return first.clone();
        }
        self.tick();
        let command = match self
            .sealer
            .seal_command(decoded.command, self.router.state())
        {
            Ok(command) => command,
            Err(error) => {
                return self.refuse(
                    request,
                    WireError::invalid(format!("a personal field could not be sealed: {error}")),
                );
            }
        };
        let first_seq = self.last_decided + 1;
        let reply = match self.router.handle_command(command.clone(), self.now) {
            Ok(_) => {
                self.take_events();
                telemetry::command_decided(kind.verb(), true);
                let own = self.own_events(first_seq);
                Reply::Ok(switchboard_wire::reply_body(&command, own))
            }
            Err(rejection) => {
                telemetry::command_decided(kind.verb(), false);
                self.refuse(request, WireError::from(&rejection))
            }
        };
        if let Some(key) = key {
            self.remember(key, &reply);
        }
        reply
    }

    /// Remembers a keyed command's first reply; one that produced events also rides into the
    /// log as a receipt on the command's last event (just decided, the open turn's last), so a
    /// restart can rebuild it ([`Node::restore_receipts`]).
    fn remember(&mut self, key: String, reply: &Reply) {
        if let Reply::Ok(body) = reply
            && body.events > 0
            && let Some(last) = self.open.events.len().checked_sub(1)
        {
            debug_assert_eq!(body.seq, self.last_decided, "the command's last event");
            let receipt = Receipt {
                key: key.clone(),
                reply: body.clone(),
            };
            self.open.receipts.push((last, receipt));
        }
        self.window.insert(key, reply.clone(), self.now);
    }

    /// The open turn's events from `first_seq` on, with their sequence numbers.
    fn own_events(&self, first_seq: u64) -> impl Iterator<Item = (u64, &Event)> {
        let events = &self.open.events;
        let start = if self.last_decided < first_seq {
            events.len()
        } else {
            usize::try_from(first_seq - self.open.first_seq).unwrap_or(events.len())
        };
        events[start.min(events.len())..]
            .iter()
            .enumerate()
            .map(move |(i, event)| (first_seq + i as u64, event))
    }

    /// A refusal: counted, logged (one DEBUG line, a WARN summary at most every ten seconds).
    fn refuse(&mut self, request: &Request, error: WireError) -> Reply {
        let code = error.code.as_str();
        telemetry::bad_message(code);
        crate::refusals::log_refusal(request.subject.as_str(), code, &error.message);
        if let Some(summary) = self.refusals.refused(code, self.now) {
            warn_refusals(&summary);
        }
        Reply::Error(error)
    }

    /// An `unavailable` reply, at once: the log failed, so what it answers is not durable.
    fn unavailable(&mut self, to: Subject, format: Format) {
        telemetry::bad_message(ErrorCode::Unavailable.as_str());
        let body = switchboard_wire::encode_reply(&Reply::Error(log_failed_error()), format);
        self.transmits.push_back(Transmit::Reply {
            to,
            body: Bytes::from(body),
            mark: None,
        });
    }

    /// Closes the open turn: its events go to the log, and it waits for them.
    fn close_turn(&mut self) {
        let turn = std::mem::take(&mut self.open);
        if turn.messages > 0 {
            telemetry::turn_finished(turn.messages, self.window.len());
        }
        let mut closed = ClosedTurn {
            durable_at: self.last_decided,
            answers: turn.answers,
            notices: Vec::new(),
            events: None,
        };
        if let Some(delta) = self.sealer.take_delta() {
            self.transmits.push_back(Transmit::SaveKeys(delta));
        }
        if !turn.events.is_empty() {
            for event in &turn.events {
                notices::desktop_notices(
                    self.router.state(),
                    self.sealer.keys(),
                    &self.settings.subjects,
                    event,
                    &mut closed.notices,
                );
            }
            let entries = switchboard_engine::encode_entries(&turn.events, turn.receipts);
            let events = Arc::new(turn.events);
            self.transmits.push_back(Transmit::Append(Append {
                first_seq: turn.first_seq,
                entries,
                events: Arc::clone(&events),
            }));
            closed.events = Some((turn.first_seq, events));
        }
        self.waiting.push_back(closed);
        self.release();
    }

    /// Releases every turn now durable, in order, and asks for the histories now durable.
    fn release(&mut self) {
        while self
            .waiting
            .front()
            .is_some_and(|turn| turn.durable_at <= self.durable)
        {
            let Some(turn) = self.waiting.pop_front() else {
                break;
            };
            for answer in turn.answers {
                self.transmits.push_back(match answer {
                    Answer::Reply { to, body, mark, .. } => Transmit::Reply { to, body, mark },
                    Answer::Ack { handle, mark } => Transmit::AckIntake { handle, mark },
                });
            }
            for (subject, body) in turn.notices {
                self.transmits.push_back(Transmit::Notice { subject, body });
            }
            if let Some((first_seq, events)) = turn.events {
                self.feed
                    .handle_durable(first_seq, open_all(self.sealer.keys(), &events));
                self.transmits
                    .push_back(Transmit::Released { first_seq, events });
            }
        }
        self.ask_histories();
    }

    /// Telemetry of the events feed: how far the stream is confirmed, what went again.
    fn report_feed(&mut self) {
        let confirmed = self.feed.confirmed();
        if self.feed_reported != Some(confirmed) {
            self.feed_reported = Some(confirmed);
            telemetry::events_stream_sequence(confirmed);
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

/// Destroys the key of the customer the erasure names by pseudonym (hex), logging it under the
/// pseudonym only: at INFO for a request, at DEBUG for retention, whose batches the retention
/// check sums up in one INFO line (a first start over an old log can shred 256 a second).
fn erase_key(sealer: &mut Sealer, erased: &switchboard_core::PersonalDataErasure) {
    let subject = erased.subject.as_ref();
    match switchboard_privacy::Pseudonym::parse_hex(subject) {
        Some(pseudonym) => {
            let destroyed = sealer.erase(pseudonym);
            match erased.reason {
                switchboard_core::ErasureReason::Request => {
                    tracing::info!(subject, key_destroyed = destroyed, "personal data erased");
                }
                switchboard_core::ErasureReason::Retention => tracing::debug!(
                    subject,
                    key_destroyed = destroyed,
                    "personal data erased (retention)"
                ),
            }
        }
        None => tracing::warn!(
            subject,
            "an erasure names no valid pseudonym: no key destroyed"
        ),
    }
}

/// An event as output shows it: its personal fields opened (docs/privacy.md).
pub(crate) fn open_for_output(keys: &Keys, event: Event) -> Event {
    if switchboard_privacy::has_personal_fields(&event) {
        switchboard_privacy::open_event(keys, &event)
    } else {
        event
    }
}

/// A turn's events for the events feed, opened; the same batch when none has personal fields.
fn open_all(keys: &Keys, events: &Arc<Vec<Event>>) -> Arc<Vec<Event>> {
    if events.iter().any(switchboard_privacy::has_personal_fields) {
        Arc::new(
            events
                .iter()
                .map(|event| open_for_output(keys, event.clone()))
                .collect(),
        )
    } else {
        Arc::clone(events)
    }
}

/// The idempotency key of a command: its kind's verb, its agent (if any) and the sender's key.
fn scoped_key(kind: CommandKind, agent: Option<&AgentId>, key: &str) -> String {
    let agent = agent.map_or("", |a| a.as_str());
    format!("{} {agent} {key}", kind.verb())
}

/// The reply to a request whose events the log failed to make durable (or whose reply waited
/// for earlier ones that were not): not known to be durable, so to be sent again.
pub(crate) fn log_failed_error() -> WireError {
    WireError::new(
        ErrorCode::Unavailable,
        "the engine's event log could not be written and the engine is stopping; this was not \
         acknowledged: send it again, with the same idempotency key, once the engine is back",
    )
}

fn warn_refusals(summary: &crate::refusals::RefusalSummary) {
    tracing::warn!(
        refused = summary.refused,
        "{summary} (each at DEBUG; counted in {})",
        telemetry::BAD_MESSAGES
    );
}
