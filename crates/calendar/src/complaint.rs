//! Complaint clocks: the statutory acknowledgement and response times of the 2024 Complaint
//! Handling Code, in working days of a [`BusinessCalendar`], and explained extensions.

use jiff::Timestamp;

use crate::{BusinessCalendar, CalendarError};

/// A stage of the complaints procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComplaintStage {
    /// The first response to a complaint.
    Stage1,
    /// The review after the customer asked to escalate a stage 1 response.
    Stage2,
}

/// How many working days each step of a complaint may take.
///
/// Defaults to the 2024 Complaint Handling Code: acknowledge within 5 working days of receipt;
/// respond within 10 (stage 1) or 20 (stage 2) working days of the acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
pub struct ComplaintRules {
    /// Working days from receipt (of a complaint, or of a request to escalate) to acknowledgement.
    pub acknowledge_working_days: u32,
    /// Working days from acknowledgement to the stage 1 response.
    pub stage1_response_working_days: u32,
    /// Working days from acknowledgement to the stage 2 response.
    pub stage2_response_working_days: u32,
}

impl ComplaintRules {
    /// The defaults of the 2024 Complaint Handling Code: 5, 10 and 20 working days.
    pub const COMPLAINT_HANDLING_CODE_2024: Self = Self {
        acknowledge_working_days: 5,
        stage1_response_working_days: 10,
        stage2_response_working_days: 20,
    };

    /// Working days allowed for the response at `stage`, counted from acknowledgement.
    pub fn response_working_days(&self, stage: ComplaintStage) -> u32 {
        match stage {
            ComplaintStage::Stage1 => self.stage1_response_working_days,
            ComplaintStage::Stage2 => self.stage2_response_working_days,
        }
    }

    /// When the acknowledgement of a complaint (or escalation request) received at `received` is
    /// due. The same for both stages.
    pub fn acknowledgement_due(
        &self,
        calendar: &BusinessCalendar,
        received: Timestamp,
    ) -> Option<Timestamp> {
        calendar.add_working_days(received, self.acknowledge_working_days)
    }

    /// When the response at `stage` is due, for a complaint acknowledged at `acknowledged`.
    pub fn response_due(
        &self,
        calendar: &BusinessCalendar,
        stage: ComplaintStage,
        acknowledged: Timestamp,
    ) -> Option<Timestamp> {
        calendar.add_working_days(acknowledged, self.response_working_days(stage))
    }

    /// Both due times of a stage. The response clock runs from the actual acknowledgement if
    /// there has been one, else from the acknowledgement due time: the latest it can start, so
    /// the answer is an upper bound that only moves earlier once the acknowledgement is sent.
    pub fn due_times(
        &self,
        calendar: &BusinessCalendar,
        stage: ComplaintStage,
        received: Timestamp,
        acknowledged: Option<Timestamp>,
    ) -> Option<ComplaintDueTimes> {
        let acknowledge_by = self.acknowledgement_due(calendar, received)?;
        let respond_by = match acknowledged {
            Some(acknowledged) => self.response_due(calendar, stage, acknowledged)?,
            // The acknowledgement due time is a close of business: the clock starts on that
            // working day, not on the next one as it would for a contact received at closing.
            None => calendar.working_day_close(
                due_day(calendar, acknowledge_by),
                self.response_working_days(stage),
            )?,
        };
        Some(ComplaintDueTimes {
            acknowledge_by,
            respond_by,
        })
    }
}

impl Default for ComplaintRules {
    fn default() -> Self {
        Self::COMPLAINT_HANDLING_CODE_2024
    }
}

/// The deadlines of one complaint stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ComplaintDueTimes {
    /// The acknowledgement is due by this instant.
    pub acknowledge_by: Timestamp,
    /// The response is due by this instant.
    pub respond_by: Timestamp,
}

/// More working days for a deadline, with the reason the customer is given. The Complaint
/// Handling Code requires an extension to be explained, so the reason is mandatory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    /// How many working days are added, at least 1.
    working_days: u32,
    /// Why, in words fit for the customer; never blank.
    reason: String,
}

impl Extension {
    /// An extension of `working_days` (at least 1) for a non-blank `reason`.
    pub fn new(working_days: u32, reason: impl Into<String>) -> Result<Self, CalendarError> {
        let reason = reason.into();
        if reason.trim().is_empty() {
            return Err(CalendarError::ExtensionWithoutReason);
        }
        if working_days == 0 {
            return Err(CalendarError::ExtensionOfZeroDays);
        }
        Ok(Self {
            working_days,
            reason,
        })
    }

    /// How many working days are added.
    pub fn working_days(&self) -> u32 {
        self.working_days
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The extended deadline: the close of business on the `working_days`-th working day after
    /// the working day on which `due` falls. (Adding to the close of business itself would skip
    /// a day, because a contact received at closing time counts as received the next day.)
    pub fn apply(&self, calendar: &BusinessCalendar, due: Timestamp) -> Option<Timestamp> {
        calendar.working_day_close(due_day(calendar, due), self.working_days)
    }
}

/// The local day a deadline belongs to. A deadline is a close of business, the first instant
/// after an open period, so the day is that of the instant just before it (this matters for a
/// period ending at 24:00, whose close is the next day's midnight).
fn due_day(calendar: &BusinessCalendar, due: Timestamp) -> jiff::civil::Date {
    let just_before = due
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .unwrap_or(due);
    calendar.local_date(just_before)
}
