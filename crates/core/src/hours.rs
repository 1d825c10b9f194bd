//! Opening hours and working-day clocks: how the core reads the business calendars.
//!
//! The calendars themselves ([`BusinessCalendar`]) live in `switchboard-calendar`, pure and
//! deterministic like the core. Here they become routing rules:
//!
//! - an [`OpeningRule`] says when a site's channel is open and what happens to a contact that
//!   arrives while it is closed ([`OutOfHours`]): refused with a `closed` rejection naming the
//!   next opening, turned into a callback request, or held and queued at the opening. With no
//!   rule for a contact's site and channel, the channel is always open;
//! - the *business calendar* ([`crate::RoutingConfig::business_calendar`]) runs the working-day
//!   clocks: due times of deferred work given in working days, complaint clocks, extensions, and
//!   at-risk warnings measured in working hours ([`DueWarning::WorkingTime`]);
//! - a [`ComplaintPolicy`] says which skill complaints need, which skill marks the designated
//!   officers who handle persistent complainants, and the stage time limits.
//!
//! Everything computed here (due times, hold-until instants, warnings) is written into the events,
//! so replaying a log needs no calendar and gives the same state under any configuration.

use std::sync::Arc;
use std::time::Duration;

use switchboard_calendar::{BusinessCalendar, ComplaintRules};

use crate::ids::{SiteId, SkillId};
use crate::model::Channel;
use crate::time::Timestamp;

/// What happens to a contact that arrives while its channel is closed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum OutOfHours {
    /// Refuse it with a `closed` rejection naming the next opening; nothing is recorded.
    Refuse,
    /// Record it as a callback request instead (channel `callback`, with a `requested_on`
    /// attribute naming the channel it came in on), held until the callback channel opens.
    Callback,
    /// Record it and hold it, unoffered, until the channel opens; then it joins its queue.
    Hold,
}

impl OutOfHours {
    /// The treatment's name in configuration and in metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Callback => "callback",
            Self::Hold => "hold",
        }
    }

    /// The treatment named `name` in configuration, if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Refuse, Self::Callback, Self::Hold]
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// When a site's channel is open, and what happens out of hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpeningRule {
    /// The site it applies to; `None` for every site (and for contacts that name none).
    pub site: Option<SiteId>,
    /// The channel it applies to; `None` for every channel.
    pub channel: Option<Channel>,
    /// The calendar's name, for rejections, events and reports.
    pub calendar_name: Arc<str>,
    /// The opening hours, holidays and closures.
    pub calendar: Arc<BusinessCalendar>,
    /// The treatment of a contact that arrives while closed; `None`: by its channel, live
    /// work refused and deferred work held until the opening.
    pub out_of_hours: Option<OutOfHours>,
}

/// How long before a due time deferred work is reported at risk.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DueWarning {
    /// This much elapsed time before the due time.
    Elapsed(Duration),
    /// This much *working* time before the due time, on the business calendar: "four working
    /// hours before" a Tuesday-17:00 deadline is 13:00 on Tuesday, and before a Monday-10:30 one
    /// it is 14:30 on the Friday. The warning therefore always falls in opening hours, when
    /// someone can act on it.
    WorkingTime(Duration),
}

/// How complaints are routed and timed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplaintPolicy {
    /// The skill every complaint requires (the customer relations team's), beside any skills the
    /// contact names.
    pub skill: SkillId,
    /// The skill of the designated officers: a complaint from a customer designated a persistent
    /// complainant requires it too, at every plan step.
    pub designated_officer_skill: SkillId,
    /// Acknowledgement and response limits in working days (the 2024 Complaint Handling Code by
    /// default: 5, 10 and 20).
    pub rules: ComplaintRules,
    /// A complaint's response is reported at risk this long before it is due.
    pub warning: DueWarning,
}

impl Default for ComplaintPolicy {
    fn default() -> Self {
        Self {
            skill: SkillId::from("customer_relations"),
            designated_officer_skill: SkillId::from("designated_officer"),
            rules: ComplaintRules::COMPLAINT_HANDLING_CODE_2024,
            warning: DueWarning::WorkingTime(Duration::from_secs(2 * 8 * 3600)),
        }
    }
}

/// The calendar's instant for a core timestamp.
pub(crate) fn to_calendar_time(at: Timestamp) -> jiff::Timestamp {
    i64::try_from(at.as_millis())
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

/// The core timestamp for a calendar instant (instants before the epoch become the epoch).
pub(crate) fn from_calendar_time(at: jiff::Timestamp) -> Timestamp {
    Timestamp::from_millis(u64::try_from(at.as_millisecond()).unwrap_or(0))
}

/// Whether `calendar` is open at `at`.
pub(crate) fn is_open(calendar: &BusinessCalendar, at: Timestamp) -> bool {
    calendar.is_open(to_calendar_time(at))
}

/// The next instant at or after `at` when `calendar` is open, if within a year.
pub(crate) fn next_open(calendar: &BusinessCalendar, at: Timestamp) -> Option<Timestamp> {
    calendar
        .next_open(to_calendar_time(at))
        .map(from_calendar_time)
}

/// Close of business on the `n`-th working day after the receipt day of `received`.
pub(crate) fn add_working_days(
    calendar: &BusinessCalendar,
    received: Timestamp,
    n: u32,
) -> Option<Timestamp> {
    calendar
        .add_working_days(to_calendar_time(received), n)
        .map(from_calendar_time)
}

impl DueWarning {
    /// When work due at `due` is at risk, on `calendar` for working time.
    pub(crate) fn at_risk_from(self, calendar: &BusinessCalendar, due: Timestamp) -> Timestamp {
        match self {
            Self::Elapsed(before) => due.saturating_sub(before),
            Self::WorkingTime(before) => calendar
                .working_time_before(to_calendar_time(due), before)
                .map_or_else(|| due.saturating_sub(before), from_calendar_time),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_convert_both_ways() {
        let at = Timestamp::from_millis(1_798_761_600_123);
        assert_eq!(from_calendar_time(to_calendar_time(at)), at);
        assert_eq!(to_calendar_time(at).to_string(), "2027-01-01T00:00:00.123Z");
        assert_eq!(
            from_calendar_time(jiff::Timestamp::MIN),
            Timestamp::EPOCH,
            "before the epoch clamps"
        );
    }

    #[test]
    fn treatments_round_trip() {
        for t in [OutOfHours::Refuse, OutOfHours::Callback, OutOfHours::Hold] {
            assert_eq!(OutOfHours::from_name(t.as_str()), Some(t));
        }
        assert_eq!(OutOfHours::from_name("voicemail"), None);
    }
}
