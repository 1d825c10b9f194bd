//! The figures a manager reads, computed as one fold over the core's events: the simulator,
//! what-if replay and `switchboard report` all measure with this code, so the same events give
//! the same numbers everywhere. docs/reporting.md defines every figure; in short (a queue being
//! the service and channel a contact arrived on):
//!
//! - **offered**: contacts that arrived in the measured window; **answered**: of those, the ones
//!   an agent accepted (first acceptance); **abandoned**: the ones whose customer left before
//!   being answered (hanging up on hold after an escalation or transfer is not abandonment), and
//!   of those the **short abandons**, who left within [`SHORT_ABANDON`] of arriving.
//! - **service level**: answered within the threshold (live channels) or by the due time
//!   (deferred), over answered + abandoned + still unanswered at the end past the threshold or
//!   due time: the live figure's definition, so a contact still waiting at the end counts only
//!   once it has failed.
//! - **ASA**: the mean wait of answered contacts, from first arrival to first acceptance.
//! - **AHT**: agent time per handling begun in the window, from acceptance to release (complete,
//!   escalate, transfer or requeue), plus the wrap-up that follows it.
//! - **agents staffed**: the average number of agents logged in and not `not_ready` who could
//!   take the queue (its channel, the skills every one of its contacts needed, and for
//!   face-to-face its sites); a multi-skilled agent counts in every queue they could take. The
//!   queue's **share** splits each agent's time among those queues by their workload (arrivals
//!   times AHT), so shares add up to the agents staffed.
//! - **occupancy**: the share of staffed agent time in which an agent held at least one contact
//!   or was wrapping up; for the total and per site, never per queue.
//! - **first-contact resolution**: completed contacts resolved by their first agent, over
//!   completed contacts.
//!
//! Contacts count in the interval they **arrived** in, whatever happened to them later (so an
//! interval's offered is its answered + abandoned + still open, and intervals add up to the
//! period); handlings in the interval they began in; agent time where it was spent.
//!
//! Memory is bounded by the queues, agents and intervals, and by the contacts open at once (as
//! the routing state is): nothing is kept per event.

mod agents;
mod complaints;
mod contacts;
mod counters;
mod finish;
mod intervals;
mod text;

use std::time::Duration;

use rustc_hash::FxHashMap;
use serde::Serialize;
use switchboard_core::{Channel, ContactId, Event, EventKind, RoutingConfig, ServiceId, Timestamp};

use agents::Agents;
use complaints::ComplaintTally;
use contacts::ContactTrack;
use counters::Counters;

pub use intervals::{Intervals, IntervalsError};
pub use text::{duration_text, or_dash};

/// A customer who leaves within this long of arriving is a short abandon: a wrong number, or
/// a caller who heard the opening message and rang off (reported apart, as the industry does).
pub const SHORT_ABANDON: Duration = Duration::from_secs(5);

/// The service-level target of a queue with none configured (the core's documented default).
pub const DEFAULT_SERVICE_LEVEL_TARGET: f64 = 0.8;

/// The figures of one queue (or of all of them), over a period or one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QueueFigures {
    /// The service (absent in the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The channel (absent in the total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Contacts that arrived.
    pub offered: u64,
    /// Of those, answered by an agent.
    pub answered: u64,
    /// Of those, answered within the service-level threshold (or by the due time).
    pub answered_within_service_level: u64,
    /// Of the answered, answered after waiting at all.
    pub delayed: u64,
    /// Of those offered, abandoned by the customer before an answer.
    pub abandoned: u64,
    /// Of the abandoned, those who left within [`SHORT_ABANDON`].
    pub short_abandoned: u64,
    /// Offered, unanswered and still open at the end, past the threshold or due time.
    pub waiting_past_threshold: u64,
    /// Answered within the threshold over answered + abandoned + `waiting_past_threshold`.
    pub service_level: f64,
    /// The average speed of answer, in seconds.
    pub asa_seconds: f64,
    /// The average handle time (with wrap-up), in seconds.
    pub aht_seconds: f64,
    /// The longest wait of a contact offered: to its answer, its abandonment, or the end.
    pub longest_wait_seconds: f64,
    /// The share of staffed time agents were busy: for totals only (see the module
    /// documentation; per site in [`Figures::sites`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<f64>,
    /// The average number of agents staffed who could take the queue (all agents staffed, for
    /// a total) over the interval or the period.
    pub agents_staffed: f64,
    /// The hours those agents were staffed: `agents_staffed` times the span.
    pub staffed_hours: f64,
    /// The queue's share of the agents staffed: each agent's staffed time split among the
    /// queues they could take in proportion to each one's workload (arrivals times AHT) in the
    /// interval (for the period, in the whole period, so that it does not depend on the
    /// intervals), so that the shares of all queues add up to the agents staffed who had any
    /// workload to share; for a total, that sum.
    pub agents_share: f64,
    /// Agent time on this queue's contacts (handling and wrap-up), in hours.
    pub agent_hours: f64,
    /// The service-level target (a share, e.g. 0.8) for this queue, when the run knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_level_target: Option<f64>,
    /// The answer threshold of a live queue, in seconds, when the run knows its configuration
    /// (answers are recorded within it or not as they happen; this is today's setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_level_threshold_seconds: Option<f64>,
    /// Abandoned over offered.
    pub abandon_rate: f64,
    /// Contacts completed.
    pub completed: u64,
    /// Completed contacts resolved at the first point of contact, over completed.
    pub first_contact_resolution: f64,
    /// Contacts transferred to another service (each transfer).
    pub transfers: u64,
    /// Contacts escalated up a tier (each escalation).
    pub escalations: u64,
    /// Deferred contacts that passed their due time undone.
    pub due_breaches: u64,
    /// Offered contacts still open at the end.
    pub open_at_end: u64,
    /// Handlings begun (and ended) in the period: what AHT is the mean of.
    pub handlings: u64,
    /// The customers' mean patience in seconds, estimated from abandonments (every second
    /// waited, answered or not, over the abandonments); absent without abandonments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience_seconds: Option<f64>,
}

impl QueueFigures {
    /// The contacts the service level counts: answered, abandoned, or unanswered past the
    /// threshold at the end. With none, there is no service level to show.
    #[must_use]
    pub const fn service_level_counted(&self) -> u64 {
        self.answered + self.abandoned + self.waiting_past_threshold
    }

    /// Whether the service level is below the queue's target (never when nothing counts).
    #[must_use]
    pub fn below_target(&self) -> bool {
        self.service_level_counted() > 0
            && self
                .service_level_target
                .is_some_and(|target| self.service_level < target)
    }
}

/// The figures of a run: in total, per queue (sorted by service, then channel) and per site.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// All queues together.
    pub total: QueueFigures,
    /// The live queues together (phone, face to face, chat): where customers wait, so where
    /// speed of answer and abandonment mean what they say (agents as in the total).
    pub live: QueueFigures,
    /// Each service and channel.
    pub queues: Vec<QueueFigures>,
    /// The agents of each site (sorted by site), in the measured window.
    pub sites: Vec<SiteFigures>,
}

/// How busy the agents of one site were.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SiteFigures {
    /// The site agents logged in at.
    pub site: String,
    /// Agents logged in there in the measured window.
    pub agents: u32,
    /// Agent hours staffed: logged in and not `not_ready`.
    pub staffed_hours: f64,
    /// Agent hours holding at least one contact or wrapping up.
    pub busy_hours: f64,
    /// Busy over staffed.
    pub occupancy: f64,
}

/// The figures of one interval: per queue (in the order of [`Figures::queues`]) and in total.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntervalFigures {
    /// The interval's start, in milliseconds since the Unix epoch.
    pub start_ms: u64,
    /// Its end (exclusive).
    pub end_ms: u64,
    /// All queues together (with occupancy).
    pub total: QueueFigures,
    /// Each queue.
    pub queues: Vec<QueueFigures>,
}

/// One agent's figures in the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AgentFigures {
    /// The agent's id.
    pub agent: String,
    /// Their name as logged in.
    pub name: String,
    /// The site of their latest login.
    pub site: String,
    /// Handlings begun and ended in the window, per channel (channels with none left out).
    pub handled: Vec<ChannelCount>,
    /// All their handlings.
    pub handlings: u64,
    /// Their average handle time with wrap-up, in seconds.
    pub aht_seconds: f64,
    /// Hours logged in.
    pub logged_in_hours: f64,
    /// Hours logged in and not `not_ready`.
    pub staffed_hours: f64,
    /// Hours holding a contact or wrapping up.
    pub busy_hours: f64,
    /// Busy over staffed.
    pub occupancy: f64,
    /// Hours not ready (and holding nothing), per reason, sorted by reason.
    pub not_ready: Vec<ReasonHours>,
}

/// A count for one channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelCount {
    /// The channel.
    pub channel: String,
    /// How many.
    pub count: u64,
}

/// Time for one not-ready reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonHours {
    /// The reason the desktop gave (`missed_offers` when the core sent the agent not ready).
    pub reason: String,
    /// Hours.
    pub hours: f64,
}

/// One complaint stage's figures in the measured window: the table a council publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ComplaintFigures {
    /// `stage_1`, `stage_2` or `ombudsman`.
    pub stage: String,
    /// Complaints that reached the stage (received, or moved on to it).
    pub opened: u64,
    /// Complaints completed at the stage (the response).
    pub closed: u64,
    /// Of those, completed by the due time in force (the stage's statutory time, or its
    /// extension).
    pub closed_within_timescale: u64,
    /// Due times at the stage that passed with the complaint undone.
    pub breached: u64,
    /// Due times at the stage extended (with a reason for the customer).
    pub extended: u64,
    /// Complaints moved on from this stage to stage 2.
    pub escalated_to_stage_2: u64,
    /// Complaints moved on from this stage to the Ombudsman.
    pub referred_to_ombudsman: u64,
    /// Complaints at the stage whose customer left before an answer (live channels).
    pub abandoned: u64,
    /// Complaints at the stage still open at the end.
    pub open_at_end: u64,
}

/// The state of the centre at one instant: the end of an interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Seconds since the start of the first interval.
    pub at_secs: u64,
    /// Contacts waiting for an agent (queued or offered).
    pub waiting: u32,
    /// The same per queue, in the order of [`Figures::queues`].
    pub waiting_by_queue: Vec<u32>,
    /// Agents ready and holding nothing.
    pub idle: u32,
    /// Agents holding work.
    pub busy: u32,
    /// Agents in wrap-up.
    pub wrap_up: u32,
    /// Agents logged in but not ready (breaks, missed offers, end of shift).
    pub not_ready: u32,
}

/// Everything measured: the period's figures, each interval's, each agent's, the complaint
/// table and the state at the end of each interval.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// The whole window.
    pub figures: Figures,
    /// Each interval, in order.
    pub intervals: Vec<IntervalFigures>,
    /// Each agent with time logged in or a handling in the window, sorted by id.
    pub agents: Vec<AgentFigures>,
    /// Stages 1 and 2 and the Ombudsman, in that order.
    pub complaints: Vec<ComplaintFigures>,
    /// The state at the end of each interval.
    pub samples: Vec<Sample>,
    /// The live queues in groups that share agents (by their index in [`Figures::queues`]):
    /// two queues are in one group when some agent could take both, or each shares with a
    /// third. Staffing sizes each group as one queue.
    pub pools: Vec<Vec<usize>>,
}

type QueueKey = (ServiceId, Channel);

/// The queues seen so far, in the order first seen, with their tallies per interval.
#[derive(Debug, Default)]
struct Queues {
    keys: Vec<QueueKey>,
    index: FxHashMap<QueueKey, usize>,
    /// `[queue][interval]`.
    counters: Vec<Vec<Counters>>,
    /// Contacts waiting now, per queue.
    waiting: Vec<u32>,
    /// What an agent needs to take each queue's contacts.
    needs: Vec<agents::QueueNeeds>,
}

/// Folds events into [`Measured`]: the figures of a window cut into intervals.
#[derive(Debug)]
pub struct Collector {
    intervals: Intervals,
    /// Contacts arriving from here on count (at or after the first interval's start).
    measure_from: Timestamp,
    /// The index of the next boundary to sample the state at.
    next_sample: usize,
    queues: Queues,
    contacts: FxHashMap<ContactId, ContactTrack>,
    agents: Agents,
    /// Stages 1, 2 and the Ombudsman.
    complaints: [ComplaintTally; 3],
    /// Contacts waiting now.
    waiting: u32,
    samples: Vec<Sample>,
    /// The routing configuration, for the service-level targets and thresholds, once given.
    config: Option<Box<RoutingConfig>>,
}

impl Collector {
    /// A collector measuring the window of `intervals`, counting contacts that arrive from
    /// `measure_from` (clamped into the window). Events before the window only set the scene
    /// (who is logged in, what is waiting); events at or after its end are ignored.
    #[must_use]
    pub fn new(intervals: Intervals, measure_from: Timestamp) -> Self {
        let measure_from = measure_from.clamp(intervals.start(), intervals.end());
        Self {
            agents: Agents::new(intervals.len()),
            intervals,
            measure_from,
            next_sample: 1,
            queues: Queues::default(),
            contacts: FxHashMap::default(),
            complaints: Default::default(),
            waiting: 0,
            samples: Vec::new(),
            config: None,
        }
    }

    /// Sets every queue's service-level target from `config` (the configured target, else
    /// [`DEFAULT_SERVICE_LEVEL_TARGET`]) and a live queue's answer threshold.
    pub fn set_service_level_targets(&mut self, config: &RoutingConfig) {
        self.config = Some(Box::new(config.clone()));
    }

    /// The end of the window: events at or after it are not measured.
    #[must_use]
    pub fn end(&self) -> Timestamp {
        self.intervals.end()
    }

    /// Takes one event into the figures (events come in the order they were decided).
    pub fn observe(&mut self, event: &Event) {
        let now = event.at;
        if now >= self.intervals.end() {
            return;
        }
        self.sample_until(now);
        match &event.kind {
            EventKind::AgentLoggedIn(login) => self.on_agent_logged_in(now, login),
            EventKind::AgentReady { agent } => self.on_agent_ready(now, agent),
            EventKind::AgentNotReady { agent, reason } => {
                self.on_agent_not_ready(now, agent, reason);
            }
            EventKind::AgentLoggedOut { agent } => self.on_agent_logged_out(now, agent),
            EventKind::WrapUpStarted { agent, .. } => self.on_wrap_up_started(now, agent),
            EventKind::WrapUpEnded { agent } => self.on_wrap_up_ended(now, agent),
            EventKind::ContactCreated(created) => self.on_contact_created(now, created),
            EventKind::OfferAccepted {
                contact,
                agent,
                waited,
                within_service_level,
                ..
            } => self.on_offer_accepted(now, contact, agent, *waited, *within_service_level),
            EventKind::ContactAbandoned { contact, waited } => {
                self.on_contact_abandoned(now, contact, *waited);
            }
            EventKind::ContactCompleted {
                contact,
                agent,
                first_contact_resolution,
                ..
            } => self.on_contact_completed(now, contact, agent, *first_contact_resolution),
            EventKind::ContactEscalated { contact, agent, .. } => {
                self.on_contact_moved_on(now, contact, agent, contacts::MovedOn::Escalated);
            }
            EventKind::ContactTransferred { contact, agent, .. } => {
                self.on_contact_moved_on(now, contact, agent, contacts::MovedOn::Transferred);
            }
            EventKind::ContactRequeued { contact, agent, .. } => {
                self.on_contact_moved_on(now, contact, agent, contacts::MovedOn::Requeued);
            }
            EventKind::ContactHeld { contact, .. } => self.set_waiting(contact, false),
            EventKind::ContactReleased { contact, .. } => self.set_waiting(contact, true),
            EventKind::DueTimeBreached { contact, .. } => self.on_due_time_breached(now, contact),
            EventKind::DueTimeExtended(extended) => self.on_due_time_extended(now, extended),
            EventKind::ComplaintStageChanged(changed) => {
                self.on_complaint_stage_changed(now, changed);
            }
            EventKind::ContactStepAdvanced { .. }
            | EventKind::PersistentComplainantMarked { .. }
            | EventKind::OfferMade(_)
            | EventKind::OfferRejected { .. }
            | EventKind::OfferExpired { .. }
            | EventKind::OfferRevoked { .. }
            | EventKind::ServiceLevelThresholdPassed { .. }
            | EventKind::ContactUnservable(_)
            | EventKind::PersonalDataErasureDeferred(_)
            | EventKind::PersonalDataErased(_)
            | EventKind::DueTimeAtRisk { .. } => {}
        }
    }

    /// Takes the samples due up to `now` (the state has not changed since the last event).
    fn sample_until(&mut self, now: Timestamp) {
        let boundaries = self.intervals.boundaries();
        while self.next_sample < boundaries.len() && boundaries[self.next_sample] <= now {
            let at = boundaries[self.next_sample];
            let [idle, busy, wrap_up, not_ready] = self.agents.count;
            self.samples.push(Sample {
                at_secs: (at - self.intervals.start()).as_secs(),
                waiting: self.waiting,
                waiting_by_queue: self.queues.waiting.clone(),
                idle,
                busy,
                wrap_up,
                not_ready,
            });
            self.next_sample += 1;
        }
    }

    /// The queue of `service` on `channel`, made on first sight.
    fn queue(&mut self, service: &ServiceId, channel: Channel) -> usize {
        let key = (service.clone(), channel);
        if let Some(&i) = self.queues.index.get(&key) {
            return i;
        }
        let i = self.queues.keys.len();
        self.queues.keys.push(key.clone());
        self.queues.index.insert(key, i);
        self.queues
            .counters
            .push(vec![Counters::default(); self.intervals.len()]);
        self.queues.waiting.push(0);
        self.queues.needs.push(agents::QueueNeeds::default());
        i
    }
}
