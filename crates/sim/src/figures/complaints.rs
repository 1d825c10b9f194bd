//! Complaints in the fold: per stage, what a council publishes against the Complaint Handling
//! Code's timescales. Counted by when things happened (a stage reached, a response sent, a due
//! time passed or extended) in the measured window, not by when the complaint arrived.

use switchboard_core::event::DueTimeExtended;
use switchboard_core::{ComplaintStage, ComplaintStageChanged, ContactId, Timestamp};

use super::contacts::ContactTrack;
use super::{Collector, ComplaintFigures};

/// The stages in the table's order.
const STAGES: [ComplaintStage; 3] = [
    ComplaintStage::Stage1,
    ComplaintStage::Stage2,
    ComplaintStage::Ombudsman,
];

/// A stage's row of the table.
pub(super) const fn stage_index(stage: ComplaintStage) -> usize {
    match stage {
        ComplaintStage::Stage1 => 0,
        ComplaintStage::Stage2 => 1,
        ComplaintStage::Ombudsman => 2,
    }
}

/// One stage's tallies.
#[derive(Debug, Default, Clone)]
pub(super) struct ComplaintTally {
    opened: u64,
    closed: u64,
    within: u64,
    breached: u64,
    extended: u64,
    to_stage_2: u64,
    to_ombudsman: u64,
    abandoned: u64,
    pub(super) open_at_end: u64,
}

impl Collector {
    /// The tally of `contact`'s stage, if it is a complaint and `now` is in the window.
    fn complaint_tally(
        &mut self,
        now: Timestamp,
        stage: Option<ComplaintStage>,
    ) -> Option<&mut ComplaintTally> {
        let stage = stage.filter(|_| now >= self.measure_from)?;
        Some(&mut self.complaints[stage_index(stage)])
    }

    /// A complaint reaches a stage: on arrival, or moved on by the customer or a referral.
    pub(super) fn on_complaint_stage_changed(
        &mut self,
        now: Timestamp,
        changed: &ComplaintStageChanged,
    ) {
        if let Some(track) = self.contacts.get_mut(&changed.contact) {
            track.complaint = Some(changed.to);
            track.due_at = changed.due_at;
        }
        if let Some(tally) = self.complaint_tally(now, Some(changed.to)) {
            tally.opened += 1;
        }
        if let Some(tally) = self.complaint_tally(now, changed.from) {
            tally.to_stage_2 += u64::from(changed.to == ComplaintStage::Stage2);
            tally.to_ombudsman += u64::from(changed.to == ComplaintStage::Ombudsman);
        }
        // Logs written before `contact_requeued` recorded it: a complaint moved on from an
        // agent's desk goes back to the queue, as on escalation.
        if let Some(agent) = &changed.agent
            && self
                .contacts
                .get(&changed.contact)
                .is_some_and(|t| t.held_since.is_some())
        {
            self.release(&changed.contact, agent, now);
            self.set_waiting(&changed.contact, true);
        }
    }

    /// A due time moves back: the new one is in force.
    pub(super) fn on_due_time_extended(&mut self, now: Timestamp, extended: &DueTimeExtended) {
        let mut stage = None;
        if let Some(track) = self.contacts.get_mut(&extended.contact) {
            track.due_at = Some(extended.due_at);
            stage = track.complaint;
        }
        if let Some(tally) = self.complaint_tally(now, stage) {
            tally.extended += 1;
        }
    }

    /// A due time passes with the contact undone.
    pub(super) fn complaint_breached(&mut self, now: Timestamp, contact: &ContactId) {
        let stage = self.contacts.get(contact).and_then(|t| t.complaint);
        if let Some(tally) = self.complaint_tally(now, stage) {
            tally.breached += 1;
        }
    }

    /// A complaint is completed: its stage's response, on time or late.
    pub(super) fn complaint_closed(&mut self, now: Timestamp, track: &ContactTrack) {
        if let Some(tally) = self.complaint_tally(now, track.complaint) {
            tally.closed += 1;
            tally.within += u64::from(track.due_at.is_none_or(|due| now <= due));
        }
    }

    /// A complaint's customer left before an answer.
    pub(super) fn complaint_abandoned(&mut self, now: Timestamp, track: &ContactTrack) {
        if !track.answered
            && let Some(tally) = self.complaint_tally(now, track.complaint)
        {
            tally.abandoned += 1;
        }
    }

    /// The complaint table.
    pub(super) fn complaint_figures(&self) -> Vec<ComplaintFigures> {
        STAGES
            .iter()
            .zip(&self.complaints)
            .map(|(stage, t)| ComplaintFigures {
                stage: stage.as_str().to_owned(),
                opened: t.opened,
                closed: t.closed,
                closed_within_timescale: t.within,
                breached: t.breached,
                extended: t.extended,
                escalated_to_stage_2: t.to_stage_2,
                referred_to_ombudsman: t.to_ombudsman,
                abandoned: t.abandoned,
                open_at_end: t.open_at_end,
            })
            .collect()
    }
}
