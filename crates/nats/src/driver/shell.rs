//! The driver's shell: moves bytes and time between the [`Node`] (which holds every rule) and
//! NATS, the log's group committer, the snapshotter and the clock. Each round it waits for one
//! input (biased: shutdown, the committer's reports, the events stream's answers, finished
//! reads, the metrics timer, then messages, then the node's timer), hands in that input and
//! whatever else has arrived, and carries out what the node then asks, in order, with one flush.
//!
//! Bounds: the committer's reports wait in an unbounded channel, but the committer reports at
//! most once per group of turns and takes at most its queue's 4 096 turns, and the loop takes
//! reports before anything else, so fewer than about 4 100 ever wait; intake messages wait for
//! their acknowledgement at most `max_ack_pending` (20 000) at a time ([`IntakeAcks`]); the
//! work done off the round is bounded as [`Work`] says.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::{Client, Message};
use futures::{FutureExt, StreamExt};
use switchboard_core::Timestamp;
use switchboard_engine::EngineLog;
use switchboard_engine::{EngineError, Snapshotter};
use switchboard_log::{ChainHash, GroupCommitter, LogError, Report};
use switchboard_wire::Subjects;
use tokio::sync::mpsc::UnboundedReceiver;

use super::io::{Done, Finished, IntakeAcks, IntakeMessage, Work, request, sleep};
use super::setup::Wired;
use super::{DriverError, nats, wall_now};
use crate::node::{Mark, Node, Transmit};
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
    Finished(Finished),
    Sample,
    Command(Option<Message>),
    Intake(Option<IntakeMessage>),
    Query(Option<Message>),
    Timeout,
}

/// The shell and everything it moves bytes between.
pub(super) struct Shell {
    pub(super) client: Client,
    pub(super) wired: Wired,
    pub(super) node: Node,
    /// Where keys the node makes are saved, before the append that needs them.
    pub(super) keystore: super::Keystore,
    pub(super) committer: GroupCommitter<EngineLog>,
    pub(super) reports: UnboundedReceiver<Report>,
    pub(super) snapshotter: Snapshotter,
    pub(super) telemetry: Telemetry,
    pub(super) dir: PathBuf,
    pub(super) subjects: Subjects,
    pub(super) batch_max: usize,
    pub(super) intake: IntakeAcks,
    pub(super) work: Work,
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
                finished = self.work.next() => Input::Finished(finished),
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
            Input::Finished(Finished::Ack((seq, epoch, ack, error))) => {
                self.node
                    .handle_event_ack(seq, epoch, ack, error.as_deref(), now);
            }
            Input::Finished(Finished::Done(Ok(done))) => match done {
                Done::LogRead { from, events } => self.node.handle_log_read(from, events, now),
                Done::Tail(tail) => self.node.handle_stream_tail(tail, now),
                Done::History { id, history } => self.node.handle_history(id, history),
                Done::Retention(Some(fold)) => self.node.handle_retention_fold(fold, now),
                Done::Retention(None) => {}
            },
            Input::Finished(Finished::Done(Err(error))) => {
                tracing::error!(%error, "a task of the driver failed");
            }
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
            message @ (Input::Command(_) | Input::Intake(_) | Input::Query(_)) => {
                self.hand_in(message, now)?;
            }
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
            Input::Command(Some(message)) => self.request(&message, true, now),
            Input::Query(Some(message)) => self.request(&message, false, now),
            Input::Intake(Some(message)) => self.intake(message, now),
            _ => {}
        }
        let wired = &mut self.wired;
        let commands = ready(&mut wired.commands, self.batch_max - 1);
        let intake = ready(&mut wired.intake, self.batch_max - 1);
        let queries = ready(&mut wired.queries, QUERIES_PER_ROUND_MAX);
        commands.iter().for_each(|m| self.request(m, true, now));
        intake.into_iter().for_each(|m| self.intake(m, now));
        queries.iter().for_each(|m| self.request(m, false, now));
        Ok(())
    }

    /// A command or a query (only a command's decision is timed).
    fn request(&mut self, message: &Message, command: bool, now: Timestamp) {
        let started = Instant::now();
        let request = request(message, self.mark());
        self.node.handle_request(&request, now);
        if command {
            telemetry::routing_decision("command", started.elapsed());
        }
    }

    fn intake(&mut self, delivered: IntakeMessage, now: Timestamp) {
        if let Some((request, handle)) = self.intake.take(delivered, self.mark()) {
            let started = Instant::now();
            self.node.handle_intake(&request, handle, now);
            telemetry::routing_decision("command", started.elapsed());
        }
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
            watched("flushing a turn", self.client.flush())
                .await
                .map_err(nats("flush a turn"))?;
        }
        Ok(())
    }

    /// Carries out one transmit; returns whether it published something.
    async fn carry_out(&mut self, transmit: Transmit) -> Result<bool, DriverError> {
        match transmit {
            Transmit::SaveKeys(delta) => {
                watched("saving keys to the keystore", self.keystore.save(&delta)).await;
                return Ok(false);
            }
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
                watched(
                    "publishing a reply",
                    publish(&self.client, to, body, "a reply"),
                )
                .await;
                if let Some(mark) = mark {
                    telemetry::command_replied(self.since(mark));
                }
            }
            Transmit::AckIntake { handle, mark } => {
                watched("acknowledging an intake message", self.intake.ack(handle)).await;
                telemetry::command_replied(self.since(mark));
            }
            Transmit::Notice { subject, body } => {
                let notice = publish(&self.client, subject, body, "an offer or a desktop notice");
                watched("publishing a notice", notice).await;
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
                self.work.history(id, contact_id, up_to);
                return Ok(false);
            }
            Transmit::Feed(work) => {
                return Ok(watched("handing the feed's work out", self.work.feed(work)).await);
            }
        }
        Ok(true)
    }

    fn since(&self, mark: Mark) -> Duration {
        let now = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(now.saturating_sub(mark.0))
    }
}

/// How long one step of a round may wait on NATS (or the keystore) before it is logged.
const STEP_SLOW: Duration = Duration::from_secs(5);

/// Awaits `step`, logging a warning, naming it, each [`STEP_SLOW`] it is still waiting: a round
/// blocked on NATS answers nothing meanwhile, and the log must say where it waits.
async fn watched<T>(what: &'static str, step: impl Future<Output = T>) -> T {
    let mut step = std::pin::pin!(step);
    // Most steps are done at once: no timer for them.
    if let Some(done) = (&mut step).now_or_never() {
        return done;
    }
    let mut waited = Duration::ZERO;
    loop {
        match tokio::time::timeout(STEP_SLOW, &mut step).await {
            Ok(done) => return done,
            Err(_) => {
                waited += STEP_SLOW;
                tracing::warn!(
                    step = what,
                    waited_secs = waited.as_secs(),
                    "the engine loop is still waiting on one step of a round"
                );
            }
        }
    }
}

/// Up to `max` messages that have already arrived on `stream`, without waiting.
fn ready<S: futures::Stream + Unpin>(stream: &mut S, max: usize) -> Vec<S::Item> {
    std::iter::from_fn(|| stream.next().now_or_never().flatten())
        .take(max)
        .collect()
}

/// Publishes on core NATS; a failure is logged (the receiver's retry or timeout covers it).
async fn publish(client: &Client, subject: async_nats::Subject, body: bytes::Bytes, what: &str) {
    if let Err(error) = client.publish(subject, body).await {
        tracing::warn!(%error, "could not publish {what}");
    }
}
