//! Shredding by retention (docs/privacy.md, "Retention"): the node follows every subject's
//! lifetime (a [`RetentionFold`] of the whole log: the log up to where it started, read once off
//! the loop, then each event it decides) and, every [`CHECK_EVERY`], tells the core to erase the
//! subjects whose period under `[retention]` has run out and who have no contact open, as
//! `personal_data_erased` events with reason `retention`; the node then destroys their keys as
//! for any erasure. At most [`SHRED_BATCH_MAX`] subjects a turn; a full batch checks again a
//! second later, so a backlog (the first start with a schedule over an old log) drains in
//! batches without holding the loop.

use std::time::Duration;

use switchboard_core::{Command, Event, Timestamp};
use switchboard_privacy::{Keys, RetentionFold, RetentionSchedule};

use crate::telemetry;

/// How often the node looks for subjects due: hourly (the law asks for no more than "without
/// undue delay"; docs/privacy.md).
pub(crate) const CHECK_EVERY: Duration = Duration::from_secs(3600);

/// The most subjects shredded in one turn.
pub(crate) const SHRED_BATCH_MAX: usize = 256;

/// The wait after a full batch before the next.
const BACKLOG_PAUSE: Duration = Duration::from_secs(1);

/// The node's retention: the schedule, and the fold once the start-up read is back.
#[derive(Debug)]
pub(crate) struct Retention {
    schedule: RetentionSchedule,
    /// The log folded up to where the node started, then each event decided; `None` until the
    /// start-up read is back.
    fold: Option<RetentionFold>,
    /// Events decided while the start-up read was out, in order: folded after it. As many as
    /// the engine decides during that read.
    pending: Vec<Event>,
    /// When to look for subjects due next.
    next_check: Timestamp,
}

impl Retention {
    /// Follows `schedule`; shreds nothing until [`Retention::folded`] hands in the log's fold.
    pub(crate) fn new(schedule: RetentionSchedule) -> Self {
        Self {
            schedule,
            fold: None,
            pending: Vec::new(),
            next_check: Timestamp::EPOCH,
        }
    }

    /// The schedule.
    pub(crate) const fn schedule(&self) -> &RetentionSchedule {
        &self.schedule
    }

    /// Takes an event the node decided.
    pub(crate) fn observe(&mut self, keys: &Keys, event: &Event) {
        match &mut self.fold {
            Some(fold) => fold.observe(keys, event, &self.schedule),
            None => self.pending.push(event.clone()),
        }
    }

    /// The start-up read's fold of the log up to where the node started: the events decided
    /// since are folded after it, and checks begin.
    pub(crate) fn folded(&mut self, keys: &Keys, mut fold: RetentionFold) {
        for event in self.pending.drain(..) {
            fold.observe(keys, &event, &self.schedule);
        }
        self.fold = Some(fold);
    }

    /// When to call [`Retention::due`] next: never before the fold is in.
    pub(crate) fn due_at(&self) -> Option<Timestamp> {
        self.fold.as_ref().map(|_| self.next_check)
    }

    /// The core's commands that shred the subjects due at `now` (a batch at most), if a check
    /// is due; schedules the next check and reports how many wait.
    pub(crate) fn due(&mut self, now: Timestamp) -> Vec<Command> {
        let Some(fold) = &self.fold else {
            return Vec::new();
        };
        if now < self.next_check {
            return Vec::new();
        }
        let due = fold.ledger().due(now, usize::MAX);
        let batch: Vec<Command> = due
            .iter()
            .take(SHRED_BATCH_MAX)
            .map(|&(subject, _)| fold.shred_command(subject))
            .collect();
        let left = due.len() - batch.len();
        let pause = if left > 0 { BACKLOG_PAUSE } else { CHECK_EVERY };
        self.next_check = now + pause;
        telemetry::retention_checked(now, left);
        if !batch.is_empty() {
            tracing::info!(
                shredded = batch.len(),
                still_due = left,
                "retention: erasing subjects whose retention period ran out"
            );
        }
        batch
    }
}
