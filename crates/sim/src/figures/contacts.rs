//! Contacts in the fold: arrival, answer, handlings, abandonment and completion, each counted
//! in the interval the contact arrived in.

use std::time::Duration;

use switchboard_core::event::ContactCreated;
use switchboard_core::{AgentId, ComplaintStage, ContactId, Timestamp};

use super::agents::WrapOf;
use super::counters::Counters;
use super::{Collector, SHORT_ABANDON};

/// An open contact.
#[derive(Debug)]
pub(super) struct ContactTrack {
    pub(super) queue: usize,
    /// The interval it arrived in, when it arrived in the measured window (so it counts).
    pub(super) cohort: Option<usize>,
    pub(super) answered: bool,
    pub(super) waiting: bool,
    pub(super) first_arrived_at: Timestamp,
    /// Live channels: when it passes its answer threshold unanswered.
    pub(super) answer_by: Option<Timestamp>,
    /// Deferred work and complaints: the due time in force.
    pub(super) due_at: Option<Timestamp>,
    /// The handling in progress began here.
    pub(super) held_since: Option<Timestamp>,
    /// The complaint stage it is at, for a complaint.
    pub(super) complaint: Option<ComplaintStage>,
}

impl ContactTrack {
    /// When it fails its service level if still unanswered: the answer threshold on a live
    /// channel, the due time on a deferred one.
    pub(super) fn deadline(&self) -> Option<Timestamp> {
        self.answer_by.or(self.due_at)
    }
}

/// How a handling ended without completing the contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MovedOn {
    Escalated,
    Transferred,
    Requeued,
}

impl Collector {
    /// The tallies of the interval `contact` arrived in, if it counts.
    fn cohort(&mut self, contact: &ContactId) -> Option<&mut Counters> {
        let track = self.contacts.get(contact)?;
        let (queue, cohort) = (track.queue, track.cohort?);
        Some(&mut self.queues.counters[queue][cohort])
    }

    pub(super) fn set_waiting(&mut self, contact: &ContactId, waiting: bool) {
        if let Some(track) = self.contacts.get_mut(contact)
            && track.waiting != waiting
        {
            track.waiting = waiting;
            let queue = &mut self.queues.waiting[track.queue];
            if waiting {
                self.waiting += 1;
                *queue += 1;
            } else {
                self.waiting -= 1;
                *queue -= 1;
            }
        }
    }

    /// A contact arrives: offered to its queue (if in the measured window) and waiting.
    pub(super) fn on_contact_created(&mut self, now: Timestamp, created: &ContactCreated) {
        let d = &created.details;
        let queue = self.queue(&d.service, d.channel);
        self.queues.needs[queue].note(d);
        let cohort = if now >= self.measure_from {
            self.intervals.index(now)
        } else {
            None
        };
        if let Some(i) = cohort {
            self.queues.counters[queue][i].offered += 1;
        }
        self.contacts.insert(
            d.id.clone(),
            ContactTrack {
                queue,
                cohort,
                answered: false,
                waiting: false,
                first_arrived_at: created.first_arrived_at,
                answer_by: created.answer_by,
                due_at: d.due_at,
                held_since: None,
                complaint: d.complaint_stage,
            },
        );
        self.set_waiting(&d.id, true);
    }

    /// An agent answers: counted answered the first time, with its wait.
    pub(super) fn on_offer_accepted(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        waited: Duration,
        within_service_level: bool,
    ) {
        self.set_waiting(contact, false);
        let first = self.contacts.get_mut(contact).is_some_and(|track| {
            track.held_since = Some(now);
            !std::mem::replace(&mut track.answered, true)
        });
        if first && let Some(c) = self.cohort(contact) {
            let waited_ms = millis(waited);
            c.answered += 1;
            c.wait_ms += waited_ms;
            c.longest_wait_ms = c.longest_wait_ms.max(waited_ms);
            c.within += u64::from(within_service_level);
            c.delayed += u64::from(!waited.is_zero());
        }
        self.agent_took(now, agent);
    }

    /// The customer leaves: abandoned if never answered, closed otherwise.
    pub(super) fn on_contact_abandoned(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        waited: Duration,
    ) {
        self.set_waiting(contact, false);
        let answered = self.contacts.get(contact).is_some_and(|t| t.answered);
        // A customer who hangs up on hold after an escalation or a transfer was answered:
        // that contact is closed, not abandoned.
        if !answered && let Some(c) = self.cohort(contact) {
            let waited_ms = millis(waited);
            c.abandoned += 1;
            c.short_abandoned += u64::from(waited < SHORT_ABANDON);
            c.abandon_wait_ms += waited_ms;
            c.longest_wait_ms = c.longest_wait_ms.max(waited_ms);
        }
        if let Some(track) = self.contacts.remove(contact) {
            self.complaint_abandoned(now, &track);
        }
    }

    /// An agent completes a contact.
    pub(super) fn on_contact_completed(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        first_contact_resolution: bool,
    ) {
        self.release(contact, agent, now);
        if let Some(c) = self.cohort(contact) {
            c.completed += 1;
            c.resolved_first += u64::from(first_contact_resolution);
        }
        if let Some(track) = self.contacts.remove(contact) {
            self.complaint_closed(now, &track);
        }
    }

    /// An agent escalates or transfers a contact, or it leaves their desk: back to the queue.
    pub(super) fn on_contact_moved_on(
        &mut self,
        now: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        how: MovedOn,
    ) {
        self.release(contact, agent, now);
        self.set_waiting(contact, true);
        if let Some(c) = self.cohort(contact) {
            c.escalations += u64::from(how == MovedOn::Escalated);
            c.transfers += u64::from(how == MovedOn::Transferred);
        }
    }

    /// A deferred contact passes its due time undone.
    pub(super) fn on_due_time_breached(&mut self, now: Timestamp, contact: &ContactId) {
        if let Some(c) = self.cohort(contact) {
            c.due_breaches += 1;
        }
        self.complaint_breached(now, contact);
    }

    /// A handling ends: if it began in the window, its time goes to the contact's queue in the
    /// interval it began in, and so does the wrap-up that follows it.
    pub(super) fn release(&mut self, contact: &ContactId, agent: &AgentId, now: Timestamp) {
        let mut handling = None;
        if let Some(track) = self.contacts.get_mut(contact)
            && let Some(since) = track.held_since.take()
            && since >= self.measure_from
            && let Some(interval) = self.intervals.index(since)
        {
            let ms = now.as_millis().saturating_sub(since.as_millis());
            let c = &mut self.queues.counters[track.queue][interval];
            c.handle_ms += ms;
            c.handlings += 1;
            let channel = self.queues.keys[track.queue].1;
            let wrap = WrapOf {
                queue: track.queue,
                interval,
                since: now,
            };
            handling = Some((wrap, channel, ms));
        }
        self.agent_let_go(now, agent, handling);
    }

    /// The contacts still open at the end: open, and unanswered ones' waits so far; those past
    /// their threshold count against the service level.
    pub(super) fn close_contacts(&mut self, end: Timestamp) {
        for track in self.contacts.values() {
            if let Some(stage) = track.complaint {
                self.complaints[super::complaints::stage_index(stage)].open_at_end += 1;
            }
            let Some(cohort) = track.cohort else {
                continue;
            };
            let c = &mut self.queues.counters[track.queue][cohort];
            c.open += 1;
            if !track.answered {
                let waited_ms = end
                    .as_millis()
                    .saturating_sub(track.first_arrived_at.as_millis());
                c.open_wait_ms += waited_ms;
                if track.waiting {
                    c.longest_wait_ms = c.longest_wait_ms.max(waited_ms);
                }
                c.waiting_past_threshold += u64::from(track.deadline().is_some_and(|d| d <= end));
            }
        }
    }
}

/// A span in whole milliseconds.
fn millis(span: Duration) -> u64 {
    switchboard_core::time::millis(span)
}
