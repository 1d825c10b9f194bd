//! Routing state: a fold over events. [`State::apply`] is the only way it changes.
//!
//! The state has two parts. The *canonical* part (agents, contacts, offers, counters) is what the
//! events say, and what snapshots keep. The *index* ([`crate::index::Index`]) is derived from it
//! and kept in step by `reindex_agent` / `reindex_contact` after every change; it makes matching
//! fast and is rebuilt from scratch after a snapshot is loaded. [`State::check_invariants`]
//! rebuilds it and compares, among other checks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::event::{
    AgentLoggedIn, ComplaintStageChanged, ContactCreated, ContactUnservable, DueTimeExtended,
    ErasureReason, Event, EventKind, OfferMade, Placement, QueueOrder,
};
use crate::ids::{AgentId, ContactId, CustomerId, OfferId, ServiceId, SiteId, SkillId};
use crate::index::{Index, Profile};
use crate::model::{
    Channel, ComplaintStage, Level, Outcome, PerChannel, Presence, Priority, SkillRequirement, Tier,
};
use crate::time::Timestamp;

/// How long a finished contact is remembered in memory (for duplicate detection and to route a
/// returning customer to their last agent). Its history stays in the log for good.
pub const FINISHED_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// The most finished contacts remembered at once, the oldest forgotten first: memory stays
/// bounded (about 500 bytes each) under a flood of contacts, not only after
/// [`FINISHED_RETENTION`]. A busy council finishes tens of thousands a day, well under it.
/// A constant, not a setting: the state is a fold over the events, and a replay must forget
/// exactly what the live engine forgot.
pub const FINISHED_KEPT_MAX: usize = 500_000;

/// The most distinct services, skills (languages included) and sites the state takes, each: a
/// council has tens of each, and a command naming one more past this is refused
/// (`invalid_command`), since names, once seen, are kept for good.
pub const NAMES_MAX: usize = 10_000;

macro_rules! dense_index {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
        pub struct $name(pub(crate) u32);
    };
}

dense_index! {
    /// An agent's position in the state's agent table (agents are never removed).
    AgentIdx
}
dense_index! {
    /// A skill's number in the state's skill table.
    SkillIdx
}
dense_index! {
    /// A service's number in the state's service table.
    ServiceIdx
}
dense_index! {
    /// A site's number in the state's site table.
    SiteIdx
}

impl AgentIdx {
    pub(crate) const fn slot(self) -> usize {
        self.0 as usize
    }
}

impl SkillIdx {
    pub(crate) const fn slot(self) -> usize {
        self.0 as usize
    }
}

/// A live contact's number: the order in which contacts were created. Unique for good.
pub type ContactNo = u64;

/// A table of names with dense numbers, numbered in the order they were first seen.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Names<T: std::hash::Hash + Eq> {
    names: Vec<T>,
    numbers: FxHashMap<T, u32>,
}

impl<T: std::hash::Hash + Eq> Default for Names<T> {
    fn default() -> Self {
        Self {
            names: Vec::new(),
            numbers: FxHashMap::default(),
        }
    }
}

impl<T: std::hash::Hash + Eq + Clone + std::borrow::Borrow<str>> Names<T> {
    fn intern(&mut self, name: &T) -> u32 {
        if let Some(&n) = self.numbers.get::<str>(name.borrow()) {
            return n;
        }
        let n = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        self.names.push(name.clone());
        self.numbers.insert(name.clone(), n);
        n
    }

    pub(crate) fn number(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    pub(crate) fn name(&self, number: u32) -> &T {
        &self.names[number as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// A logged-in (or once logged-in) member of staff.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Agent {
    /// The agent.
    pub id: AgentId,
    /// Display name, from the latest login.
    pub name: Arc<str>,
    /// Escalation tier, from the latest login.
    pub tier: Tier,
    /// Site, from the latest login.
    pub site: SiteIdx,
    /// Skills with proficiency, sorted by skill number, from the latest login.
    pub skills: Vec<(SkillIdx, Level)>,
    /// How many contacts of each channel they may hold, from the latest login.
    pub capacity: PerChannel<u8>,
    /// Contacts of each channel held now: offered or assigned.
    pub load: PerChannel<u8>,
    /// Where they are in their day.
    pub presence: Presence,
    /// When they last became free of all work (or logged in, or became ready while free).
    pub idle_since: Timestamp,
    /// Offers let expire in a row; reset by an acceptance.
    pub missed_offers: u8,
    /// Offers waiting for their answer.
    pub offers: Vec<OfferId>,
    /// Contacts assigned to them.
    pub contacts: Vec<ContactNo>,
}

impl Agent {
    /// The agent's proficiency in `skill`, if they have it.
    #[must_use]
    pub fn level(&self, skill: SkillIdx) -> Option<Level> {
        self.skills
            .binary_search_by_key(&skill, |&(s, _)| s)
            .ok()
            .map(|i| self.skills[i].1)
    }

    /// Contacts held now, over all channels.
    #[must_use]
    pub fn load_total(&self) -> u32 {
        self.load.0.iter().map(|&n| u32::from(n)).sum()
    }

    /// Holds a phone call, a walk-in or a running callback: nothing else may be offered.
    #[must_use]
    pub fn holds_exclusive_work(&self) -> bool {
        self.load.iter().any(|(c, n)| n > 0 && c.is_exclusive())
    }

    /// Holds work that occupies them (a call, a walk-in, a chat, a running callback): anything
    /// but interruptible email.
    #[must_use]
    pub fn is_occupied(&self) -> bool {
        self.load
            .iter()
            .any(|(c, n)| n > 0 && !c.is_interruptible())
    }

    /// Holds live work (a call, a walk-in, a chat).
    #[must_use]
    pub fn holds_live_work(&self) -> bool {
        self.load.iter().any(|(c, n)| n > 0 && c.is_live())
    }

    /// Could be offered a contact of `channel` now, capacity and exclusivity permitting.
    ///
    /// The rule: the agent is ready; holds fewer than their capacity on the channel; holds no
    /// exclusive work; and, for an exclusive channel, holds no live work either. Deferred work
    /// (email) in hand never blocks: it is interruptible.
    #[must_use]
    pub fn can_take(&self, channel: Channel) -> bool {
        self.presence == Presence::Ready
            && self.load.get(channel) < self.capacity.get(channel)
            && !self.holds_exclusive_work()
            && !(channel.is_exclusive() && self.holds_live_work())
    }
}

/// Where a live contact is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum ContactStatus {
    /// Waiting in its queue.
    Queued,
    /// Offered to an agent, waiting for their answer.
    Offered {
        /// The offer.
        offer: OfferId,
        /// The agent.
        agent: AgentIdx,
    },
    /// Being handled by an agent.
    Assigned {
        /// The agent.
        agent: AgentIdx,
        /// Since when.
        since: Timestamp,
    },
    /// Arrived out of hours: waits, unoffered, until its channel opens.
    Held {
        /// When it joins its queue.
        until: Timestamp,
    },
}

impl ContactStatus {
    /// The status's name on the wire and in reports.
    #[must_use]
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Offered { .. } => "offered",
            Self::Assigned { .. } => "assigned",
            Self::Held { .. } => "held",
        }
    }
}

/// An agent a contact is kept away from: the agent who escalated it (for good), or one who
/// rejected it or let the offer expire (until a cool-down ends).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Exclusion {
    /// The agent.
    pub agent: AgentIdx,
    /// Until when; `None` for good.
    pub until: Option<Timestamp>,
}

/// A contact that has not finished yet.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Contact {
    /// Its number (creation order).
    pub no: ContactNo,
    /// Its id.
    pub id: ContactId,
    /// How it arrived.
    pub channel: Channel,
    /// Its current service (changes on transfer).
    pub service: ServiceIdx,
    /// The service it arrived for (its queue counters stay there).
    pub first_service: ServiceIdx,
    /// How urgent (vulnerability boost not included).
    pub priority: Priority,
    /// A safeguarding concern.
    pub safeguarding: bool,
    /// A vulnerable customer.
    pub vulnerable: bool,
    /// The customer, if known.
    pub customer: Option<CustomerId>,
    /// The preferred agent, if any.
    pub preferred_agent: Option<AgentId>,
    /// Deferred work: when it must be done by.
    pub due_at: Option<Timestamp>,
    /// The complaint stage, if a complaint.
    pub complaint_stage: Option<ComplaintStage>,
    /// A complaint: when the current stage's acknowledgement is due.
    pub acknowledge_by: Option<Timestamp>,
    /// How many times its due time was extended.
    pub extensions: u8,
    /// Free-form attributes for the desktop.
    pub attributes: Vec<(Arc<str>, Arc<str>)>,
    /// When the customer first made contact.
    pub first_arrived_at: Timestamp,
    /// When it joined its current queue (arrival, escalation, transfer, requeue).
    pub queued_at: Timestamp,
    /// Its queue order.
    pub order: QueueOrder,
    /// Its place in its routing plan.
    pub placement: Placement,
    /// What it needs: the matching profile (channel, service, skills, language, site, tier).
    pub profile: Arc<Profile>,
    /// Where it is.
    pub status: ContactStatus,
    /// When it was first answered.
    pub answered_at: Option<Timestamp>,
    /// Live: when it passes its service-level threshold if unanswered.
    pub answer_by: Option<Timestamp>,
    /// Deferred: when it is reported at risk.
    pub due_warning_at: Option<Timestamp>,
    /// It passed its service-level threshold unanswered.
    pub service_level_passed: bool,
    /// It was reported at risk of missing its due time.
    pub due_at_risk: bool,
    /// It passed its due time undone.
    pub due_breached: bool,
    /// Agents it is kept away from.
    pub excluded: Vec<Exclusion>,
    /// How many times it was escalated.
    pub escalations: u8,
    /// How many times it was transferred.
    pub transfers: u8,
    /// Recorded unservable (a `contact_unservable` event) since it was last offered or
    /// requeued with new needs: nobody logged in could take it then. Keeps the record to one
    /// per wait; whether it is unservable *now* is [`crate::Router::unservable`]'s answer.
    pub unservable: bool,
}

impl Contact {
    /// Whether `agent` is kept away from this contact at `now`.
    #[must_use]
    pub fn excludes(&self, agent: AgentIdx, now: Timestamp) -> bool {
        self.excluded
            .iter()
            .any(|e| e.agent == agent && e.until.is_none_or(|until| now < until))
    }
}

/// An offer waiting for its agent's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct Offer {
    /// The offer.
    pub id: OfferId,
    /// The contact offered.
    pub contact: ContactNo,
    /// The agent it was offered to.
    pub agent: AgentIdx,
    /// The contact's channel.
    pub channel: Channel,
    /// When it was made.
    pub made_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// How a finished contact ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub enum Finish {
    /// Completed by an agent.
    Completed(Outcome),
    /// The customer left before being answered.
    Abandoned,
}

/// A contact that finished within [`FINISHED_RETENTION`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct FinishedContact {
    /// Its id.
    pub id: ContactId,
    /// When it finished.
    pub at: Timestamp,
    /// How.
    pub finish: Finish,
    /// The customer, if known.
    pub customer: Option<CustomerId>,
}

/// Running totals for one queue (a service on a channel), counted where contacts arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct QueueCounters {
    /// Contacts that arrived.
    pub created: u64,
    /// Contacts answered for the first time.
    pub answered: u64,
    /// Of those, answered within the service-level threshold.
    pub answered_within_service_level: u64,
    /// Contacts abandoned.
    pub abandoned: u64,
    /// Contacts completed.
    pub completed: u64,
    /// Completed as resolved at first contact.
    pub resolved_first_contact: u64,
    /// Contacts that passed their service-level threshold unanswered.
    pub service_level_passed: u64,
    /// Deferred contacts that passed their due time undone.
    pub due_breached: u64,
    /// Contacts held because they arrived out of hours.
    pub held: u64,
}

/// The whole routing state.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "snapshot", derive(serde::Serialize, serde::Deserialize))]
pub struct State {
    pub(crate) skills: Names<SkillId>,
    pub(crate) services: Names<ServiceId>,
    pub(crate) sites: Names<SiteId>,
    pub(crate) agents: Vec<Agent>,
    pub(crate) agent_numbers: FxHashMap<AgentId, AgentIdx>,
    pub(crate) contacts: FxHashMap<ContactNo, Contact>,
    pub(crate) contact_numbers: FxHashMap<ContactId, ContactNo>,
    pub(crate) offers: FxHashMap<OfferId, Offer>,
    pub(crate) finished: VecDeque<FinishedContact>,
    pub(crate) finished_numbers: FxHashMap<ContactId, u64>,
    pub(crate) finished_count: u64,
    pub(crate) last_agent: FxHashMap<CustomerId, (AgentId, Timestamp)>,
    /// Customers designated persistent complainants, with the reason recorded.
    pub(crate) persistent_complainants: FxHashMap<CustomerId, Arc<str>>,
    /// Customers whose erasure waits for their contacts in progress to end: their pseudonym
    /// and why.
    pub(crate) pending_erasures: FxHashMap<CustomerId, (Arc<str>, ErasureReason)>,
    pub(crate) counters: BTreeMap<(ServiceId, Channel), QueueCounters>,
    pub(crate) next_contact: ContactNo,
    pub(crate) next_offer: u64,
    pub(crate) clock: Timestamp,
    pub(crate) applied: u64,
    #[cfg_attr(feature = "snapshot", serde(skip))]
    pub(crate) index: Index,
    /// The index is not kept up to date (bulk replay); [`State::resume_index`] rebuilds it.
    #[cfg_attr(feature = "snapshot", serde(skip))]
    index_suspended: bool,
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

/// Two states are equal when their canonical parts are; the index is derived.
impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.skills == other.skills
            && self.services == other.services
            && self.sites == other.sites
            && self.agents == other.agents
            && self.agent_numbers == other.agent_numbers
            && self.contacts == other.contacts
            && self.contact_numbers == other.contact_numbers
            && self.offers == other.offers
            && self.finished == other.finished
            && self.finished_numbers == other.finished_numbers
            && self.finished_count == other.finished_count
            && self.last_agent == other.last_agent
            && self.persistent_complainants == other.persistent_complainants
            && self.pending_erasures == other.pending_erasures
            && self.counters == other.counters
            && self.next_contact == other.next_contact
            && self.next_offer == other.next_offer
            && self.clock == other.clock
            && self.applied == other.applied
    }
}

impl State {
    /// An empty state: no agents, no contacts.
    #[must_use]
    pub fn new() -> Self {
        Self {
            skills: Names::default(),
            services: Names::default(),
            sites: Names::default(),
            agents: Vec::new(),
            agent_numbers: FxHashMap::default(),
            contacts: FxHashMap::default(),
            contact_numbers: FxHashMap::default(),
            offers: FxHashMap::default(),
            finished: VecDeque::new(),
            finished_numbers: FxHashMap::default(),
            finished_count: 0,
            last_agent: FxHashMap::default(),
            persistent_complainants: FxHashMap::default(),
            pending_erasures: FxHashMap::default(),
            counters: BTreeMap::new(),
            next_contact: 0,
            next_offer: 1,
            clock: Timestamp::EPOCH,
            applied: 0,
            index: Index::default(),
            index_suspended: false,
        }
    }

    /// Stops keeping the derived index up to date, for replaying many events at once: each
    /// event then costs only its canonical change. Call [`State::resume_index`] before routing
    /// (or comparing indexes) again.
    pub fn suspend_index(&mut self) {
        self.index_suspended = true;
        self.index = Index::default();
    }

    /// Rebuilds the index after [`State::suspend_index`]; does nothing if it was not suspended.
    pub fn resume_index(&mut self) {
        if self.index_suspended {
            self.index_suspended = false;
            self.rebuild_index();
        }
    }

    /// Rebuilds the derived index from the canonical state (after loading a snapshot).
    pub fn rebuild_index(&mut self) {
        self.index_suspended = false;
        self.index = Index::default();
        self.index.ensure_skills(self.skills.len());
        for n in 0..self.agents.len() {
            self.reindex_agent(AgentIdx(u32::try_from(n).expect("agent count fits u32")));
        }
        let mut numbers: Vec<ContactNo> = self.contacts.keys().copied().collect();
        numbers.sort_unstable();
        for no in numbers {
            self.reindex_contact(no);
        }
        let offers: Vec<(Timestamp, OfferId)> =
            self.offers.values().map(|o| (o.expires_at, o.id)).collect();
        for (expires_at, id) in offers {
            self.index.add_offer_timer(expires_at, id);
        }
    }

    /// How many events have been applied since the empty state.
    #[must_use]
    pub const fn events_applied(&self) -> u64 {
        self.applied
    }

    /// The time of the latest event applied.
    #[must_use]
    pub const fn clock(&self) -> Timestamp {
        self.clock
    }

    /// Every agent ever logged in, in the order they first logged in.
    pub fn agents(&self) -> impl ExactSizeIterator<Item = &Agent> {
        self.agents.iter()
    }

    /// An agent by id.
    #[must_use]
    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agent_numbers.get(id).map(|&i| &self.agents[i.slot()])
    }

    /// An agent by number.
    #[must_use]
    pub fn agent_at(&self, idx: AgentIdx) -> &Agent {
        &self.agents[idx.slot()]
    }

    /// Every live (unfinished) contact, in no particular order.
    pub fn contacts(&self) -> impl ExactSizeIterator<Item = &Contact> {
        self.contacts.values()
    }

    /// A live contact by id.
    #[must_use]
    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contact_numbers.get(id).map(|no| &self.contacts[no])
    }

    /// A live contact by number.
    #[must_use]
    pub fn contact_by_number(&self, no: ContactNo) -> Option<&Contact> {
        self.contacts.get(&no)
    }

    /// A contact that finished within [`FINISHED_RETENTION`], by id.
    #[must_use]
    pub fn finished_contact(&self, id: &str) -> Option<&FinishedContact> {
        let number = *self.finished_numbers.get(id)?;
        let first = self.finished_count - self.finished.len() as u64;
        self.finished.get(usize::try_from(number - first).ok()?)
    }

    /// An offer waiting for its answer.
    #[must_use]
    pub fn offer(&self, id: OfferId) -> Option<&Offer> {
        self.offers.get(&id)
    }

    /// Offers waiting for their answers.
    pub fn offers(&self) -> impl ExactSizeIterator<Item = &Offer> {
        self.offers.values()
    }

    /// Running totals per queue (service and channel where contacts arrived).
    #[must_use]
    pub const fn counters(&self) -> &BTreeMap<(ServiceId, Channel), QueueCounters> {
        &self.counters
    }

    /// A skill's name.
    #[must_use]
    pub fn skill_name(&self, skill: SkillIdx) -> &SkillId {
        self.skills.name(skill.0)
    }

    /// A service's name.
    #[must_use]
    pub fn service_name(&self, service: ServiceIdx) -> &ServiceId {
        self.services.name(service.0)
    }

    /// A site's name.
    #[must_use]
    pub fn site_name(&self, site: SiteIdx) -> &SiteId {
        self.sites.name(site.0)
    }

    /// A skill's number, if any agent or contact has named it.
    #[must_use]
    pub fn skill_number(&self, skill: &str) -> Option<SkillIdx> {
        self.skills.number(skill).map(SkillIdx)
    }

    /// The agent the customer last finished a contact with, within the retention window.
    #[must_use]
    pub fn last_agent_of(&self, customer: &str) -> Option<&AgentId> {
        self.last_agent.get(customer).map(|(agent, _)| agent)
    }

    /// The pseudonym and reason of the customer's erasure, if it waits for their contacts in
    /// progress to end.
    #[must_use]
    pub fn pending_erasure(&self, customer: &str) -> Option<&(Arc<str>, ErasureReason)> {
        self.pending_erasures.get(customer)
    }

    /// Whether some erasure waits for contacts to end.
    #[must_use]
    pub fn has_pending_erasures(&self) -> bool {
        !self.pending_erasures.is_empty()
    }

    /// How many of the customer's contacts are in progress (a scan of every contact in
    /// progress: for erasures, which are rare).
    #[must_use]
    pub fn live_contacts_of(&self, customer: &str) -> u32 {
        let count = self
            .contacts
            .values()
            .filter(|c| c.customer.as_deref() == Some(customer))
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// Why the customer is designated a persistent complainant, if they are.
    #[must_use]
    pub fn persistent_complainant(&self, customer: &str) -> Option<&Arc<str>> {
        self.persistent_complainants.get(customer)
    }

    /// Customers designated persistent complainants, with the reasons recorded.
    pub fn persistent_complainants(
        &self,
    ) -> impl ExactSizeIterator<Item = (&CustomerId, &Arc<str>)> {
        self.persistent_complainants.iter()
    }

    /// The earliest instant at which a timer of the state falls due.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.index.timers.first().map(|&(at, _)| at)
    }

    /// An agent's number, for tests and tools that cross-check the state.
    #[must_use]
    pub fn agent_number_for_tests(&self, id: &str) -> Option<AgentIdx> {
        self.agent_number(id)
    }

    pub(crate) fn agent_number(&self, id: &str) -> Option<AgentIdx> {
        self.agent_numbers.get(id).copied()
    }

    pub(crate) fn contact_number(&self, id: &str) -> Option<ContactNo> {
        self.contact_numbers.get(id).copied()
    }

    /// Replays events onto the empty state.
    #[must_use]
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut state = Self::new();
        state.suspend_index();
        for event in events {
            state.apply(event);
        }
        state.resume_index();
        state
    }

    /// Folds one event into the state.
    ///
    /// Cannot fail: events were validated when they were decided. An event that contradicts the
    /// state (an unknown agent, an offer that does not exist) means the log does not belong to
    /// this state or the core has a bug, and it panics loudly rather than guess.
    pub fn apply(&mut self, event: &Event) {
        let at = event.at;
        self.clock = self.clock.max(at);
        self.applied += 1;
        match &event.kind {
            EventKind::AgentLoggedIn(login) => self.on_agent_logged_in(at, login),
            EventKind::AgentReady { agent } => self.on_agent_ready(at, agent),
            EventKind::AgentNotReady { agent, reason } => self.on_agent_not_ready(agent, reason),
            EventKind::AgentLoggedOut { agent } => self.on_agent_logged_out(agent),
            EventKind::ContactCreated(created) => self.on_contact_created(at, created),
            EventKind::ContactStepAdvanced { contact, placement } => {
                self.on_contact_step_advanced(contact, placement);
            }
            EventKind::OfferMade(made) => self.on_offer_made(at, made),
            EventKind::OfferAccepted {
                offer,
                within_service_level,
                ..
            } => self.on_offer_accepted(at, *offer, *within_service_level),
            EventKind::OfferRejected {
                offer,
                reoffer_after,
                ..
            }
            | EventKind::OfferExpired {
                offer,
                reoffer_after,
                ..
            } => self.on_offer_declined(
                at,
                *offer,
                *reoffer_after,
                matches!(event.kind, EventKind::OfferExpired { .. }),
            ),
            EventKind::OfferRevoked { offer, .. } => self.on_offer_revoked(*offer),
            EventKind::ContactAbandoned { contact, .. } => self.on_contact_abandoned(at, contact),
            EventKind::ContactCompleted {
                contact,
                agent,
                outcome,
                first_contact_resolution,
            } => self.on_contact_completed(at, contact, agent, *outcome, *first_contact_resolution),
            EventKind::ContactEscalated {
                contact,
                agent,
                to_tier,
                placement,
                ..
            } => self.on_contact_escalated(at, contact, agent, *to_tier, *placement),
            EventKind::ContactTransferred {
                contact,
                agent,
                service,
                skills,
                placement,
            } => self.on_contact_transferred(at, contact, agent, service, skills, *placement),
            EventKind::ContactRequeued {
                contact,
                agent,
                placement,
                ..
            } => self.on_contact_requeued(at, contact, agent, *placement),
            EventKind::WrapUpStarted { agent, until } => self.on_wrap_up_started(agent, until),
            EventKind::WrapUpEnded { agent } => self.on_wrap_up_ended(at, agent),
            EventKind::ServiceLevelThresholdPassed { contact, .. } => {
                self.on_service_level_threshold_passed(contact);
            }
            EventKind::DueTimeAtRisk { contact, .. } => self.on_due_time_at_risk(contact),
            EventKind::DueTimeBreached { contact, .. } => self.on_due_time_breached(contact),
            EventKind::ContactHeld { contact, until, .. } => self.on_contact_held(contact, *until),
            EventKind::ContactReleased { contact, placement } => {
                self.on_contact_released(at, contact, *placement);
            }
            EventKind::ComplaintStageChanged(changed) => {
                self.on_complaint_stage_changed(at, changed);
            }
            EventKind::DueTimeExtended(extended) => self.on_due_time_extended(at, extended),
            EventKind::PersistentComplainantMarked {
                customer,
                designated,
                reason,
            } => self.on_persistent_complainant_marked(customer, *designated, reason),
            EventKind::ContactUnservable(unservable) => self.on_contact_unservable(unservable),
            EventKind::PersonalDataErasureDeferred(deferred) => {
                if let Some(customer) = &deferred.customer {
                    self.pending_erasures.insert(
                        customer.clone(),
                        (deferred.subject.clone(), deferred.reason),
                    );
                }
            }
            EventKind::PersonalDataErased(erased) => {
                if let Some(customer) = &erased.customer {
                    self.on_personal_data_erased(customer);
                }
            }
        }
        self.forget_finished(at.saturating_sub(FINISHED_RETENTION), FINISHED_KEPT_MAX);
    }

    /// An agent stops taking new work, for a reason.
    fn on_agent_not_ready(&mut self, agent: &AgentId, reason: &Arc<str>) {
        let idx = self.expect_agent(agent);
        self.agents[idx.slot()].presence = Presence::NotReady {
            reason: reason.clone(),
        };
        self.reindex_agent(idx);
    }

    /// A waiting contact reaches a later step of its plan.
    fn on_contact_step_advanced(&mut self, contact: &ContactId, placement: &Placement) {
        let no = self.expect_contact(contact);
        self.contact_mut(no).placement = *placement;
        self.reindex_contact(no);
    }

    /// An agent starts wrap-up.
    fn on_wrap_up_started(&mut self, agent: &AgentId, until: &Timestamp) {
        let idx = self.expect_agent(agent);
        self.agents[idx.slot()].presence = Presence::WrapUp { until: *until };
        self.reindex_agent(idx);
    }

    /// Deferred work is reported at risk of its due time.
    fn on_due_time_at_risk(&mut self, contact: &ContactId) {
        let no = self.expect_contact(contact);
        self.contact_mut(no).due_at_risk = true;
        self.reindex_contact(no);
    }

    /// A waiting contact is recorded as one nobody logged in can serve.
    fn on_contact_unservable(&mut self, unservable: &ContactUnservable) {
        let no = self.expect_contact(&unservable.contact);
        self.contact_mut(no).unservable = true;
    }

    /// An agent logs in: a new agent, or a returning one with their new details.
    fn on_agent_logged_in(&mut self, at: Timestamp, login: &AgentLoggedIn) {
        let site = SiteIdx(self.sites.intern(&login.site));
        let skills = self.skill_levels(login.skills.iter().map(|(skill, level)| (skill, *level)));
        let agent = Agent {
            id: login.agent.clone(),
            name: login.name.clone(),
            tier: login.tier,
            site,
            skills,
            capacity: login.capacity,
            load: PerChannel::splat(0),
            presence: Presence::NotReady {
                reason: "login".into(),
            },
            idle_since: at,
            missed_offers: 0,
            offers: Vec::new(),
            contacts: Vec::new(),
        };
        let idx = match self.agent_numbers.get(&login.agent) {
            Some(&idx) => {
                let old = &self.agents[idx.slot()];
                assert!(
                    old.offers.is_empty() && old.contacts.is_empty(),
                    "agent {} logged in again while holding work",
                    login.agent
                );
                self.agents[idx.slot()] = agent;
                idx
            }
            None => {
                let idx =
                    AgentIdx(u32::try_from(self.agents.len()).expect("fewer than 2^32 agents"));
                self.agents.push(agent);
                self.agent_numbers.insert(login.agent.clone(), idx);
                idx
            }
        };
        self.reindex_agent(idx);
    }

    /// An agent becomes ready; their idle time starts unless work occupies them.
    fn on_agent_ready(&mut self, at: Timestamp, agent: &AgentId) {
        let idx = self.expect_agent(agent);
        let a = &mut self.agents[idx.slot()];
        a.presence = Presence::Ready;
        if !a.is_occupied() {
            a.idle_since = at;
        }
        self.reindex_agent(idx);
    }

    /// An agent logs out, holding no work.
    fn on_agent_logged_out(&mut self, agent: &AgentId) {
        let idx = self.expect_agent(agent);
        let a = &mut self.agents[idx.slot()];
        assert!(
            a.offers.is_empty() && a.contacts.is_empty(),
            "agent {agent} logged out while holding work"
        );
        a.presence = Presence::LoggedOut;
        self.reindex_agent(idx);
    }

    /// A contact arrives and joins its queue.
    fn on_contact_created(&mut self, at: Timestamp, created: &ContactCreated) {
        let d = &created.details;
        assert!(
            !self.contact_numbers.contains_key(&d.id),
            "contact {} created twice",
            d.id
        );
        let no = self.next_contact;
        self.next_contact += 1;
        let service = ServiceIdx(self.services.intern(&d.service));
        let skills = self.skill_levels(d.skills.iter().map(|r| (&r.skill, r.min_level)));
        let language = d.language.as_ref().map(|l| SkillIdx(self.skills.intern(l)));
        let site = d.site.as_ref().map(|s| SiteIdx(self.sites.intern(s)));
        let profile = Arc::new(Profile {
            channel: d.channel,
            service,
            tier: Tier::FIRST,
            safeguarding: d.safeguarding,
            site,
            language,
            skills: skills.into_boxed_slice(),
        });
        let contact = Contact {
            no,
            id: d.id.clone(),
            channel: d.channel,
            service,
            first_service: service,
            priority: d.priority,
            safeguarding: d.safeguarding,
            vulnerable: d.vulnerable,
            customer: d.customer.clone(),
            preferred_agent: d.preferred_agent.clone(),
            due_at: d.due_at,
            complaint_stage: d.complaint_stage,
            acknowledge_by: None,
            extensions: 0,
            attributes: d.attributes.clone(),
            first_arrived_at: created.first_arrived_at,
            queued_at: at,
            order: created.order,
            placement: created.placement,
            profile,
            status: ContactStatus::Queued,
            answered_at: None,
            answer_by: created.answer_by,
            due_warning_at: created.due_warning_at,
            service_level_passed: false,
            due_at_risk: false,
            due_breached: false,
            excluded: Vec::new(),
            escalations: 0,
            transfers: 0,
            unservable: false,
        };
        self.counters
            .entry((d.service.clone(), d.channel))
            .or_default()
            .created += 1;
        self.contact_numbers.insert(d.id.clone(), no);
        self.contacts.insert(no, contact);
        self.reindex_contact(no);
    }

    /// A waiting contact is offered to an agent.
    fn on_offer_made(&mut self, at: Timestamp, made: &OfferMade) {
        let no = self.expect_contact(&made.contact);
        let agent = self.expect_agent(&made.agent);
        let c = self.contact_mut(no);
        assert_eq!(
            c.status,
            ContactStatus::Queued,
            "offered contact {} not queued",
            made.contact
        );
        c.status = ContactStatus::Offered {
            offer: made.offer,
            agent,
        };
        c.unservable = false;
        let a = &mut self.agents[agent.slot()];
        a.load.set(made.channel, a.load.get(made.channel) + 1);
        a.offers.push(made.offer);
        let previous = self.offers.insert(
            made.offer,
            Offer {
                id: made.offer,
                contact: no,
                agent,
                channel: made.channel,
                made_at: at,
                expires_at: made.expires_at,
            },
        );
        assert!(previous.is_none(), "offer {} made twice", made.offer);
        self.next_offer = self.next_offer.max(made.offer.get() + 1);
        if !self.index_suspended {
            self.index.add_offer_timer(made.expires_at, made.offer);
        }
        self.reindex_contact(no);
        self.reindex_agent(agent);
    }

    /// An offer is accepted: the contact is assigned, and counted answered the first time.
    fn on_offer_accepted(&mut self, at: Timestamp, offer: OfferId, within_service_level: bool) {
        let o = self.take_offer(offer);
        let a = &mut self.agents[o.agent.slot()];
        a.missed_offers = 0;
        a.contacts.push(o.contact);
        let c = self.contact_mut(o.contact);
        c.status = ContactStatus::Assigned {
            agent: o.agent,
            since: at,
        };
        if c.answered_at.is_none() {
            c.answered_at = Some(at);
            let key = self.counter_key(o.contact);
            let counters = self.counters.entry(key).or_default();
            counters.answered += 1;
            counters.answered_within_service_level += u64::from(within_service_level);
        }
        self.reindex_contact(o.contact);
        self.reindex_agent(o.agent);
    }

    /// An offer is rejected or expires: the contact waits again, kept from that agent for a while.
    fn on_offer_declined(
        &mut self,
        at: Timestamp,
        offer: OfferId,
        reoffer_after: Timestamp,
        expired: bool,
    ) {
        let o = self.take_offer(offer);
        self.unload(o.agent, o.channel);
        if expired {
            let a = &mut self.agents[o.agent.slot()];
            a.missed_offers = a.missed_offers.saturating_add(1);
        }
        let c = self.contact_mut(o.contact);
        c.status = ContactStatus::Queued;
        c.excluded
            .retain(|e| e.until.is_none_or(|until| at < until));
        c.excluded.push(Exclusion {
            agent: o.agent,
            until: Some(reoffer_after),
        });
        self.reindex_contact(o.contact);
        self.reindex_agent(o.agent);
    }

    /// An offer is withdrawn: the contact waits again.
    fn on_offer_revoked(&mut self, offer: OfferId) {
        let o = self.take_offer(offer);
        self.unload(o.agent, o.channel);
        self.contact_mut(o.contact).status = ContactStatus::Queued;
        self.reindex_contact(o.contact);
        self.reindex_agent(o.agent);
    }

    /// A waiting customer leaves.
    fn on_contact_abandoned(&mut self, at: Timestamp, contact: &ContactId) {
        let no = self.expect_contact(contact);
        assert!(
            matches!(
                self.contacts[&no].status,
                ContactStatus::Queued | ContactStatus::Held { .. }
            ),
            "abandoned contact {contact} not waiting"
        );
        let key = self.counter_key(no);
        self.counters.entry(key).or_default().abandoned += 1;
        self.finish(no, at, Finish::Abandoned);
    }

    /// An agent completes a contact.
    fn on_contact_completed(
        &mut self,
        at: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        outcome: Outcome,
        first_contact_resolution: bool,
    ) {
        let no = self.expect_contact(contact);
        let idx = self.release(no, agent, at);
        let key = self.counter_key(no);
        let counters = self.counters.entry(key).or_default();
        counters.completed += 1;
        counters.resolved_first_contact += u64::from(first_contact_resolution);
        if let Some(customer) = self.contacts[&no].customer.clone() {
            self.last_agent.insert(customer, (agent.clone(), at));
        }
        self.finish(no, at, Finish::Completed(outcome));
        self.reindex_agent(idx);
    }

    /// A contact is escalated: back in the queue for a higher tier, kept from its agent for good.
    fn on_contact_escalated(
        &mut self,
        at: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        to_tier: Tier,
        placement: Placement,
    ) {
        let no = self.expect_contact(contact);
        let idx = self.release(no, agent, at);
        let c = self.contact_mut(no);
        c.escalations = c.escalations.saturating_add(1);
        c.excluded.push(Exclusion {
            agent: idx,
            until: None,
        });
        let mut profile = (*c.profile).clone();
        profile.tier = to_tier;
        self.requeue(no, at, placement, profile);
        self.reindex_agent(idx);
    }

    /// A contact is transferred to another service, with its skills.
    fn on_contact_transferred(
        &mut self,
        at: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        service: &ServiceId,
        skills: &[SkillRequirement],
        placement: Placement,
    ) {
        let no = self.expect_contact(contact);
        let idx = self.release(no, agent, at);
        let service = ServiceIdx(self.services.intern(service));
        let skills = self.skill_levels(skills.iter().map(|r| (&r.skill, r.min_level)));
        let c = self.contact_mut(no);
        c.transfers = c.transfers.saturating_add(1);
        c.service = service;
        let mut profile = (*c.profile).clone();
        profile.service = service;
        profile.skills = skills.into_boxed_slice();
        self.requeue(no, at, placement, profile);
        self.reindex_agent(idx);
    }

    /// A contact goes back to its queue from its agent.
    fn on_contact_requeued(
        &mut self,
        at: Timestamp,
        contact: &ContactId,
        agent: &AgentId,
        placement: Placement,
    ) {
        let no = self.expect_contact(contact);
        let idx = self.release(no, agent, at);
        let profile = (*self.contacts[&no].profile).clone();
        self.requeue(no, at, placement, profile);
        self.reindex_agent(idx);
    }

    /// Wrap-up ends: the agent is ready and idle.
    fn on_wrap_up_ended(&mut self, at: Timestamp, agent: &AgentId) {
        let idx = self.expect_agent(agent);
        let a = &mut self.agents[idx.slot()];
        a.presence = Presence::Ready;
        a.idle_since = at;
        self.reindex_agent(idx);
    }

    /// A live contact passes its answer threshold unanswered.
    fn on_service_level_threshold_passed(&mut self, contact: &ContactId) {
        let no = self.expect_contact(contact);
        self.contact_mut(no).service_level_passed = true;
        let key = self.counter_key(no);
        self.counters.entry(key).or_default().service_level_passed += 1;
        self.reindex_contact(no);
    }

    /// Deferred work passes its due time undone.
    fn on_due_time_breached(&mut self, contact: &ContactId) {
        let no = self.expect_contact(contact);
        self.contact_mut(no).due_breached = true;
        let key = self.counter_key(no);
        self.counters.entry(key).or_default().due_breached += 1;
        self.reindex_contact(no);
    }

    /// A contact waits, unoffered, for its channel to open.
    fn on_contact_held(&mut self, contact: &ContactId, until: Timestamp) {
        let no = self.expect_contact(contact);
        let c = self.contact_mut(no);
        assert!(
            matches!(c.status, ContactStatus::Queued | ContactStatus::Held { .. }),
            "held contact {contact} is {:?}",
            c.status
        );
        let first_hold = c.status == ContactStatus::Queued;
        c.status = ContactStatus::Held { until };
        if first_hold {
            let key = self.counter_key(no);
            self.counters.entry(key).or_default().held += 1;
        }
        self.reindex_contact(no);
    }

    /// A held contact joins its queue at the opening.
    fn on_contact_released(&mut self, at: Timestamp, contact: &ContactId, placement: Placement) {
        let no = self.expect_contact(contact);
        let c = self.contact_mut(no);
        assert!(
            matches!(c.status, ContactStatus::Held { .. }),
            "released contact {contact} was not held"
        );
        c.status = ContactStatus::Queued;
        c.queued_at = at;
        c.placement = placement;
        self.reindex_contact(no);
    }

    /// A complaint reaches a stage; its clock restarts.
    fn on_complaint_stage_changed(&mut self, at: Timestamp, changed: &ComplaintStageChanged) {
        let no = self.expect_contact(&changed.contact);
        // The router now takes a handled complaint off its agent's desk with a
        // `contact_requeued` just before, so it arrives here queued; logs written before
        // that carry the release in this event alone, and still replay through here.
        let released = match (&changed.agent, &self.contacts[&no].status) {
            (Some(agent), ContactStatus::Assigned { .. }) => Some(self.release(no, agent, at)),
            _ => None,
        };
        let c = self.contact_mut(no);
        c.complaint_stage = Some(changed.to);
        c.acknowledge_by = changed.acknowledge_by;
        c.due_at = changed.due_at;
        c.due_warning_at = changed.due_warning_at;
        c.due_at_risk = false;
        c.due_breached = false;
        c.order = changed.order;
        c.placement = changed.placement;
        if let Some(idx) = released {
            let profile = (*self.contacts[&no].profile).clone();
            self.requeue(no, at, changed.placement, profile);
            self.reindex_agent(idx);
        } else {
            self.reindex_contact(no);
        }
    }

    /// A due time moves back.
    fn on_due_time_extended(&mut self, at: Timestamp, extended: &DueTimeExtended) {
        let no = self.expect_contact(&extended.contact);
        let c = self.contact_mut(no);
        c.due_at = Some(extended.due_at);
        c.due_warning_at = extended.due_warning_at;
        // A warning or breach already passed under the new times is not reported again.
        c.due_at_risk &= extended.due_warning_at.is_none_or(|w| w <= at);
        c.due_breached &= extended.due_at <= at;
        c.order = extended.order;
        c.extensions = c.extensions.saturating_add(1);
        self.reindex_contact(no);
    }

    /// A customer is designated a persistent complainant, or the designation is lifted.
    fn on_persistent_complainant_marked(
        &mut self,
        customer: &CustomerId,
        designated: bool,
        reason: &Arc<str>,
    ) {
        if designated {
            self.persistent_complainants
                .insert(customer.clone(), reason.clone());
        } else {
            self.persistent_complainants.remove(customer);
        }
    }

    /// A customer's personal data was erased: the core forgets them. Their finished contacts
    /// stay (an audit record) without the customer; their contacts' sealed values are
    /// unreadable from now on, their key being destroyed.
    fn on_personal_data_erased(&mut self, customer: &CustomerId) {
        self.pending_erasures.remove(customer);
        self.last_agent.remove(customer);
        self.persistent_complainants.remove(customer);
        for finished in &mut self.finished {
            if finished.customer.as_ref() == Some(customer) {
                finished.customer = None;
            }
        }
    }

    /// Interns skills and returns them sorted by skill number, one entry per skill at the
    /// highest level named (decided events never repeat a skill; this keeps `apply` total).
    fn skill_levels<'a>(
        &mut self,
        skills: impl Iterator<Item = (&'a SkillId, Level)>,
    ) -> Vec<(SkillIdx, Level)> {
        let mut levels: Vec<(SkillIdx, Level)> = skills
            .map(|(skill, level)| (SkillIdx(self.skills.intern(skill)), level))
            .collect();
        levels.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        levels.dedup_by_key(|&mut (s, _)| s);
        levels
    }

    fn expect_agent(&self, id: &AgentId) -> AgentIdx {
        self.agent_number(id)
            .unwrap_or_else(|| panic!("event names agent {id}, who never logged in"))
    }

    fn expect_contact(&self, id: &ContactId) -> ContactNo {
        self.contact_number(id)
            .unwrap_or_else(|| panic!("event names contact {id}, which is not live"))
    }

    fn contact_mut(&mut self, no: ContactNo) -> &mut Contact {
        self.contacts
            .get_mut(&no)
            .unwrap_or_else(|| panic!("contact #{no} is not live"))
    }

    fn counter_key(&self, no: ContactNo) -> (ServiceId, Channel) {
        let c = &self.contacts[&no];
        (self.services.name(c.first_service.0).clone(), c.channel)
    }

    fn take_offer(&mut self, offer: OfferId) -> Offer {
        let o = self
            .offers
            .remove(&offer)
            .unwrap_or_else(|| panic!("event names offer {offer}, which is not open"));
        if !self.index_suspended {
            self.index.remove_offer_timer(o.expires_at, offer);
        }
        let a = &mut self.agents[o.agent.slot()];
        let before = a.offers.len();
        a.offers.retain(|&id| id != offer);
        assert_eq!(
            a.offers.len() + 1,
            before,
            "offer {offer} missing from its agent"
        );
        o
    }

    fn unload(&mut self, agent: AgentIdx, channel: Channel) {
        let a = &mut self.agents[agent.slot()];
        let load = a.load.get(channel);
        assert!(load > 0, "agent {} has no {channel} load to release", a.id);
        a.load.set(channel, load - 1);
    }

    /// Takes an assigned contact off its agent; returns the agent's number.
    fn release(&mut self, no: ContactNo, agent: &AgentId, at: Timestamp) -> AgentIdx {
        let idx = self.expect_agent(agent);
        let channel = self.contacts[&no].channel;
        match self.contacts[&no].status {
            ContactStatus::Assigned { agent: holder, .. } if holder == idx => {}
            ref other => panic!("contact #{no} is {other:?}, not assigned to {agent}"),
        }
        self.unload(idx, channel);
        let a = &mut self.agents[idx.slot()];
        a.contacts.retain(|&n| n != no);
        // Idle from when they last let go of occupying work, however many emails they hold
        // (else an agent holding one would stay "longest idle" through call after call), or
        // from when they let go of their last email.
        if (!channel.is_interruptible() && !a.is_occupied()) || a.load_total() == 0 {
            a.idle_since = at;
        }
        idx
    }

    fn requeue(&mut self, no: ContactNo, at: Timestamp, placement: Placement, profile: Profile) {
        let c = self.contact_mut(no);
        c.status = ContactStatus::Queued;
        c.queued_at = at;
        c.placement = placement;
        c.profile = Arc::new(profile);
        c.unservable = false;
        self.reindex_contact(no);
    }

    fn finish(&mut self, no: ContactNo, at: Timestamp, finish: Finish) {
        let c = self
            .contacts
            .remove(&no)
            .unwrap_or_else(|| panic!("contact #{no} finished twice"));
        self.contact_numbers.remove(&c.id);
        if !self.index_suspended {
            self.index.remove_contact(no);
        }
        self.finished_numbers
            .insert(c.id.clone(), self.finished_count);
        self.finished_count += 1;
        self.finished.push_back(FinishedContact {
            id: c.id,
            at,
            finish,
            customer: c.customer,
        });
    }

    /// Forgets the finished contacts that finished before `cutoff`, and the oldest beyond
    /// `kept_max`; with each, its customer's last agent if no later contact set it.
    fn forget_finished(&mut self, cutoff: Timestamp, kept_max: usize) {
        while let Some(oldest) = self.finished.front() {
            if oldest.at >= cutoff && self.finished.len() <= kept_max {
                break;
            }
            let number = self.finished_count - self.finished.len() as u64;
            let oldest = self.finished.pop_front().expect("front exists");
            if self.finished_numbers.get(&oldest.id) == Some(&number) {
                self.finished_numbers.remove(&oldest.id);
            }
            // The last agent is set as a contact completes, at its finishing time: one set no
            // later than this contact's end is this contact's or an older one's.
            if let Some(customer) = &oldest.customer
                && self
                    .last_agent
                    .get(customer)
                    .is_some_and(|&(_, at)| at <= oldest.at)
            {
                self.last_agent.remove(customer);
            }
        }
    }

    /// Brings the index in step with agent `idx`'s canonical state.
    pub(crate) fn reindex_agent(&mut self, idx: AgentIdx) {
        if self.index_suspended {
            return;
        }
        self.index.ensure_skills(self.skills.len());
        let agent = &self.agents[idx.slot()];
        self.index.reindex_agent(idx, agent);
    }

    /// Brings the index in step with contact `no`'s canonical state.
    pub(crate) fn reindex_contact(&mut self, no: ContactNo) {
        if self.index_suspended {
            return;
        }
        self.index.ensure_skills(self.skills.len());
        let contact = &self.contacts[&no];
        self.index.reindex_contact(contact);
    }

    /// Checks the state's invariants; returns the first broken one.
    ///
    /// Checked: every offer is on its agent and its contact and nowhere else; every contact is
    /// offered or assigned to at most one agent; no agent holds more than their capacity on any
    /// channel, nor anything beside exclusive work; loads equal the offers and contacts held;
    /// the index equals one rebuilt from scratch.
    ///
    /// # Errors
    /// A [`BrokenInvariant`] naming the first broken invariant: a bug in the core.
    pub fn check_invariants(&self) -> Result<(), BrokenInvariant> {
        self.first_broken_invariant().map_err(BrokenInvariant)
    }

    /// [`State::check_invariants`], the broken invariant as a sentence.
    fn first_broken_invariant(&self) -> Result<(), String> {
        let mut load: Vec<PerChannel<u8>> = vec![PerChannel::splat(0); self.agents.len()];
        for (id, offer) in &self.offers {
            let c = self
                .contacts
                .get(&offer.contact)
                .ok_or_else(|| format!("offer {id} names a contact that is not live"))?;
            if c.status
                != (ContactStatus::Offered {
                    offer: *id,
                    agent: offer.agent,
                })
            {
                return Err(format!("offer {id}: contact {} is {:?}", c.id, c.status));
            }
            if !self.agents[offer.agent.slot()].offers.contains(id) {
                return Err(format!("offer {id} is missing from its agent"));
            }
            let l = &mut load[offer.agent.slot()];
            l.set(offer.channel, l.get(offer.channel) + 1);
        }
        for c in self.contacts.values() {
            if self.contact_numbers.get(&c.id) != Some(&c.no) {
                return Err(format!("contact {} is not findable by id", c.id));
            }
            match c.status {
                ContactStatus::Queued | ContactStatus::Held { .. } => {}
                ContactStatus::Offered { offer, .. } => {
                    if self.offers.get(&offer).map(|o| o.contact) != Some(c.no) {
                        return Err(format!("contact {} names offer {offer} wrongly", c.id));
                    }
                }
                ContactStatus::Assigned { agent, .. } => {
                    let holders = self
                        .agents
                        .iter()
                        .filter(|a| a.contacts.contains(&c.no))
                        .count();
                    if holders != 1 || !self.agents[agent.slot()].contacts.contains(&c.no) {
                        return Err(format!("contact {} is held by {holders} agents", c.id));
                    }
                    let l = &mut load[agent.slot()];
                    l.set(c.channel, l.get(c.channel) + 1);
                }
            }
        }
        for (i, a) in self.agents.iter().enumerate() {
            if a.load != load[i] {
                return Err(format!(
                    "agent {} load {:?} but holds {:?}",
                    a.id, a.load, load[i]
                ));
            }
            for (channel, n) in a.load.iter() {
                if n > a.capacity.get(channel) {
                    return Err(format!("agent {} holds {n} {channel} over capacity", a.id));
                }
            }
            if a.holds_exclusive_work()
                && a.load_total() > 1 + u32::from(a.load.get(Channel::Email))
            {
                return Err(format!(
                    "agent {} holds exclusive work beside other live work",
                    a.id
                ));
            }
            if a.presence == Presence::LoggedOut && a.load_total() > 0 {
                return Err(format!("agent {} is logged out holding work", a.id));
            }
        }
        if self.contact_numbers.len() != self.contacts.len() {
            return Err("contact id map and contact table differ in size".to_owned());
        }
        if self.index_suspended {
            return Err(
                "the index is suspended (call resume_index after a bulk replay)".to_owned(),
            );
        }
        let mut rebuilt = self.clone();
        rebuilt.rebuild_index();
        if rebuilt.index != self.index {
            return Err(format!(
                "the index drifted from the state:\n incremental {:?}\n rebuilt {:?}",
                self.index, rebuilt.index
            ));
        }
        Ok(())
    }
}

/// A broken invariant of the [`State`], found by [`State::check_invariants`]: a bug in the core,
/// never a consequence of input. Its text names the invariant and what breaks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenInvariant(String);

impl std::fmt::Display for BrokenInvariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BrokenInvariant {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state remembering contacts `c0..c{n}` finished a second apart, each for its own
    /// customer except the last two, who share `shared` (its last agent set by the last one).
    fn finished(n: u64) -> State {
        let mut state = State::new();
        for i in 0..n {
            let customer = if i + 2 >= n {
                CustomerId::from("shared")
            } else {
                CustomerId::from(format!("k{i}"))
            };
            let at = Timestamp::from_millis(1_000 * (i + 1));
            let id = ContactId::from(format!("c{i}"));
            state
                .finished_numbers
                .insert(id.clone(), state.finished_count);
            state.finished_count += 1;
            state.finished.push_back(FinishedContact {
                id,
                at,
                finish: Finish::Abandoned,
                customer: Some(customer.clone()),
            });
            state
                .last_agent
                .insert(customer, (AgentId::from("ann"), at));
        }
        state
    }

    #[test]
    fn the_oldest_finished_contacts_beyond_the_bound_are_forgotten() {
        let mut state = finished(6);
        // Nothing is old enough to be forgotten by time; the bound keeps the newest three.
        state.forget_finished(Timestamp::from_millis(0), 3);
        assert_eq!(state.finished.len(), 3);
        for i in 0..3 {
            assert!(state.finished_contact(&format!("c{i}")).is_none(), "c{i}");
            assert!(state.last_agent_of(&format!("k{i}")).is_none(), "k{i}");
        }
        for i in 3..6 {
            assert!(state.finished_contact(&format!("c{i}")).is_some(), "c{i}");
        }
        assert!(state.last_agent_of("k3").is_some());
        // The shared customer's last agent was set by the newest contact, still remembered.
        assert_eq!(
            state.last_agent_of("shared").map(AgentId::as_str),
            Some("ann")
        );

        state.forget_finished(Timestamp::from_millis(0), 2);
        assert!(state.finished_contact("c3").is_none());
        assert!(state.last_agent_of("k3").is_none());
        // c4 goes, and the shared customer's last agent, set later by c5, stays.
        state.forget_finished(Timestamp::from_millis(0), 1);
        assert!(state.finished_contact("c4").is_none());
        assert!(state.last_agent_of("shared").is_some());
        // By time: what finished before the cutoff goes; c5, at 6 s, is not before 6 s.
        state.forget_finished(Timestamp::from_millis(6_000), usize::MAX);
        assert!(state.finished_contact("c5").is_some());
        assert!(state.last_agent_of("shared").is_some());
        state.forget_finished(Timestamp::from_millis(6_001), usize::MAX);
        assert!(state.finished.is_empty() && state.finished_numbers.is_empty());
        assert!(state.last_agent.is_empty());
    }
}
