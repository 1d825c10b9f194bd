//! The driver's shell: moves bytes and time between the [`Node`] (which holds every rule) and
//! NATS, the log's group committer, the snapshotter and the clock. Each round it waits for one
//! input (biased: shutdown, the committer's reports, the events stream's answers, finished
//! reads, the metrics timer, then messages, then the node's timer), hands in that input and
//! whatever else has arrived, and carries out what the node then asks, in order, with one flush.
//!
//! Bounds: the committer's reports wait in an unbounded channel, but the committer reports at
//! most once per group of turns and takes at most its queue's 4 096 turns, and the loop takes
//! reports before anything else, so fewer than about 4 100 ever wait; intake messages wait for
//! their acknowledgement at most `max_ack_pending` (20 000) at a time; the events stream's
//! answers at most the feed's window (256); the tasks (log reads, the stream's tail, contact
//! histories) at most one, one and [`crate::node::HISTORY_READS_MAX`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::{Client, Message, jetstream};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use switchboard_core::Timestamp;
use switchboard_engine::{EngineError, Snapshotter};
use switchboard_log::{ChainHash, FileLog, GroupCommitter, LogError, Report};
use switchboard_wire::Subjects;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;

use super::io::{self, Done, EventAck, request, sleep};
use super::setup::Wired;
use super::{DriverError, nats, wall_now};
use crate::feed;
use crate::node::{IntakeHandle, Mark, Node, Transmit};
use crate::telemetry::{self, Telemetry};

/// The most queries handed in per round: commands, taken first, would otherwise keep a
/// wallboard waiting for as long as they keep coming.
const QUERIES_PER_ROUND_MAX: usize = 64;

/// One input of a round.
#[expect(
    clippy::large_enum_variant,
    reason = "one at a time, on the stack, and taken apart at once"
)]
enum Input {
    Shutdown,
    Report(Option<Report>),
    EventAck(EventAck),
    Done(Result<Done, tokio::task::JoinError>),
    Sample,
    Command(Option<Message>),
    Intake(Option<Result<jetstream::Message, jetstream::consumer::pull::MessagesError>>),
    Query(Option<Message>),
    Timeout,
}

/// The shell and everything it moves bytes between.
pub(super) struct Shell {
    pub(super) client: Client,
    pub(super) wired: Wired,
    pub(super) node: Node,
    pub(super) committer: GroupCommitter<FileLog>,
    pub(super) reports: UnboundedReceiver<Report>,
    pub(super) snapshotter: Snapshotter,
    pub(super) telemetry: Telemetry,
    pub(super) dir: PathBuf,
    pub(super) subjects: Subjects,
    pub(super) batch_max: usize,
    /// Intake messages handed to the node and not yet acknowledged, by handle.
    pub(super) intake: HashMap<u64, jetstream::Message>,
    pub(super) next_intake: u64,
    pub(super) acks: FuturesUnordered<BoxFuture<'static, EventAck>>,
    pub(super) tasks: JoinSet<Done>,
    /// A durable point to tell the snapshotter once its released events are handed over.
    pub(super) durable_point: Option<(u64, ChainHash)>,
    pub(super) started: Instant,
    pub(super) clock: Timestamp,
    /// Shutting down: no more messages are taken; rounds go on until everything is answered
    /// and the events stream holds the log.
    pub(super) stopping: bool,
}

impl Shell {
    /// The wall clock as the core's time, never going back.
    pub(super) fn now(&mut self) -> Timestamp {
        self.clock = self.clock.max(wall_now());
        self.clock
    }

    fn mark(&self) -> Mark {
        Mark(u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    /// Rounds until `shutdown` completes (or, stopping, until nothing is left to do), or the log
    /// or NATS fails (a failed log's waiting requests are answered first).
    pub(super) async fn serve(
        &mut self,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), DriverError> {
        let mut sample = tokio::time::interval(Duration::from_secs(1));
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let done =
                self.node.is_settled() && (self.node.feed_is_idle() || self.node.has_failed());
            if self.stopping && done {
                return Ok(());
            }
            let now = self.now();
            let wait = self.node.poll_timeout().map(|at| at.saturating_since(now));
            let taking = !self.stopping;
            let input = tokio::select! {
                biased;
                () = &mut shutdown, if taking => Input::Shutdown,
                report = self.reports.recv() => Input::Report(report),
                Some(ack) = self.acks.next(), if !self.acks.is_empty() => Input::EventAck(ack),
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => Input::Done(done),
                _ = sample.tick() => Input::Sample,
                message = self.wired.commands.next(), if taking => Input::Command(message),
                message = self.wired.intake.next(), if taking => Input::Intake(message),
                message = self.wired.queries.next(), if taking => Input::Query(message),
                () = sleep(wait), if wait.is_some() => Input::Timeout,
            };
            if matches!(input, Input::Shutdown) {
                return Ok(());
            }
            let round = match self.handle(input) {
                Ok(()) => self.transmit().await,
                Err(error) => Err(error),
            };
            if let Err(error) = round {
                if matches!(error, DriverError::Engine(_)) {
                    self.log_failed().await;
                }
                return Err(error);
            }
        }
    }

    /// Hands one input (and, for a message, whatever else has arrived) to the node.
    fn handle(&mut self, input: Input) -> Result<(), DriverError> {
        let now = self.now();
        match input {
            Input::Shutdown => {}
            Input::Report(Some(Report::Durable(group))) => {
                self.telemetry.group_durable(&group);
                self.node.handle_durable(group.durable.up_to_seq);
                self.durable_point = Some((group.durable.up_to_seq, group.durable.head_hash));
            }
            Input::Report(Some(Report::Failed(error))) => {
                return Err(EngineError::Log(error).into());
            }
            Input::Report(None) => return Err(EngineError::Log(LogError::WriterStopped).into()),
            Input::EventAck((seq, epoch, ack, error)) => {
                self.node
                    .handle_event_ack(seq, epoch, ack, error.as_deref(), now);
            }
            Input::Done(Ok(Done::LogRead { from, events })) => {
                self.node.handle_log_read(from, events, now);
            }
            Input::Done(Ok(Done::Tail(tail))) => self.node.handle_stream_tail(tail, now),
            Input::Done(Ok(Done::History { id, history })) => self.node.handle_history(id, history),
            Input::Done(Err(error)) => tracing::error!(%error, "a task of the driver failed"),
            Input::Sample => {
                let at = Instant::now();
                self.telemetry
                    .sample(self.node.router(), &self.dir, now, at);
            }
            Input::Timeout => {
                let started = Instant::now();
                if self.node.handle_timeout(now) > 0 {
                    telemetry::routing_decision("timer", started.elapsed());
                }
            }
            Input::Command(message) => self.hand_in(Input::Command(message), now)?,
            Input::Intake(message) => self.hand_in(Input::Intake(message), now)?,
            Input::Query(message) => self.hand_in(Input::Query(message), now)?,
        }
        Ok(())
    }

    /// Hands in a message, then every message already waiting, commands first (a bounded
    /// number of each).
    fn hand_in(&mut self, first: Input, now: Timestamp) -> Result<(), DriverError> {
        let ended = DriverError::SubscriptionEnded;
        match first {
            Input::Command(None) => return Err(ended(self.subjects.commands())),
            Input::Query(None) => return Err(ended(self.subjects.queries())),
            Input::Intake(None) => return Err(ended(self.subjects.inbox())),
            Input::Command(Some(message)) => self.command(&message, now),
            Input::Query(Some(message)) => self.query(&message, now),
            Input::Intake(Some(message)) => self.intake(message, now),
            _ => {}
        }
        for _ in 1..self.batch_max {
            let Some(Some(message)) = self.wired.commands.next().now_or_never() else {
                break;
            };
            self.command(&message, now);
        }
        for _ in 1..self.batch_max {
            let Some(Some(message)) = self.wired.intake.next().now_or_never() else {
                break;
            };
            self.intake(message, now);
        }
        for _ in 0..QUERIES_PER_ROUND_MAX {
            let Some(Some(message)) = self.wired.queries.next().now_or_never() else {
                break;
            };
            self.query(&message, now);
        }
        Ok(())
    }

    fn command(&mut self, message: &Message, now: Timestamp) {
        let started = Instant::now();
        self.query(message, now);
        telemetry::routing_decision("command", started.elapsed());
    }

    fn query(&mut self, message: &Message, now: Timestamp) {
        let request = request(message, self.mark());
        self.node.handle_request(&request, now);
    }

    fn intake(
        &mut self,
        message: Result<jetstream::Message, jetstream::consumer::pull::MessagesError>,
        now: Timestamp,
    ) {
        let message = match message {
            Ok(message) => message,
            Err(error) => {
                telemetry::intake_error();
                tracing::warn!(%error, "intake consumer error");
                return;
            }
        };
        let mut plain = request(&message.message, self.mark());
        plain.reply = None; // JetStream's acknowledgement subject: acknowledged, never replied to.
        let handle = IntakeHandle(self.next_intake);
        self.next_intake += 1;
        self.intake.insert(handle.0, message);
        let started = Instant::now();
        self.node.handle_intake(&plain, handle, now);
        telemetry::routing_decision("command", started.elapsed());
    }

    /// Carries out everything the node asks, in order, then flushes once.
    pub(super) async fn transmit(&mut self) -> Result<(), DriverError> {
        let mut sent = false;
        loop {
            let now = self.now();
            let Some(transmit) = self.node.poll_transmit(now) else {
                break;
            };
            sent |= self.carry_out(transmit).await?;
        }
        if let Some((seq, hash)) = self.durable_point.take() {
            self.snapshotter.durable(seq, hash);
        }
        if sent {
            self.client.flush().await.map_err(nats("flush a turn"))?;
        }
        Ok(())
    }

    /// Carries out one transmit; returns whether it published something.
    async fn carry_out(&mut self, transmit: Transmit) -> Result<bool, DriverError> {
        match transmit {
            Transmit::Append(append) => {
                let last_seq = append.first_seq + append.entries.len() as u64 - 1;
                self.telemetry
                    .submitted(&append.events, last_seq, self.node.state());
                let range = self
                    .committer
                    .submit(append.entries)
                    .map_err(EngineError::Log)?;
                debug_assert_eq!(
                    range.first_seq, append.first_seq,
                    "the node numbers as the log"
                );
                return Ok(false);
            }
            Transmit::Reply { to, body, mark } => {
                if let Err(error) = self.client.publish(to, body).await {
                    tracing::warn!(%error, "could not send a reply");
                }
                if let Some(mark) = mark {
                    telemetry::command_replied(self.since(mark));
                }
            }
            Transmit::AckIntake { handle, mark } => {
                if let Some(message) = self.intake.remove(&handle.0)
                    && let Err(error) = message.ack().await
                {
                    tracing::warn!(%error, "could not acknowledge an intake message");
                }
                telemetry::command_replied(self.since(mark));
            }
            Transmit::Notice { subject, body } => {
                if let Err(error) = self.client.publish(subject, body).await {
                    tracing::warn!(%error, "could not publish an offer or a desktop notice");
                }
            }
            Transmit::Released { first_seq, events } => {
                self.snapshotter.events(first_seq, events);
                return Ok(false);
            }
            Transmit::ReadHistory {
                id,
                contact_id,
                up_to,
            } => {
                let dir = self.dir.clone();
                self.tasks
                    .spawn_blocking(move || io::history(&dir, id, contact_id, up_to));
                return Ok(false);
            }
            Transmit::Feed(feed::Transmit::Publish(publish)) => {
                let answer = io::publish_event(&self.wired.js, publish).await;
                self.acks.push(answer);
            }
            Transmit::Feed(feed::Transmit::ReadLog { from, to }) => {
                let dir = self.dir.clone();
                self.tasks
                    .spawn_blocking(move || io::log_read(&dir, from, to));
                return Ok(false);
            }
            Transmit::Feed(feed::Transmit::ReadStreamTail) => {
                self.tasks.spawn(io::tail(self.wired.events_stream.clone()));
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn since(&self, mark: Mark) -> Duration {
        let now = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(now.saturating_sub(mark.0))
    }
}
