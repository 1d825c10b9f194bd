//! Events: the facts the core records. The log of events is the truth; state is a fold over it.
//!
//! Every value a decision computed (deadlines, queue order, plan step, the reasons for a choice)
//! is carried in the event, so [`crate::State::apply`] needs no configuration and cannot fail,
//! and replaying the same events always rebuilds the same state.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::command::NewContact;
use crate::ids::{AgentId, ContactId, CustomerId, OfferId, ServiceId, SiteId, SkillId};
use crate::model::{
    Channel, ComplaintStage, Level, Outcome, PerChannel, SelectionStrategy, SkillRequirement, Tier,
};
use crate::time::Timestamp;

/// A fact, with the instant the core decided it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it happened (the `now` of the decision).
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// An agent logged in (not ready until they say ready).
    AgentLoggedIn(Box<AgentLoggedIn>),
    /// An agent became ready for work.
    AgentReady {
        /// The agent.
        agent: AgentId,
    },
    /// An agent stopped taking new work.
    AgentNotReady {
        /// The agent.
        agent: AgentId,
        /// Why: the desktop's reason, or `missed_offers` when the core decided it.
        reason: Arc<str>,
    },
    /// An agent logged out, holding no work.
    AgentLoggedOut {
        /// The agent.
        agent: AgentId,
    },
    /// A contact arrived and joined its queue.
    ContactCreated(Box<ContactCreated>),
    /// A waiting contact reached a later step of its routing plan.
    ContactStepAdvanced {
        /// The contact.
        contact: ContactId,
        /// Its new place in the plan.
        placement: Placement,
    },
    /// A contact was offered to an agent.
    OfferMade(Box<OfferMade>),
    /// The agent accepted: the contact is assigned to them.
    OfferAccepted {
        /// The offer.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Accepted on the agent's behalf by the channel's auto-accept policy.
        automatic: bool,
        /// How long the contact had waited since first arrival.
        waited: Duration,
        /// Whether it was answered within its service-level threshold (live channels).
        within_service_level: bool,
    },
    /// The agent rejected the offer; the contact went back with its place kept.
    OfferRejected {
        /// The offer.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Why, if the agent said.
        reason: Option<Arc<str>>,
        /// Not offered to this agent again before this instant.
        reoffer_after: Timestamp,
    },
    /// The offer was not answered in time; the contact went back with its place kept.
    OfferExpired {
        /// The offer.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Not offered to this agent again before this instant.
        reoffer_after: Timestamp,
    },
    /// The offer was withdrawn by the core.
    OfferRevoked {
        /// The offer.
        offer: OfferId,
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// Why it was withdrawn.
        reason: RevokeReason,
    },
    /// The customer left before being answered.
    ContactAbandoned {
        /// The contact.
        contact: ContactId,
        /// How long they had waited since first arrival.
        waited: Duration,
    },
    /// An agent finished a contact.
    ContactCompleted {
        /// The contact.
        contact: ContactId,
        /// The agent.
        agent: AgentId,
        /// How it ended.
        outcome: Outcome,
        /// Resolved by the first agent who took it: no escalation, no transfer.
        first_contact_resolution: bool,
    },
    /// An agent escalated a contact up the tiers; it queues again for the new tier.
    ContactEscalated {
        /// The contact.
        contact: ContactId,
        /// The agent who escalated it (it will not be offered to them again).
        agent: AgentId,
        /// The tier it goes to.
        to_tier: Tier,
        /// Why.
        reason: Arc<str>,
        /// Its place in its new queue's plan.
        placement: Placement,
    },
    /// An agent transferred a contact to another service; it queues again there.
    ContactTransferred {
        /// The contact.
        contact: ContactId,
        /// The agent who transferred it.
        agent: AgentId,
        /// The service it goes to.
        service: ServiceId,
        /// The skills it now needs.
        skills: Vec<SkillRequirement>,
        /// Its place in its new queue's plan.
        placement: Placement,
    },
    /// Work in hand went back to the queue from its agent's desk: they logged out, or moved a
    /// complaint on a stage.
    ContactRequeued {
        /// The contact.
        contact: ContactId,
        /// The agent who held it.
        agent: AgentId,
        /// Why: `agent_logged_out`, or `complaint_stage_changed` (followed by that event).
        reason: Arc<str>,
        /// Its place in its queue's plan.
        placement: Placement,
    },
    /// An agent started after-contact work.
    WrapUpStarted {
        /// The agent.
        agent: AgentId,
        /// When it ends.
        until: Timestamp,
    },
    /// An agent's wrap-up ended; they are ready.
    WrapUpEnded {
        /// The agent.
        agent: AgentId,
    },
    /// A live contact has waited past its service-level threshold without being answered.
    ServiceLevelThresholdPassed {
        /// The contact.
        contact: ContactId,
        /// The threshold it passed.
        threshold: Duration,
    },
    /// Deferred work is close to its due time and not done.
    DueTimeAtRisk {
        /// The contact.
        contact: ContactId,
        /// Its due time.
        due_at: Timestamp,
    },
    /// Deferred work passed its due time and is not done.
    DueTimeBreached {
        /// The contact.
        contact: ContactId,
        /// Its due time.
        due_at: Timestamp,
    },
    /// A contact that arrived while its channel was closed waits, unoffered, for the opening.
    ContactHeld {
        /// The contact.
        contact: ContactId,
        /// When it joins its queue: the channel's next opening.
        until: Timestamp,
        /// The calendar that is closed.
        calendar: Arc<str>,
    },
    /// A held contact joined its queue at the opening.
    ContactReleased {
        /// The contact.
        contact: ContactId,
        /// Its place in its plan, counted from now.
        placement: Placement,
    },
    /// A complaint reached a stage (on arrival, or moving on): the stage's clock starts.
    ComplaintStageChanged(Box<ComplaintStageChanged>),
    /// A due time was extended, with the reason given to the customer.
    DueTimeExtended(Box<DueTimeExtended>),
    /// A customer was designated a persistent complainant, or the designation was lifted.
    PersistentComplainantMarked {
        /// The customer.
        customer: CustomerId,
        /// Designated (true) or lifted (false).
        designated: bool,
        /// The policy decision recorded.
        reason: Arc<str>,
    },
    /// A waiting contact that no logged-in agent could take at its plan step or any later one,
    /// with the requirement nobody meets (see [`crate::reach`]). Recorded once while it waits
    /// so; an audit record, and a signal that the rota cannot serve it.
    ContactUnservable(Box<ContactUnservable>),
    /// A customer's erasure was asked for while they have contacts in progress: it is carried
    /// out (a [`EventKind::PersonalDataErased`]) when the last of them ends.
    PersonalDataErasureDeferred(Box<PersonalDataErasure>),
    /// A customer's personal data was erased: their key destroyed by whoever keeps the keys (the
    /// core keeps none), so what was sealed under it reads as erased for good. The core forgets
    /// the customer (last agent, persistent-complainant designation, pending erasure).
    PersonalDataErased(Box<PersonalDataErasure>),
}

/// Why a customer's personal data is erased.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum ErasureReason {
    /// The customer asked (UK GDPR Article 17), through an administrator.
    Request,
    /// The retention schedule's period ran out since the customer's last contact.
    Retention,
}

impl ErasureReason {
    /// The reason's name on the wire and in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Retention => "retention",
        }
    }
}

/// An erasure of a customer's personal data, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonalDataErasure {
    /// The customer as the core knows them (the sealed reference the node gives), if anything
    /// was held for them when the erasure was asked for.
    pub customer: Option<CustomerId>,
    /// The customer's pseudonym (a keyed hash of the reference, in hex): what the erasure is
    /// recorded under, never the reference itself.
    pub subject: Arc<str>,
    /// Why.
    pub reason: ErasureReason,
    /// Deferred: how many of the customer's contacts were in progress. Erased: 0.
    pub live_contacts: u32,
}

impl EventKind {
    /// How many kinds of event there are.
    pub const COUNT: usize = 29;

    /// Every kind's type name, by [`EventKind::index`].
    pub const NAMES: [&'static str; Self::COUNT] = [
        "agent_logged_in",
        "agent_ready",
        "agent_not_ready",
        "agent_logged_out",
        "contact_created",
        "contact_step_advanced",
        "offer_made",
        "offer_accepted",
        "offer_rejected",
        "offer_expired",
        "offer_revoked",
        "contact_abandoned",
        "contact_completed",
        "contact_escalated",
        "contact_transferred",
        "contact_requeued",
        "wrap_up_started",
        "wrap_up_ended",
        "service_level_threshold_passed",
        "due_time_at_risk",
        "due_time_breached",
        "contact_held",
        "contact_released",
        "complaint_stage_changed",
        "due_time_extended",
        "persistent_complainant_marked",
        "contact_unservable",
        "personal_data_erasure_deferred",
        "personal_data_erased",
    ];

    /// The kind's place in [`EventKind::NAMES`] (dense, from 0; kinds added later come last),
    /// for tables indexed by kind.
    #[must_use]
    pub const fn index(&self) -> usize {
        match self {
            Self::AgentLoggedIn(_) => 0,
            Self::AgentReady { .. } => 1,
            Self::AgentNotReady { .. } => 2,
            Self::AgentLoggedOut { .. } => 3,
            Self::ContactCreated(_) => 4,
            Self::ContactStepAdvanced { .. } => 5,
            Self::OfferMade(_) => 6,
            Self::OfferAccepted { .. } => 7,
            Self::OfferRejected { .. } => 8,
            Self::OfferExpired { .. } => 9,
            Self::OfferRevoked { .. } => 10,
            Self::ContactAbandoned { .. } => 11,
            Self::ContactCompleted { .. } => 12,
            Self::ContactEscalated { .. } => 13,
            Self::ContactTransferred { .. } => 14,
            Self::ContactRequeued { .. } => 15,
            Self::WrapUpStarted { .. } => 16,
            Self::WrapUpEnded { .. } => 17,
            Self::ServiceLevelThresholdPassed { .. } => 18,
            Self::DueTimeAtRisk { .. } => 19,
            Self::DueTimeBreached { .. } => 20,
            Self::ContactHeld { .. } => 21,
            Self::ContactReleased { .. } => 22,
            Self::ComplaintStageChanged(_) => 23,
            Self::DueTimeExtended(_) => 24,
            Self::PersistentComplainantMarked { .. } => 25,
            Self::ContactUnservable(_) => 26,
            Self::PersonalDataErasureDeferred(_) => 27,
            Self::PersonalDataErased(_) => 28,
        }
    }

    /// The event's type name on the wire, in subjects and in reports (snake case).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The contact this event is about, if any.
    #[must_use]
    pub fn contact(&self) -> Option<&ContactId> {
        match self {
            Self::ContactCreated(created) => Some(&created.details.id),
            Self::OfferMade(offer) => Some(&offer.contact),
            Self::ComplaintStageChanged(changed) => Some(&changed.contact),
            Self::DueTimeExtended(extended) => Some(&extended.contact),
            Self::ContactUnservable(unservable) => Some(&unservable.contact),
            Self::ContactStepAdvanced { contact, .. }
            | Self::ContactHeld { contact, .. }
            | Self::ContactReleased { contact, .. }
            | Self::OfferAccepted { contact, .. }
            | Self::OfferRejected { contact, .. }
            | Self::OfferExpired { contact, .. }
            | Self::OfferRevoked { contact, .. }
            | Self::ContactAbandoned { contact, .. }
            | Self::ContactCompleted { contact, .. }
            | Self::ContactEscalated { contact, .. }
            | Self::ContactTransferred { contact, .. }
            | Self::ContactRequeued { contact, .. }
            | Self::ServiceLevelThresholdPassed { contact, .. }
            | Self::DueTimeAtRisk { contact, .. }
            | Self::DueTimeBreached { contact, .. } => Some(contact),
            Self::AgentLoggedIn(_)
            | Self::AgentReady { .. }
            | Self::AgentNotReady { .. }
            | Self::AgentLoggedOut { .. }
            | Self::WrapUpStarted { .. }
            | Self::WrapUpEnded { .. }
            | Self::PersistentComplainantMarked { .. }
            | Self::PersonalDataErasureDeferred(_)
            | Self::PersonalDataErased(_) => None,
        }
    }

    /// The agent this event is about, if any.
    #[must_use]
    pub fn agent(&self) -> Option<&AgentId> {
        match self {
            Self::AgentLoggedIn(login) => Some(&login.agent),
            Self::OfferMade(offer) => Some(&offer.agent),
            Self::ComplaintStageChanged(changed) => changed.agent.as_ref(),
            Self::DueTimeExtended(extended) => extended.agent.as_ref(),
            Self::AgentReady { agent }
            | Self::AgentNotReady { agent, .. }
            | Self::AgentLoggedOut { agent }
            | Self::OfferAccepted { agent, .. }
            | Self::OfferRejected { agent, .. }
            | Self::OfferExpired { agent, .. }
            | Self::OfferRevoked { agent, .. }
            | Self::ContactCompleted { agent, .. }
            | Self::ContactEscalated { agent, .. }
            | Self::ContactTransferred { agent, .. }
            | Self::ContactRequeued { agent, .. }
            | Self::WrapUpStarted { agent, .. }
            | Self::WrapUpEnded { agent } => Some(agent),
            Self::ContactCreated(_)
            | Self::ContactStepAdvanced { .. }
            | Self::ContactAbandoned { .. }
            | Self::ServiceLevelThresholdPassed { .. }
            | Self::DueTimeAtRisk { .. }
            | Self::DueTimeBreached { .. }
            | Self::ContactHeld { .. }
            | Self::ContactReleased { .. }
            | Self::ContactUnservable(_)
            | Self::PersistentComplainantMarked { .. }
            | Self::PersonalDataErasureDeferred(_)
            | Self::PersonalDataErased(_) => None,
        }
    }
}

/// An agent's login as recorded: defaults resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentLoggedIn {
    /// The agent.
    pub agent: AgentId,
    /// Their display name.
    pub name: Arc<str>,
    /// Their escalation tier.
    pub tier: Tier,
    /// Where they are working.
    pub site: SiteId,
    /// Skills and proficiency levels, sorted by skill, one entry per skill.
    pub skills: Vec<(SkillId, Level)>,
    /// How many contacts of each channel they may hold at once.
    pub capacity: PerChannel<u8>,
}

/// A contact's arrival as recorded: defaults resolved and deadlines computed.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactCreated {
    /// The contact as it arrived, with defaults resolved: `skills` is never empty, `due_at` is
    /// set for deferred channels, `preferred_agent` may name the customer's last agent.
    pub details: NewContact,
    /// When the customer first made contact; service levels count from here, across
    /// escalations and transfers.
    pub first_arrived_at: Timestamp,
    /// Its place in the queue order.
    pub order: QueueOrder,
    /// Its place in its routing plan.
    pub placement: Placement,
    /// Live channels: the instant it passes its service-level threshold if still unanswered.
    pub answer_by: Option<Timestamp>,
    /// Deferred channels: the instant it is reported at risk if not done.
    pub due_warning_at: Option<Timestamp>,
}

/// A complaint at a new stage, and the stage's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ComplaintStageChanged {
    /// The complaint.
    pub contact: ContactId,
    /// The stage it was at; `None` when it arrived as a complaint.
    pub from: Option<ComplaintStage>,
    /// The stage it is at now.
    pub to: ComplaintStage,
    /// Why (`received` on arrival; the customer's request to escalate; the referral).
    pub reason: Arc<str>,
    /// The agent who was handling it and let it go back to the queue (recorded by a
    /// `contact_requeued` just before, in logs written since it was), or who asked.
    pub agent: Option<AgentId>,
    /// When the stage's clock starts: receipt of the complaint, or of the request to escalate.
    pub received_at: Timestamp,
    /// When the acknowledgement is due (stages 1 and 2).
    pub acknowledge_by: Option<Timestamp>,
    /// When the response is due: the contact's due time from now on.
    pub due_at: Option<Timestamp>,
    /// When it is reported at risk if not done.
    pub due_warning_at: Option<Timestamp>,
    /// Its place in the queue order under the new due time.
    pub order: QueueOrder,
    /// Its place in its routing plan (a new place if it went back to the queue).
    pub placement: Placement,
}

/// A due time moved back, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueTimeExtended {
    /// The contact.
    pub contact: ContactId,
    /// Who extended it, if known.
    pub agent: Option<AgentId>,
    /// The due time before.
    pub previous_due_at: Timestamp,
    /// The due time now.
    pub due_at: Timestamp,
    /// The working days added.
    pub working_days: u32,
    /// The reason given to the customer.
    pub reason: Arc<str>,
    /// When it is reported at risk now.
    pub due_warning_at: Option<Timestamp>,
    /// Its place in the queue order under the new due time.
    pub order: QueueOrder,
}

/// A waiting contact nobody logged in can serve, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactUnservable {
    /// The contact.
    pub contact: ContactId,
    /// The plan step it was at (0-based); no step from here on accepts anyone logged in.
    pub step: u8,
    /// How many agents were logged in.
    pub logged_in: u32,
    /// The first requirement that no logged-in agent meets.
    pub shortfall: Shortfall,
}

/// The requirement of a waiting contact that no logged-in agent meets, taken at its most
/// relaxed over the plan steps still ahead. Checked in the order a team leader would fix a
/// rota: who is logged in, the channel, the site, each skill, the tier, the language. `site`
/// in a variant is the site the search was narrowed to (a walk-in's, or a plan that never
/// looks beyond the contact's site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Nobody is logged in.
    NobodyLoggedIn,
    /// Nobody logged in takes the contact's channel.
    Channel(Channel),
    /// Nobody logged in who takes the channel works at the contact's site.
    Site(SiteId),
    /// Nobody logged in who takes the channel (at the site) has this skill at this level.
    Skill {
        /// The skill.
        skill: SkillId,
        /// The lowest level any step ahead accepts.
        level: Level,
        /// The site searched, if the contact must be served there.
        site: Option<SiteId>,
    },
    /// Nobody logged in with the skills (at the site) is in the tiers that may take it.
    Tier {
        /// The contact's tier.
        lowest: Tier,
        /// The highest tier any step ahead lets take it.
        highest: Tier,
        /// The site searched, if the contact must be served there.
        site: Option<SiteId>,
    },
    /// Nobody logged in with the skills (at the site) speaks the contact's language, and no
    /// step drops it.
    Language {
        /// The language.
        language: SkillId,
        /// The site searched, if the contact must be served there.
        site: Option<SiteId>,
    },
    /// Every step ahead takes only the preferred agent (case owner or last agent), who is not
    /// logged in or does not meet its needs.
    PreferredAgent(AgentId),
    /// Someone meets each requirement, but nobody meets them all at one step.
    NoSingleStep,
}

impl std::fmt::Display for Shortfall {
    /// In a team leader's words, e.g. `no agent at market_square with council_tax`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |site: &Option<SiteId>| {
            site.as_ref()
                .map(|s| format!(" at {s}"))
                .unwrap_or_default()
        };
        match self {
            Self::NobodyLoggedIn => f.write_str("no agent is logged in"),
            Self::Channel(channel) => write!(f, "no agent takes {channel}"),
            Self::Site(site) => write!(f, "no agent at {site}"),
            Self::Skill { skill, level, site } if *level == Level::MIN => {
                write!(f, "no agent{} with {skill}", at(site))
            }
            Self::Skill { skill, level, site } => write!(
                f,
                "no agent{} with {skill} at level {} or above",
                at(site),
                level.get()
            ),
            Self::Tier {
                lowest,
                highest,
                site,
            } if lowest == highest => {
                write!(f, "no agent{} with the skills at {lowest}", at(site))
            }
            Self::Tier {
                lowest,
                highest,
                site,
            } => write!(
                f,
                "no agent{} with the skills at tiers {} to {}",
                at(site),
                lowest.get(),
                highest.get()
            ),
            Self::Language { language, site } => {
                write!(f, "no agent{} with the skills speaks {language}", at(site))
            }
            Self::PreferredAgent(agent) => {
                write!(f, "only {agent} may take it, and cannot now")
            }
            Self::NoSingleStep => f.write_str("no plan step accepts any one agent logged in"),
        }
    }
}

/// A contact offered to an agent, and why that agent.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferMade {
    /// The offer.
    pub offer: OfferId,
    /// The contact.
    pub contact: ContactId,
    /// The agent.
    pub agent: AgentId,
    /// The contact's channel (what the agent's capacity is counted against).
    pub channel: Channel,
    /// When the offer expires if not answered.
    pub expires_at: Timestamp,
    /// Why this agent and this contact.
    pub decision: Decision,
}

/// Why a contact went to an agent: the audit record of a routing decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The routing plan used.
    pub plan: Arc<str>,
    /// The plan step the contact was at (0-based).
    pub step: u8,
    /// That step's name.
    pub step_name: Arc<str>,
    /// The rule that chose.
    pub rule: Rule,
    /// How many agents (when a contact arrived) or waiting contacts (when an agent became free)
    /// were in the pool the rule chose from.
    pub pool: u32,
    /// How many of them were examined before the choice was made.
    pub examined: u32,
    /// The chosen one's score under the rule: idle milliseconds (longest idle), the sum of
    /// proficiency levels in the required skills (most skilled), contacts held (least occupied),
    /// or the contact's wait in milliseconds (queue order).
    pub score: i64,
}

/// The rule that made a routing decision.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The contact's preferred agent (case owner or last agent) was free and eligible.
    PreferredAgent,
    /// A contact arrived (or relaxed) and the selection strategy chose among free agents.
    Strategy(SelectionStrategy),
    /// An agent became free and took the first contact in queue order they were eligible for.
    QueueOrder,
}

impl Rule {
    /// The rule's name in decision records.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PreferredAgent => "preferred_agent",
            Self::Strategy(s) => s.as_str(),
            Self::QueueOrder => "queue_order",
        }
    }
}

/// Why an offer was withdrawn.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// The customer left.
    ContactAbandoned,
    /// The agent went not ready.
    AgentNotReady,
    /// The agent logged out.
    AgentLoggedOut,
}

impl RevokeReason {
    /// The reason's name on the wire.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ContactAbandoned => "contact_abandoned",
            Self::AgentNotReady => "agent_not_ready",
            Self::AgentLoggedOut => "agent_logged_out",
        }
    }
}

/// Where a waiting contact is in its routing plan.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Placement {
    /// The plan step (0-based).
    pub step: u8,
    /// The step accepts only the contact's preferred agent.
    pub preferred_agent_only: bool,
    /// When the next step applies, if there is one.
    pub next_step_at: Option<Timestamp>,
}

/// A contact's place in the queue order. Lower is served first.
///
/// The order is: safeguarding contacts first; then live work before deferred work; then by
/// `rank`. For live work the rank is the first-arrival time in milliseconds minus
/// `priority × priority_step`, so a contact of priority `p` can be overtaken only by contacts of
/// higher priority `q` that arrived less than `(q − p) × priority_step` after it: with priorities
/// 0–9 and the default step of 60 s, no routine contact waits behind later arrivals for more than
/// nine minutes of their arrivals (a first arrival given as `received_at` counts at most
/// [`crate::LIVE_EARLIER_ARRIVAL_MAX`] back). (Safeguarding contacts always go first, by policy.) For
/// deferred work the rank is the due time in milliseconds: earliest due first. Ties go to the
/// contact that arrived first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueOrder {
    /// A safeguarding concern.
    pub safeguarding: bool,
    /// Live work (phone, face to face, chat).
    pub live: bool,
    /// The rank within its class (milliseconds; lower first).
    pub rank: i64,
}

impl QueueOrder {
    const fn class(self) -> u8 {
        (!self.safeguarding as u8) << 1 | (!self.live as u8)
    }
}

impl Ord for QueueOrder {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.class(), self.rank).cmp(&(other.class(), other.rank))
    }
}

impl PartialOrd for QueueOrder {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One line for people: the event's type and its main fields, e.g.
/// `offer_made offer=3 contact=c1 agent=ann expires=15000ms plan=default/0:matched rule=longest_idle pool=2 examined=1 score=0`.
impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name();
        match self {
            Self::AgentLoggedIn(l) => write!(f, "{name} {l}"),
            Self::AgentReady { agent }
            | Self::AgentLoggedOut { agent }
            | Self::WrapUpEnded { agent } => {
                write!(f, "{name} agent={agent}")
            }
            Self::AgentNotReady { agent, reason } => {
                write!(f, "{name} agent={agent} reason={reason}")
            }
            Self::ContactCreated(c) => write!(f, "{name} {c}"),
            Self::ContactStepAdvanced { contact, placement } => {
                write!(f, "{name} contact={contact} step={}", placement.step)
            }
            Self::OfferMade(o) => write!(f, "{name} {o}"),
            Self::OfferAccepted { .. }
            | Self::OfferRejected { .. }
            | Self::OfferExpired { .. }
            | Self::OfferRevoked { .. } => self.fmt_offer_answer(name, f),
            Self::ContactAbandoned { .. }
            | Self::ContactCompleted { .. }
            | Self::ContactEscalated { .. }
            | Self::ContactTransferred { .. }
            | Self::ContactRequeued { .. } => self.fmt_contact_let_go(name, f),
            Self::WrapUpStarted { agent, until } => write!(f, "{name} agent={agent} until={until}"),
            Self::ServiceLevelThresholdPassed { contact, threshold } => {
                write!(
                    f,
                    "{name} contact={contact} threshold={}s",
                    threshold.as_secs()
                )
            }
            Self::DueTimeAtRisk { contact, due_at } | Self::DueTimeBreached { contact, due_at } => {
                write!(f, "{name} contact={contact} due={due_at}")
            }
            Self::ContactHeld {
                contact,
                until,
                calendar,
            } => write!(
                f,
                "{name} contact={contact} until={until} calendar={calendar}"
            ),
            Self::ContactReleased { contact, placement } => {
                write!(f, "{name} contact={contact} step={}", placement.step)
            }
            Self::ComplaintStageChanged(c) => write!(f, "{name} {c}"),
            Self::DueTimeExtended(e) => write!(f, "{name} {e}"),
            Self::PersistentComplainantMarked {
                customer,
                designated,
                reason,
            } => write!(
                f,
                "{name} customer={customer} {} reason={reason}",
                if *designated { "designated" } else { "lifted" }
            ),
            Self::ContactUnservable(u) => write!(f, "{name} {u}"),
            Self::PersonalDataErasureDeferred(e) | Self::PersonalDataErased(e) => {
                write!(f, "{name} {e}")
            }
        }
    }
}

/// `subject=<pseudonym> reason=request`, then `live_contacts=N` when deferred and the
/// customer (sealed) when one was held.
impl std::fmt::Display for PersonalDataErasure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "subject={} reason={}", self.subject, self.reason.name())?;
        if self.live_contacts > 0 {
            write!(f, " live_contacts={}", self.live_contacts)?;
        }
        if let Some(customer) = &self.customer {
            write!(f, " customer={customer}")?;
        }
        Ok(())
    }
}

impl EventKind {
    /// An answered or withdrawn offer's fields, after its name.
    fn fmt_offer_answer(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OfferAccepted {
                offer,
                contact,
                agent,
                automatic,
                waited,
                within_service_level,
            } => write!(
                f,
                "{name} offer={offer} contact={contact} agent={agent}{} waited={}ms{}",
                if *automatic { " automatic" } else { "" },
                waited.as_millis(),
                if *within_service_level {
                    ""
                } else {
                    " outside_service_level"
                }
            ),
            Self::OfferRejected {
                offer,
                contact,
                agent,
                ..
            }
            | Self::OfferExpired {
                offer,
                contact,
                agent,
                ..
            } => {
                write!(f, "{name} offer={offer} contact={contact} agent={agent}")
            }
            Self::OfferRevoked {
                offer,
                contact,
                agent,
                reason,
            } => {
                write!(
                    f,
                    "{name} offer={offer} contact={contact} agent={agent} reason={}",
                    reason.as_str()
                )
            }
            other => write!(f, "{}", other.name()),
        }
    }

    /// The fields of a contact that left an agent or the queue, after its name.
    fn fmt_contact_let_go(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ContactAbandoned { contact, waited } => {
                write!(
                    f,
                    "{name} contact={contact} waited={}ms",
                    waited.as_millis()
                )
            }
            Self::ContactCompleted {
                contact,
                agent,
                outcome,
                first_contact_resolution,
            } => write!(
                f,
                "{name} contact={contact} agent={agent} outcome={}{}",
                outcome.as_str(),
                if *first_contact_resolution {
                    " first_contact_resolution"
                } else {
                    ""
                }
            ),
            Self::ContactEscalated {
                contact,
                agent,
                to_tier,
                reason,
                ..
            } => {
                write!(
                    f,
                    "{name} contact={contact} agent={agent} to={to_tier} reason={reason}"
                )
            }
            Self::ContactTransferred {
                contact,
                agent,
                service,
                ..
            } => {
                write!(
                    f,
                    "{name} contact={contact} agent={agent} service={service}"
                )
            }
            Self::ContactRequeued {
                contact,
                agent,
                reason,
                ..
            } => {
                write!(f, "{name} contact={contact} agent={agent} reason={reason}")
            }
            other => write!(f, "{}", other.name()),
        }
    }
}

impl std::fmt::Display for AgentLoggedIn {
    /// The login's fields as in an event line: `agent=ann tier 1 site=hq skills=tax:3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self;
        write!(f, "agent={} {} site={} skills=", l.agent, l.tier, l.site)?;
        for (i, (skill, level)) in l.skills.iter().enumerate() {
            write!(f, "{}{skill}:{}", if i > 0 { "," } else { "" }, level.get())?;
        }
        Ok(())
    }
}

impl std::fmt::Display for ContactCreated {
    /// The arrival's fields as in an event line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self;
        let d = &c.details;
        write!(
            f,
            "contact={} {} service={} skills=",
            d.id, d.channel, d.service
        )?;
        for (i, r) in d.skills.iter().enumerate() {
            write!(
                f,
                "{}{}:{}",
                if i > 0 { "," } else { "" },
                r.skill,
                r.min_level.get()
            )?;
        }
        if d.safeguarding {
            f.write_str(" safeguarding")?;
        }
        if d.vulnerable {
            f.write_str(" vulnerable")?;
        }
        if let Some(agent) = &d.preferred_agent {
            write!(f, " preferred={agent}")?;
        }
        if let Some(site) = &d.site {
            write!(f, " site={site}")?;
        }
        write!(f, " step={}", c.placement.step)
    }
}

impl std::fmt::Display for OfferMade {
    /// The offer and its decision record as in an event line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = self;
        let d = &o.decision;
        write!(
            f,
            "offer={} contact={} agent={} expires={} plan={}/{}:{} rule={} pool={} examined={} score={}",
            o.offer,
            o.contact,
            o.agent,
            o.expires_at,
            d.plan,
            d.step,
            d.step_name,
            d.rule.as_str(),
            d.pool,
            d.examined,
            d.score
        )
    }
}

impl std::fmt::Display for ComplaintStageChanged {
    /// The stage change and its clock as in an event line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self;
        write!(
            f,
            "contact={} {}->{} received={}",
            c.contact,
            c.from.map_or("none", ComplaintStage::as_str),
            c.to.as_str(),
            c.received_at
        )?;
        if let Some(at) = c.acknowledge_by {
            write!(f, " acknowledge_by={at}")?;
        }
        if let Some(at) = c.due_at {
            write!(f, " due={at}")?;
        }
        write!(f, " reason={}", c.reason)
    }
}

impl std::fmt::Display for DueTimeExtended {
    /// The extension as in an event line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self;
        write!(
            f,
            "contact={} due={} (was {}) working_days={} reason={}",
            e.contact, e.due_at, e.previous_due_at, e.working_days, e.reason
        )
    }
}

impl std::fmt::Display for ContactUnservable {
    /// The contact, its step and why nobody logged in can serve it, as in an event line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let u = self;
        write!(
            f,
            "contact={} step={} logged_in={}: {}",
            u.contact, u.step, u.logged_in, u.shortfall
        )
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.at, self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_snake_case_name() {
        let names: std::collections::BTreeSet<_> = EventKind::NAMES.iter().collect();
        assert_eq!(names.len(), EventKind::COUNT, "names are distinct");
        assert!(EventKind::NAMES.iter().all(|name| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        }));
    }

    #[test]
    fn queue_order_puts_safeguarding_then_live_then_rank_first() {
        let order = |safeguarding, live, rank| QueueOrder {
            safeguarding,
            live,
            rank,
        };
        let mut orders = vec![
            order(false, false, 1),
            order(false, true, 50),
            order(true, false, 99),
            order(false, true, 10),
            order(true, true, 100),
        ];
        orders.sort();
        assert_eq!(
            orders,
            vec![
                order(true, true, 100),
                order(true, false, 99),
                order(false, true, 10),
                order(false, true, 50),
                order(false, false, 1),
            ]
        );
    }
}
