//! The driver's handle on the core: decide commands and timeouts into events, apply them, and
//! hand them out in order.
//!
//! Every decision follows *decide, then apply*: a command is checked against the state and turned
//! into events (or refused with a [`Rejection`], changing nothing); each event is applied to the
//! state as it is emitted, so later decisions in the same command see it; then routing runs until
//! no free agent can take any waiting contact it is eligible for.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::command::{AgentLogin, Command, NewContact};
use crate::config::{RoutingConfig, RoutingPlan};
use crate::config_error::ConfigError;
use crate::event::{
    AgentLoggedIn, ComplaintStageChanged, ContactCreated, ContactUnservable, Decision,
    DueTimeExtended, ErasureReason, Event, EventKind, OfferMade, PersonalDataErasure, Placement,
    QueueOrder, RevokeReason, Rule,
};
use crate::hours::{self, OutOfHours};
use crate::ids::{AgentId, ContactId, CustomerId, OfferId, ServiceId, SkillId};
use crate::index::{Profile, Timer};
use crate::model::{
    Channel, ComplaintStage, Level, Outcome, PerChannel, Presence, SkillRequirement, Tier,
};
use crate::reach;
use crate::rejection::{Rejection, RejectionCode};
use crate::routing::{Rules, find_agent, find_contact};
use crate::state::{AgentIdx, Contact, ContactNo, ContactStatus, NAMES_MAX, Names, State};
use crate::time::{Timestamp, millis};

/// How far back a live contact's `received_at` is counted: earlier values count as this long
/// before its arrival (see `create_contact`).
pub const LIVE_EARLIER_ARRIVAL_MAX: Duration = Duration::from_secs(3600);

/// The routing core, driven from outside. See the crate documentation for the order of calls.
#[derive(Debug)]
pub struct Router {
    state: State,
    config: RoutingConfig,
    outbox: VecDeque<Event>,
    /// Contacts to try to route, gathered while applying events; always empty between calls.
    dirty_contacts: Vec<ContactNo>,
    /// Agents to try to give work, gathered while applying events; always empty between calls.
    dirty_agents: Vec<AgentIdx>,
    /// When a contact's cool-down with an agent ends, it is worth trying to route again. Not
    /// part of the state: after a restart, `sweep_pending` covers it.
    cooldowns: BTreeSet<(Timestamp, ContactNo)>,
    /// Try every free agent once at the next call (after a restart or a configuration change).
    sweep_pending: bool,
    /// Check every waiting contact's reach at the end of the next call (an agent logged out, or
    /// the configuration changed): whoever nobody logged in can serve any more is recorded.
    reach_check: bool,
    /// Whether anyone logged in could serve a profile at a plan step or later, as found since
    /// the last login, logout or configuration change (which clear it). Derived; at most
    /// [`REACH_CACHE_MAX`] entries.
    reach: FxHashMap<ReachKey, bool>,
}

/// The most profiles whose reach [`Router`] remembers between logins and logouts.
const REACH_CACHE_MAX: usize = 4096;

/// A profile at a plan step: what one reach check answers for.
type ReachKey = (Arc<Profile>, u8);

/// Waiting contacts that may be unservable, each with whether anyone could serve its group
/// (`None`: to be checked alone), and the group verdicts found on the way.
type ReachCandidates = (Vec<(ContactNo, Option<bool>)>, Vec<(ReachKey, bool)>);

impl Router {
    /// A router with empty state.
    ///
    /// # Errors
    /// The configuration's first problem.
    pub fn new(config: RoutingConfig) -> Result<Self, ConfigError> {
        Self::with_state(config, State::new())
    }

    /// A router over a recovered state (from a snapshot and the log's tail). The first call will
    /// also try every free agent, in case work was left waiting when the process stopped.
    ///
    /// # Errors
    /// The configuration's first problem.
    pub fn with_state(config: RoutingConfig, state: State) -> Result<Self, ConfigError> {
        config.validate()?;
        // Cool-downs still running when the state was saved must wake their contacts as they
        // would have in the router that decided them.
        let clock = state.clock();
        let cooldowns = state
            .contacts()
            .flat_map(|c| {
                c.excluded
                    .iter()
                    .filter_map(move |e| e.until.map(|until| (until, c.no)))
            })
            .filter(|&(until, _)| until > clock)
            .collect();
        Ok(Self {
            state,
            config,
            outbox: VecDeque::new(),
            dirty_contacts: Vec::new(),
            dirty_agents: Vec::new(),
            cooldowns,
            sweep_pending: true,
            reach_check: true,
            reach: FxHashMap::default(),
        })
    }

    /// The current state.
    #[must_use]
    pub const fn state(&self) -> &State {
        &self.state
    }

    /// Gives the state back (e.g. to snapshot it).
    #[must_use]
    pub fn into_state(self) -> State {
        self.state
    }

    /// The configuration in force.
    #[must_use]
    pub const fn config(&self) -> &RoutingConfig {
        &self.config
    }

    /// Replaces the configuration; it applies to decisions from now on.
    ///
    /// # Errors
    /// The configuration's first problem; the old one stays in force.
    pub fn set_config(&mut self, config: RoutingConfig) -> Result<(), ConfigError> {
        config.validate()?;
        self.config = config;
        self.sweep_pending = true;
        self.reach_check = true;
        self.reach.clear();
        Ok(())
    }

    /// The next event decided, oldest first. Drain after every `handle_*` call.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.outbox.pop_front()
    }

    /// Every event decided and not yet polled.
    pub fn drain_events(&mut self) -> std::collections::vec_deque::Drain<'_, Event> {
        self.outbox.drain(..)
    }

    /// When to call [`Router::handle_timeout`] next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let sweep = self.sweep_pending.then_some(self.state.clock());
        [
            self.state.next_deadline(),
            self.cooldowns.first().map(|&(at, _)| at),
            sweep,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Decides a command at `now`; returns how many events it produced (routing included).
    ///
    /// `now` earlier than the latest event is taken as the latest event's time: time in the log
    /// never goes backwards.
    ///
    /// # Errors
    /// A [`Rejection`] when the command does not fit the state. Nothing changes then.
    pub fn handle_command(&mut self, command: Command, now: Timestamp) -> Result<usize, Rejection> {
        let now = now.max(self.state.clock());
        let before = self.outbox.len();
        self.decide(command, now)?;
        self.route(now);
        Ok(self.outbox.len() - before)
    }

    /// Handles every timer due at or before `now`; returns how many events that produced.
    pub fn handle_timeout(&mut self, now: Timestamp) -> usize {
        let now = now.max(self.state.clock());
        let before = self.outbox.len();
        if std::mem::take(&mut self.sweep_pending) {
            self.dirty_agents.extend(
                (0..self.state.agents.len())
                    .map(|i| AgentIdx(u32::try_from(i).unwrap_or(u32::MAX))),
            );
        }
        while let Some(&(at, timer)) = self.state.index.timers.first() {
            if at > now {
                break;
            }
            self.fire(timer, now);
        }
        while let Some(&(at, no)) = self.cooldowns.first() {
            if at > now {
                break;
            }
            self.cooldowns.pop_first();
            self.dirty_contacts.push(no);
        }
        self.route(now);
        self.outbox.len() - before
    }

    fn emit(&mut self, now: Timestamp, kind: EventKind) {
        let erasing = self.erasure_waiting_on(&kind);
        let event = Event { at: now, kind };
        self.state.apply(&event);
        self.note(&event);
        self.outbox.push_back(event);
        // A customer whose erasure waited for their contacts: erased as the last one ends.
        if let Some(customer) = erasing
            && self.state.live_contacts_of(&customer) == 0
            && let Some((subject, reason)) = self.state.pending_erasure(&customer).cloned()
        {
            let erasure = PersonalDataErasure {
                customer: Some(customer),
                subject,
                reason,
                live_contacts: 0,
            };
            self.emit(now, EventKind::PersonalDataErased(Box::new(erasure)));
        }
    }

    /// Remembers what an applied event makes worth routing.
    fn note(&mut self, event: &Event) {
        let agent = |state: &State, id: &AgentId| state.agent_number(id);
        let contact = |state: &State, id: &ContactId| state.contact_number(id);
        match &event.kind {
            EventKind::ContactCreated(created) => {
                self.dirty_contacts
                    .extend(contact(&self.state, &created.details.id));
            }
            EventKind::ContactStepAdvanced { contact: id, .. }
            | EventKind::ContactReleased { contact: id, .. } => {
                self.dirty_contacts.extend(contact(&self.state, id));
            }
            EventKind::ComplaintStageChanged(changed) => {
                if let Some(a) = &changed.agent {
                    self.dirty_contacts
                        .extend(contact(&self.state, &changed.contact));
                    self.dirty_agents.extend(agent(&self.state, a));
                }
            }
            EventKind::AgentReady { agent: id } | EventKind::WrapUpEnded { agent: id } => {
                self.dirty_agents.extend(agent(&self.state, id));
            }
            EventKind::OfferRejected {
                contact: c,
                agent: a,
                reoffer_after,
                ..
            }
            | EventKind::OfferExpired {
                contact: c,
                agent: a,
                reoffer_after,
                ..
            } => {
                if let Some(no) = contact(&self.state, c) {
                    self.dirty_contacts.push(no);
                    self.cooldowns.insert((*reoffer_after, no));
                }
                self.dirty_agents.extend(agent(&self.state, a));
            }
            EventKind::OfferRevoked {
                contact: c,
                agent: a,
                ..
            }
            | EventKind::ContactEscalated {
                contact: c,
                agent: a,
                ..
            }
            | EventKind::ContactTransferred {
                contact: c,
                agent: a,
                ..
            }
            | EventKind::ContactRequeued {
                contact: c,
                agent: a,
                ..
            } => {
                self.dirty_contacts.extend(contact(&self.state, c));
                self.dirty_agents.extend(agent(&self.state, a));
            }
            EventKind::ContactCompleted { agent: a, .. } => {
                self.dirty_agents.extend(agent(&self.state, a));
            }
            // A login again with other skills or another site can leave contacts without
            // anyone, as a logout can.
            EventKind::AgentLoggedIn(_) | EventKind::AgentLoggedOut { .. } => {
                self.reach.clear();
                self.reach_check = true;
            }
            EventKind::AgentNotReady { .. }
            | EventKind::ContactUnservable(_)
            | EventKind::OfferMade(_)
            | EventKind::OfferAccepted { .. }
            | EventKind::ContactAbandoned { .. }
            | EventKind::WrapUpStarted { .. }
            | EventKind::ServiceLevelThresholdPassed { .. }
            | EventKind::DueTimeAtRisk { .. }
            | EventKind::DueTimeBreached { .. }
            | EventKind::ContactHeld { .. }
            | EventKind::DueTimeExtended(_)
            | EventKind::PersistentComplainantMarked { .. }
            | EventKind::PersonalDataErasureDeferred(_)
            | EventKind::PersonalDataErased(_) => {}
        }
    }

    fn agent_idx(&self, id: &AgentId) -> Result<AgentIdx, Rejection> {
        self.state.agent_number(id).ok_or_else(|| {
            Rejection::new(
                RejectionCode::UnknownAgent,
                format!("agent {id} has never logged in"),
            )
        })
    }

    fn logged_in_agent(&self, id: &AgentId) -> Result<AgentIdx, Rejection> {
        let idx = self.agent_idx(id)?;
        if self.state.agent_at(idx).presence == Presence::LoggedOut {
            return Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!("agent {id} is logged out"),
            ));
        }
        Ok(idx)
    }

    fn live_contact(&self, id: &ContactId) -> Result<ContactNo, Rejection> {
        self.state.contact_number(id).ok_or_else(|| {
            let message = match self.state.finished_contact(id) {
                Some(_) => format!("contact {id} has already finished"),
                None => format!("contact {id} is not known"),
            };
            Rejection::new(RejectionCode::UnknownContact, message)
        })
    }

    /// The contact, checked to be assigned to `agent`.
    fn held_contact(
        &self,
        agent: &AgentId,
        id: &ContactId,
    ) -> Result<(AgentIdx, ContactNo), Rejection> {
        let idx = self.agent_idx(agent)?;
        let no = self.live_contact(id)?;
        match self.state.contacts[&no].status {
            ContactStatus::Assigned { agent: holder, .. } if holder == idx => Ok((idx, no)),
            ContactStatus::Assigned { .. } | ContactStatus::Offered { .. }
                if self.state.agents[idx.slot()]
                    .offers
                    .iter()
                    .all(|o| self.state.offers[o].contact != no) =>
            {
                Err(Rejection::new(
                    RejectionCode::NotYourOffer,
                    format!("contact {id} is not with agent {agent}"),
                ))
            }
            ref status => Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!(
                    "contact {id} is {}, not assigned to agent {agent}",
                    status.as_str()
                ),
            )),
        }
    }

    /// The offer, checked to be `agent`'s.
    fn own_offer(&self, agent: &AgentId, offer: OfferId) -> Result<AgentIdx, Rejection> {
        let idx = self.agent_idx(agent)?;
        let o = self.state.offer(offer).ok_or_else(|| {
            Rejection::new(
                RejectionCode::UnknownOffer,
                format!("offer {offer} is not open (answered, expired or withdrawn)"),
            )
        })?;
        if o.agent != idx {
            return Err(Rejection::new(
                RejectionCode::NotYourOffer,
                format!("offer {offer} was made to another agent, not {agent}"),
            ));
        }
        Ok(idx)
    }

    fn decide(&mut self, command: Command, now: Timestamp) -> Result<(), Rejection> {
        match command {
            Command::CreateContact(new) => self.create_contact(*new, now),
            Command::AbandonContact { contact } => self.abandon(contact, now),
            Command::LoginAgent(login) => self.login(*login, now),
            Command::MakeReady { agent } => self.make_ready(agent, now),
            Command::MakeNotReady { agent, reason } => self.make_not_ready(agent, reason, now),
            Command::LogoutAgent { agent, force } => self.logout(&agent, force, now),
            Command::AcceptOffer { agent, offer } => {
                self.own_offer(&agent, offer)?;
                self.accept(offer, false, now);
                Ok(())
            }
            Command::RejectOffer {
                agent,
                offer,
                reason,
            } => self.reject(agent, offer, reason, now),
            Command::CompleteContact {
                agent,
                contact,
                outcome,
            } => self.complete(agent, contact, outcome, now),
            Command::EscalateContact {
                agent,
                contact,
                reason,
                to_tier,
            } => self.escalate(agent, contact, reason, to_tier, now),
            Command::TransferContact {
                agent,
                contact,
                service,
                skills,
            } => self.transfer(agent, contact, service, skills, now),
            Command::ChangeComplaintStage {
                contact,
                agent,
                to,
                reason,
                received_at,
                due_at,
            } => self.change_complaint_stage(
                StageChange {
                    contact,
                    agent,
                    to,
                    reason,
                    received_at,
                    due_at,
                },
                now,
            ),
            Command::ExtendDueTime {
                contact,
                agent,
                working_days,
                reason,
            } => self.extend_due_time(contact, agent, working_days, reason, now),
            Command::MarkPersistentComplainant {
                customer,
                designated,
                reason,
            } => self.mark_persistent_complainant(customer, designated, reason, now),
            Command::ErasePersonalData {
                customer,
                subject,
                reason,
            } => self.erase_personal_data(customer, subject, reason, now),
        }
    }

    /// The customer hangs up or walks away: an open offer is withdrawn first.
    fn abandon(&mut self, contact: ContactId, now: Timestamp) -> Result<(), Rejection> {
        let no = self.live_contact(&contact)?;
        match self.state.contacts[&no].status.clone() {
            ContactStatus::Assigned { agent, .. } => {
                return Err(Rejection::new(
                    RejectionCode::InvalidTransition,
                    format!(
                        "contact {contact} is being handled by agent {}; it is completed, not abandoned",
                        self.state.agent_at(agent).id
                    ),
                ));
            }
            ContactStatus::Offered { offer, agent } => {
                let agent = self.state.agent_at(agent).id.clone();
                self.emit(
                    now,
                    EventKind::OfferRevoked {
                        offer,
                        contact: contact.clone(),
                        agent,
                        reason: RevokeReason::ContactAbandoned,
                    },
                );
            }
            ContactStatus::Queued | ContactStatus::Held { .. } => {}
        }
        let waited = now - self.state.contacts[&no].first_arrived_at;
        self.emit(now, EventKind::ContactAbandoned { contact, waited });
        Ok(())
    }

    /// An agent says ready: from not ready, or ending wrap-up early; already ready changes nothing.
    fn make_ready(&mut self, agent: AgentId, now: Timestamp) -> Result<(), Rejection> {
        let idx = self.logged_in_agent(&agent)?;
        match self.state.agent_at(idx).presence {
            Presence::Ready => {}
            // Ready during wrap-up ends it early: the same event as when its time runs
            // out, so wrap-up time is always `wrap_up_started` to `wrap_up_ended`.
            Presence::WrapUp { .. } => self.emit(now, EventKind::WrapUpEnded { agent }),
            Presence::NotReady { .. } | Presence::LoggedOut => {
                self.emit(now, EventKind::AgentReady { agent });
            }
        }
        Ok(())
    }

    /// An agent goes not ready: their open offers are withdrawn.
    fn make_not_ready(
        &mut self,
        agent: AgentId,
        reason: Arc<str>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let idx = self.logged_in_agent(&agent)?;
        // Time is reported per not-ready reason, so a new reason is a change; the same
        // one again changes nothing and records nothing (a not-ready agent holds no
        // open offers to withdraw).
        if let Presence::NotReady { reason: current } = &self.state.agent_at(idx).presence
            && *current == reason
        {
            return Ok(());
        }
        self.revoke_offers(idx, RevokeReason::AgentNotReady, now);
        self.emit(now, EventKind::AgentNotReady { agent, reason });
        Ok(())
    }

    /// An agent rejects their offer: the contact waits again, kept from them for the cool-down.
    fn reject(
        &mut self,
        agent: AgentId,
        offer: OfferId,
        reason: Option<Arc<str>>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        self.own_offer(&agent, offer)?;
        let contact = self.offer_contact_id(offer);
        self.emit(
            now,
            EventKind::OfferRejected {
                offer,
                contact,
                agent,
                reason,
                reoffer_after: now + self.config.reoffer_cooldown,
            },
        );
        Ok(())
    }

    /// An agent completes the contact they hold, then wraps up.
    fn complete(
        &mut self,
        agent: AgentId,
        contact: ContactId,
        outcome: Outcome,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let (idx, no) = self.held_contact(&agent, &contact)?;
        let c = &self.state.contacts[&no];
        let first_contact_resolution =
            outcome == Outcome::Resolved && c.escalations == 0 && c.transfers == 0;
        let channel = c.channel;
        self.emit(
            now,
            EventKind::ContactCompleted {
                contact,
                agent,
                outcome,
                first_contact_resolution,
            },
        );
        self.start_wrap_up(idx, channel, now);
        Ok(())
    }

    /// An agent escalates the contact they hold to a higher tier (the next one by default).
    fn escalate(
        &mut self,
        agent: AgentId,
        contact: ContactId,
        reason: Arc<str>,
        to_tier: Option<Tier>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let (idx, no) = self.held_contact(&agent, &contact)?;
        let c = &self.state.contacts[&no];
        let current = c.profile.tier;
        let agent_tier = self.state.agent_at(idx).tier;
        let to_tier = match to_tier {
            Some(tier) if tier > current => tier,
            Some(tier) => {
                return Err(Rejection::new(
                    RejectionCode::InvalidTransition,
                    format!(
                        "contact {contact} is at {current}; it can only be escalated above it, not to {tier}"
                    ),
                ));
            }
            None => current.max(agent_tier).next().ok_or_else(|| {
                Rejection::new(
                    RejectionCode::InvalidTransition,
                    format!(
                        "contact {contact} is with {agent_tier}, the top tier; transfer it instead"
                    ),
                )
            })?,
        };
        let channel = c.channel;
        let placement = self.placement(
            self.state.service_name(c.service),
            channel,
            now,
            now,
            c.preferred_agent.is_some(),
        );
        self.emit(
            now,
            EventKind::ContactEscalated {
                contact,
                agent,
                to_tier,
                reason,
                placement,
            },
        );
        self.start_wrap_up(idx, channel, now);
        Ok(())
    }

    /// An agent transfers the contact they hold to another service.
    fn transfer(
        &mut self,
        agent: AgentId,
        contact: ContactId,
        service: ServiceId,
        skills: Vec<SkillRequirement>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let (idx, no) = self.held_contact(&agent, &contact)?;
        let c = &self.state.contacts[&no];
        let channel = c.channel;
        let mut skills = skills;
        if c.complaint_stage.is_some() {
            // The transfer replaces the contact's skills, so a complaint must get the
            // complaint policy's again or it could go to anyone. Whether it is a persistent
            // complainant's was judged when it was received (a designation made or lifted
            // later governs the customer's new complaints), and that judgement is in the
            // skills it requires now.
            let persistent =
                self.requires_skill(&c.profile, &self.config.complaints.designated_officer_skill);
            self.add_complaint_skills(&mut skills, persistent);
        }
        let skills = self.resolve_skills(&service, skills, c.safeguarding);
        self.room_for_names(
            &[service.as_str()],
            skills.iter().map(|s| s.skill.as_str()),
            None,
        )?;
        let placement = self.placement(&service, channel, now, now, c.preferred_agent.is_some());
        self.emit(
            now,
            EventKind::ContactTransferred {
                contact,
                agent,
                service,
                skills,
                placement,
            },
        );
        self.start_wrap_up(idx, channel, now);
        Ok(())
    }

    /// A customer is designated a persistent complainant, or the designation is lifted.
    fn mark_persistent_complainant(
        &mut self,
        customer: CustomerId,
        designated: bool,
        reason: Arc<str>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        if customer.trim().is_empty() {
            return Err(Rejection::new(
                RejectionCode::InvalidCommand,
                "a persistent-complainant designation needs the customer's reference",
            ));
        }
        require_reason(&reason, "designating or lifting a persistent complainant")?;
        self.emit(
            now,
            EventKind::PersistentComplainantMarked {
                customer,
                designated,
                reason,
            },
        );
        Ok(())
    }

    /// Erases a customer's personal data now, or records that it waits for the contacts they
    /// have in progress (then [`Router::emit`] erases it as the last one ends). Asked again
    /// while it waits: nothing more to record.
    fn erase_personal_data(
        &mut self,
        customer: Option<CustomerId>,
        subject: Arc<str>,
        reason: ErasureReason,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        if subject.trim().is_empty() {
            return Err(Rejection::new(
                RejectionCode::InvalidCommand,
                "an erasure needs the customer's pseudonym",
            ));
        }
        let live_contacts = customer
            .as_deref()
            .map_or(0, |customer| self.state.live_contacts_of(customer));
        let waiting = customer
            .as_deref()
            .is_some_and(|customer| self.state.pending_erasure(customer).is_some());
        let erasure = Box::new(PersonalDataErasure {
            customer,
            subject,
            reason,
            live_contacts,
        });
        if live_contacts == 0 {
            self.emit(now, EventKind::PersonalDataErased(erasure));
        } else if !waiting {
            self.emit(now, EventKind::PersonalDataErasureDeferred(erasure));
        }
        Ok(())
    }

    /// The customer of the contact `kind` ends, if their erasure waits for it.
    fn erasure_waiting_on(&self, kind: &EventKind) -> Option<CustomerId> {
        if !self.state.has_pending_erasures() {
            return None;
        }
        let (EventKind::ContactAbandoned { contact, .. }
        | EventKind::ContactCompleted { contact, .. }) = kind
        else {
            return None;
        };
        let customer = self.state.contact(contact)?.customer.clone()?;
        self.state
            .pending_erasure(&customer)
            .is_some()
            .then_some(customer)
    }

    fn offer_contact_id(&self, offer: OfferId) -> ContactId {
        let no = self.state.offers[&offer].contact;
        self.state.contacts[&no].id.clone()
    }

    /// The skills a contact needs: those given, else its service's own skill; plus the
    /// safeguarding skill for a safeguarding concern.
    fn resolve_skills(
        &self,
        service: &ServiceId,
        mut skills: Vec<SkillRequirement>,
        safeguarding: bool,
    ) -> Vec<SkillRequirement> {
        if skills.is_empty() {
            skills.push(SkillRequirement {
                skill: service.as_str().into(),
                min_level: Level::MIN,
            });
        }
        if safeguarding
            && !skills
                .iter()
                .any(|r| r.skill == self.config.safeguarding_skill)
        {
            skills.push(SkillRequirement {
                skill: self.config.safeguarding_skill.clone(),
                min_level: Level::MIN,
            });
        }
        skills.sort();
        skills.dedup_by(|later, earlier| {
            // Keep one requirement per skill, at the highest level asked for.
            if later.skill == earlier.skill {
                earlier.min_level = earlier.min_level.max(later.min_level);
                true
            } else {
                false
            }
        });
        skills
    }

    /// Refuses a command that would take the state past [`NAMES_MAX`] distinct services, skills
    /// (languages included) or sites: names are kept for good, one entry and one set of counters
    /// each, so this bounds what an integration sending references where names belong can grow.
    fn room_for_names<'a>(
        &self,
        services: &[&str],
        skills: impl IntoIterator<Item = &'a str>,
        sites: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Rejection> {
        fn check<'a, T: std::hash::Hash + Eq + Clone + std::borrow::Borrow<str>>(
            what: &str,
            table: &Names<T>,
            names: impl IntoIterator<Item = &'a str>,
        ) -> Result<(), Rejection> {
            let mut new: Vec<&str> = names
                .into_iter()
                .filter(|name| table.number(name).is_none())
                .collect();
            new.sort_unstable();
            new.dedup();
            match new.first() {
                Some(first) if table.len() + new.len() > NAMES_MAX => Err(Rejection::new(
                    RejectionCode::InvalidCommand,
                    format!(
                        "{what} `{first}` is new, and the engine already knows {} {what}s, \
                         the most it keeps is {NAMES_MAX}: {what}s are a catalogue (council_tax, \
                         housing...), not references",
                        table.len()
                    ),
                )),
                _ => Ok(()),
            }
        }
        check("service", &self.state.services, services.iter().copied())?;
        check("skill", &self.state.skills, skills)?;
        check("site", &self.state.sites, sites)
    }

    /// Adds the complaint policy's skills to a complaint's: complaints go to customer relations
    /// (beside any skills named), and a persistent complainant's only to the designated officers.
    /// Creation and transfer both call this, so a transferred complaint needs what a new one does.
    fn add_complaint_skills(&self, skills: &mut Vec<SkillRequirement>, persistent: bool) {
        let policy = &self.config.complaints;
        skills.push(SkillRequirement {
            skill: policy.skill.clone(),
            min_level: Level::MIN,
        });
        if persistent {
            skills.push(SkillRequirement {
                skill: policy.designated_officer_skill.clone(),
                min_level: Level::MIN,
            });
        }
    }

    /// Whether a contact's profile requires `skill` (at any level).
    fn requires_skill(&self, profile: &Profile, skill: &SkillId) -> bool {
        self.state
            .skill_number(skill.as_str())
            .is_some_and(|wanted| profile.skills.iter().any(|&(held, _)| held == wanted))
    }

    /// Where a contact joining a queue at `queued_at` stands in its plan at `now`.
    ///
    /// It is at the last step whose wait it has served, skipping preferred-agent-only steps when
    /// it has no preferred agent; if it has served none, at the first step it may use.
    fn placement(
        &self,
        service: &ServiceId,
        channel: Channel,
        queued_at: Timestamp,
        now: Timestamp,
        has_preferred: bool,
    ) -> Placement {
        plan_placement(
            self.config.plan_for(service, channel),
            queued_at,
            now,
            has_preferred,
        )
    }

    /// A new contact: checked, its requirements and clocks settled, then recorded as created
    /// (with its complaint stage and its hold out of hours, when it has them).
    fn create_contact(&mut self, mut new: NewContact, now: Timestamp) -> Result<(), Rejection> {
        self.check_new_contact(&new)?;
        let hold = self.out_of_hours(&mut new, now)?;
        self.settle_requirements(&mut new)?;
        let first_arrived_at = first_arrival(&new, now);
        // Clocks in elapsed time start when the contact can first be worked on.
        let clock_start = hold.as_ref().map_or(first_arrived_at, |h| h.until);
        let complaint = self.set_due_time(&mut new, first_arrived_at, clock_start);
        let id = new.id.clone();
        let stage = new.complaint_stage;
        let created = self.contact_created(new, first_arrived_at, clock_start, now);
        self.emit(now, EventKind::ContactCreated(Box::new(created)));
        if let Some(to) = stage {
            let c = &self.state.contacts[&self.expect_live(&id)];
            let received = ComplaintStageChanged {
                contact: id.clone(),
                from: None,
                to,
                reason: Arc::from("received"),
                agent: None,
                received_at: first_arrived_at,
                acknowledge_by: complaint.map(|(acknowledge_by, _)| acknowledge_by),
                due_at: c.due_at,
                due_warning_at: c.due_warning_at,
                order: c.order,
                placement: c.placement,
            };
            self.emit(now, EventKind::ComplaintStageChanged(Box::new(received)));
        }
        if let Some(hold) = hold {
            let held = EventKind::ContactHeld {
                contact: id,
                until: hold.until,
                calendar: hold.calendar,
            };
            self.emit(now, held);
        }
        Ok(())
    }

    /// Refuses a contact whose id is taken (live or finished), and a face-to-face contact
    /// without the site where the customer is.
    fn check_new_contact(&self, new: &NewContact) -> Result<(), Rejection> {
        if self.state.contact_number(&new.id).is_some()
            || self.state.finished_contact(&new.id).is_some()
        {
            return Err(Rejection::new(
                RejectionCode::DuplicateContact,
                format!("contact {} already exists", new.id),
            ));
        }
        if new.channel == Channel::FaceToFace && new.site.is_none() {
            return Err(Rejection::new(
                RejectionCode::InvalidCommand,
                format!(
                    "face-to-face contact {} needs the site where the customer is",
                    new.id
                ),
            ));
        }
        Ok(())
    }

    /// Settles who may take the contact: the complaint team's skills for a complaint, the
    /// service's own skill and safeguarding, room for any new names, and the customer's last
    /// agent as the preferred one when the contact names none.
    fn settle_requirements(&self, new: &mut NewContact) -> Result<(), Rejection> {
        if new.complaint_stage.is_some() {
            let persistent = new
                .customer
                .as_ref()
                .is_some_and(|customer| self.state.persistent_complainant(customer).is_some());
            self.add_complaint_skills(&mut new.skills, persistent);
        }
        new.skills = self.resolve_skills(
            &new.service,
            std::mem::take(&mut new.skills),
            new.safeguarding,
        );
        self.room_for_names(
            &[new.service.as_str()],
            new.skills
                .iter()
                .map(|s| s.skill.as_str())
                .chain(new.language.as_ref().map(|l| l.as_str())),
            new.site.as_ref().map(|s| s.as_str()),
        )?;
        if new.preferred_agent.is_none()
            && let Some(customer) = &new.customer
        {
            new.preferred_agent = self.state.last_agent_of(customer.as_str()).cloned();
        }
        Ok(())
    }

    /// Sets the contact's due time when it has none: a complaint's from its stage's clock, other
    /// deferred work's from its channel's policy (working days, or elapsed time from
    /// `clock_start`). Returns the complaint clock (acknowledge-by, due), if it ran.
    fn set_due_time(
        &self,
        new: &mut NewContact,
        first_arrived_at: Timestamp,
        clock_start: Timestamp,
    ) -> Option<(Timestamp, Option<Timestamp>)> {
        let complaint = match new.complaint_stage {
            Some(stage) if new.due_at.is_none() => self.complaint_clock(stage, first_arrived_at),
            _ => None,
        };
        if let Some((_, due)) = complaint {
            new.due_at = due;
        }
        if !new.channel.is_live() && new.due_at.is_none() {
            let policy = self.config.channels.get(new.channel);
            new.due_at = match policy.due_working_days {
                Some(days) => {
                    hours::add_working_days(&self.config.business_calendar, first_arrived_at, days)
                }
                None => policy.due_after.map(|after| clock_start + after),
            };
        }
        complaint
    }

    /// The `ContactCreated` record of a checked contact: its place in the queue, its plan step,
    /// and its answer-by and due-warning instants.
    fn contact_created(
        &self,
        new: NewContact,
        first_arrived_at: Timestamp,
        clock_start: Timestamp,
        now: Timestamp,
    ) -> ContactCreated {
        let order = self.queue_order(
            new.channel,
            new.safeguarding,
            new.priority,
            new.vulnerable,
            first_arrived_at,
            new.due_at,
        );
        let placement = self.placement(
            &new.service,
            new.channel,
            clock_start.max(now),
            now,
            new.preferred_agent.is_some(),
        );
        let answer_by = new
            .channel
            .is_live()
            .then(|| clock_start + self.config.answer_within(&new.service, new.channel));
        let due_warning_at = new
            .due_at
            .map(|due| self.due_warning_at(clock_start, due, new.complaint_stage.is_some()));
        ContactCreated {
            details: new,
            first_arrived_at,
            order,
            placement,
            answer_by,
            due_warning_at,
        }
    }

    /// Applies the out-of-hours treatment to a contact arriving at `now`: refuses it, turns it
    /// into a callback request, or says until when to hold it. `None`: it may queue at once.
    fn out_of_hours(
        &self,
        new: &mut NewContact,
        now: Timestamp,
    ) -> Result<Option<Hold>, Rejection> {
        let Some(rule) = self.config.opening_for(new.site.as_ref(), new.channel) else {
            return Ok(None);
        };
        if hours::is_open(&rule.calendar, now) {
            return Ok(None);
        }
        let opens_at = hours::next_open(&rule.calendar, now);
        let treatment = match rule.out_of_hours {
            Some(OutOfHours::Callback) if new.channel == Channel::Callback => OutOfHours::Hold,
            Some(treatment) => treatment,
            None if new.channel.is_live() => OutOfHours::Refuse,
            None => OutOfHours::Hold,
        };
        let Some(until) = opens_at else {
            return Err(Rejection::closed(
                format!(
                    "{} is closed (calendar {}) and does not open within a year",
                    new.channel, rule.calendar_name
                ),
                None,
            ));
        };
        match treatment {
            OutOfHours::Refuse => Err(Rejection::closed(
                format!(
                    "{} is closed (calendar {}); it opens at {until}",
                    new.channel, rule.calendar_name
                ),
                Some(until),
            )),
            OutOfHours::Hold => Ok(Some(Hold {
                until,
                calendar: rule.calendar_name.clone(),
            })),
            OutOfHours::Callback => {
                new.attributes
                    .push((Arc::from("requested_on"), Arc::from(new.channel.as_str())));
                new.channel = Channel::Callback;
                // A callback is a call to the customer: never made while its channel is closed.
                let rule = self
                    .config
                    .opening_for(new.site.as_ref(), Channel::Callback)
                    .unwrap_or(rule);
                Ok(hours::next_open(&rule.calendar, now)
                    .filter(|&opens| opens > now)
                    .map(|until| Hold {
                        until,
                        calendar: rule.calendar_name.clone(),
                    }))
            }
        }
    }

    /// A complaint's acknowledgement and response due times at `stage`, for one received at
    /// `received` (none for the Ombudsman stage, whose deadlines the Ombudsman sets).
    fn complaint_clock(
        &self,
        stage: ComplaintStage,
        received: Timestamp,
    ) -> Option<(Timestamp, Option<Timestamp>)> {
        let stage = match stage {
            ComplaintStage::Stage1 => switchboard_calendar::ComplaintStage::Stage1,
            ComplaintStage::Stage2 => switchboard_calendar::ComplaintStage::Stage2,
            ComplaintStage::Ombudsman => return None,
        };
        let times = self.config.complaints.rules.due_times(
            &self.config.business_calendar,
            stage,
            hours::to_calendar_time(received),
            None,
        )?;
        Some((
            hours::from_calendar_time(times.acknowledge_by),
            Some(hours::from_calendar_time(times.respond_by)),
        ))
    }

    /// The queue order of a contact (a vulnerable customer's priority boosted): see
    /// [`QueueOrder`].
    fn queue_order(
        &self,
        channel: Channel,
        safeguarding: bool,
        priority: crate::model::Priority,
        vulnerable: bool,
        first_arrived_at: Timestamp,
        due_at: Option<Timestamp>,
    ) -> QueueOrder {
        let boost = if vulnerable {
            self.config.vulnerable_priority_boost
        } else {
            0
        };
        let priority = priority.boosted(boost);
        let live = channel.is_live();
        let rank = if live {
            let arrived = i64::try_from(first_arrived_at.as_millis()).unwrap_or(i64::MAX);
            let step = i64::try_from(millis(self.config.priority_step)).unwrap_or(i64::MAX);
            arrived.saturating_sub(step.saturating_mul(i64::from(priority.get())))
        } else {
            let due = due_at.map_or(u64::MAX, Timestamp::as_millis);
            i64::try_from(due).unwrap_or(i64::MAX)
        };
        QueueOrder {
            safeguarding,
            live,
            rank,
        }
    }

    /// When work given from `start` until `due` is reported at risk: the configured warning
    /// before the due time (the complaint warning for complaints), but never in the first half of
    /// the time allowed, so a callback due in 4 hours is not at risk the moment it arrives.
    fn due_warning_at(&self, start: Timestamp, due: Timestamp, complaint: bool) -> Timestamp {
        let warning = if complaint {
            self.config.complaints.warning
        } else {
            self.config.due_warning
        };
        let halfway = start + (due - start) / 2;
        warning
            .at_risk_from(&self.config.business_calendar, due)
            .max(halfway)
    }

    fn expect_live(&self, id: &ContactId) -> ContactNo {
        self.state
            .contact_number(id)
            .expect("a contact just created is live")
    }

    /// A complaint moved on a stage: checked (see [`Router::check_stage_change`]), its clocks
    /// restarted, and, when an agent was handling it, requeued from their desk and their wrap-up
    /// started.
    fn change_complaint_stage(
        &mut self,
        change: StageChange,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let no = self.live_contact(&change.contact)?;
        if let Some(agent) = &change.agent {
            self.agent_idx(agent)?;
        }
        let (from, handling) = self.check_stage_change(&change, no)?;
        let c = &self.state.contacts[&no];
        let received_at = change.received_at.map_or(now, |at| at.min(now));
        let clock = self.complaint_clock(change.to, received_at);
        let due_at = change.due_at.or(clock.and_then(|(_, due)| due));
        let order = self.queue_order(
            c.channel,
            c.safeguarding,
            c.priority,
            c.vulnerable,
            c.first_arrived_at,
            due_at,
        );
        let placement = if handling.is_some() {
            self.placement(
                self.state.service_name(c.service),
                c.channel,
                now,
                now,
                c.preferred_agent.is_some(),
            )
        } else {
            c.placement
        };
        let channel = c.channel;
        let due_warning_at = due_at.map(|due| self.due_warning_at(received_at, due, true));
        if let Some(idx) = handling {
            // It leaves its agent's desk as work in hand does on logout, recorded as such, so
            // the reply, the desktop and reporting see it back in the queue whatever the
            // channel; the stage change then finds it waiting and keeps its new place.
            let agent = self.state.agent_at(idx).id.clone();
            self.emit(
                now,
                EventKind::ContactRequeued {
                    contact: change.contact.clone(),
                    agent,
                    reason: Arc::from(COMPLAINT_MOVED_ON),
                    placement,
                },
            );
        }
        self.emit(
            now,
            EventKind::ComplaintStageChanged(Box::new(ComplaintStageChanged {
                contact: change.contact,
                from: Some(from),
                to: change.to,
                reason: change.reason,
                agent: change.agent,
                received_at,
                acknowledge_by: clock.map(|(acknowledge_by, _)| acknowledge_by),
                due_at,
                due_warning_at,
                order,
                placement,
            })),
        );
        if let Some(idx) = handling {
            self.start_wrap_up(idx, channel, now);
        }
        Ok(())
    }

    /// The stage a complaint moves on from, and the agent handling it (who must be the one
    /// moving it on). Refused: a contact that is no complaint, a stage that does not move on, no
    /// reason, a complaint being offered, or one handled by another agent.
    fn check_stage_change(
        &self,
        change: &StageChange,
        no: ContactNo,
    ) -> Result<(ComplaintStage, Option<AgentIdx>), Rejection> {
        let c = &self.state.contacts[&no];
        let Some(from) = c.complaint_stage else {
            return Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!(
                    "contact {} is not a complaint; raise a complaint with its complaint stage set",
                    change.contact
                ),
            ));
        };
        if change.to <= from {
            return Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!(
                    "complaint {} is at {}; a stage only moves on, not to {}",
                    change.contact,
                    from.as_str(),
                    change.to.as_str()
                ),
            ));
        }
        require_reason(&change.reason, "moving a complaint to another stage")?;
        let handling = match &c.status {
            ContactStatus::Offered { agent, .. } => {
                return Err(Rejection::new(
                    RejectionCode::InvalidTransition,
                    format!(
                        "complaint {} is being offered to agent {}; change its stage once the offer is answered",
                        change.contact,
                        self.state.agent_at(*agent).id
                    ),
                ));
            }
            ContactStatus::Assigned { agent, .. } => {
                let holder = *agent;
                if change.agent.as_ref() != Some(&self.state.agent_at(holder).id) {
                    return Err(Rejection::new(
                        RejectionCode::NotYourOffer,
                        format!(
                            "complaint {} is being handled by agent {}; they move it on",
                            change.contact,
                            self.state.agent_at(holder).id
                        ),
                    ));
                }
                Some(holder)
            }
            ContactStatus::Queued | ContactStatus::Held { .. } => None,
        };
        Ok((from, handling))
    }

    fn extend_due_time(
        &mut self,
        contact: ContactId,
        agent: Option<AgentId>,
        working_days: u32,
        reason: Arc<str>,
        now: Timestamp,
    ) -> Result<(), Rejection> {
        let no = self.live_contact(&contact)?;
        if let Some(agent) = &agent {
            self.agent_idx(agent)?;
        }
        let c = &self.state.contacts[&no];
        let Some(previous_due_at) = c.due_at else {
            return Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!("contact {contact} has no due time to extend"),
            ));
        };
        let extension = switchboard_calendar::Extension::new(working_days, reason.as_ref())
            .map_err(|e| Rejection::new(RejectionCode::InvalidCommand, e.to_string()))?;
        let due_at = extension
            .apply(
                &self.config.business_calendar,
                hours::to_calendar_time(previous_due_at),
            )
            .map(hours::from_calendar_time)
            .ok_or_else(|| {
                Rejection::new(
                    RejectionCode::InvalidCommand,
                    format!(
                        "{working_days} working days after {previous_due_at} is beyond the calendar's reach"
                    ),
                )
            })?;
        let order = self.queue_order(
            c.channel,
            c.safeguarding,
            c.priority,
            c.vulnerable,
            c.first_arrived_at,
            Some(due_at),
        );
        let due_warning_at = Some(self.due_warning_at(now, due_at, c.complaint_stage.is_some()));
        self.emit(
            now,
            EventKind::DueTimeExtended(Box::new(DueTimeExtended {
                contact,
                agent,
                previous_due_at,
                due_at,
                working_days,
                reason,
                due_warning_at,
                order,
            })),
        );
        Ok(())
    }

    fn login(&mut self, login: AgentLogin, now: Timestamp) -> Result<(), Rejection> {
        if let Some(idx) = self.state.agent_number(&login.agent) {
            let agent = self.state.agent_at(idx);
            if !agent.offers.is_empty() || !agent.contacts.is_empty() {
                return Err(Rejection::new(
                    RejectionCode::InvalidTransition,
                    format!(
                        "agent {} is logged in and holding work; finish it before logging in again",
                        login.agent
                    ),
                ));
            }
        }
        self.room_for_names(
            &[],
            login.skills.iter().map(|(skill, _)| skill.as_str()),
            Some(login.site.as_str()),
        )?;
        let mut skills = login.skills;
        skills.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        skills.dedup_by(|later, earlier| later.0 == earlier.0);
        let capacity = login.channels.unwrap_or_else(|| {
            PerChannel(Channel::ALL.map(|c| self.config.channels.get(c).default_capacity))
        });
        self.emit(
            now,
            EventKind::AgentLoggedIn(Box::new(AgentLoggedIn {
                agent: login.agent,
                name: login.name,
                tier: login.tier,
                site: login.site,
                skills,
                capacity,
            })),
        );
        Ok(())
    }

    fn logout(&mut self, agent: &AgentId, force: bool, now: Timestamp) -> Result<(), Rejection> {
        let idx = self.logged_in_agent(agent)?;
        let held: Vec<ContactNo> = self.state.agent_at(idx).contacts.clone();
        let live: Vec<&str> = held
            .iter()
            .map(|no| &self.state.contacts[no])
            .filter(|c| c.channel.is_live())
            .map(|c| c.id.as_str())
            .collect();
        if !force && !live.is_empty() {
            return Err(Rejection::new(
                RejectionCode::InvalidTransition,
                format!(
                    "agent {agent} is handling live contacts ({}); complete or transfer them, or force the logout",
                    live.join(", ")
                ),
            ));
        }
        self.revoke_offers(idx, RevokeReason::AgentLoggedOut, now);
        for no in held {
            let c = &self.state.contacts[&no];
            let placement = self.placement(
                self.state.service_name(c.service),
                c.channel,
                now,
                now,
                c.preferred_agent.is_some(),
            );
            let contact = c.id.clone();
            self.emit(
                now,
                EventKind::ContactRequeued {
                    contact,
                    agent: agent.clone(),
                    reason: "agent_logged_out".into(),
                    placement,
                },
            );
        }
        self.emit(
            now,
            EventKind::AgentLoggedOut {
                agent: agent.clone(),
            },
        );
        Ok(())
    }

    fn revoke_offers(&mut self, idx: AgentIdx, reason: RevokeReason, now: Timestamp) {
        let offers = self.state.agent_at(idx).offers.clone();
        let agent = self.state.agent_at(idx).id.clone();
        for offer in offers {
            let contact = self.offer_contact_id(offer);
            self.emit(
                now,
                EventKind::OfferRevoked {
                    offer,
                    contact,
                    agent: agent.clone(),
                    reason,
                },
            );
        }
    }

    fn accept(&mut self, offer: OfferId, automatic: bool, now: Timestamp) {
        let o = &self.state.offers[&offer];
        let c = &self.state.contacts[&o.contact];
        let waited = now - c.first_arrived_at;
        let within_service_level = if c.channel.is_live() {
            c.answer_by.is_none_or(|by| now <= by)
        } else {
            c.due_at.is_none_or(|due| now <= due)
        };
        let kind = EventKind::OfferAccepted {
            offer,
            contact: c.id.clone(),
            agent: self.state.agent_at(o.agent).id.clone(),
            automatic,
            waited,
            within_service_level,
        };
        self.emit(now, kind);
    }

    /// Wrap-up after an agent lets go of a contact: only if they are ready, hold no other
    /// occupying work (emails they hold wait through it), and the channel has wrap-up time.
    fn start_wrap_up(&mut self, idx: AgentIdx, channel: Channel, now: Timestamp) {
        let wrap_up = self.config.channels.get(channel).wrap_up;
        let agent = self.state.agent_at(idx);
        if !wrap_up.is_zero() && agent.presence == Presence::Ready && !agent.is_occupied() {
            let agent = agent.id.clone();
            self.emit(
                now,
                EventKind::WrapUpStarted {
                    agent,
                    until: now + wrap_up,
                },
            );
        }
    }

    fn fire(&mut self, timer: Timer, now: Timestamp) {
        match timer {
            Timer::OfferExpiry(offer) => {
                let o = &self.state.offers[&offer];
                let idx = o.agent;
                let agent = self.state.agent_at(idx).id.clone();
                let contact = self.offer_contact_id(offer);
                self.emit(
                    now,
                    EventKind::OfferExpired {
                        offer,
                        contact,
                        agent: agent.clone(),
                        reoffer_after: now + self.config.reoffer_cooldown,
                    },
                );
                let a = self.state.agent_at(idx);
                if a.missed_offers >= self.config.missed_offers_limit
                    && a.presence == Presence::Ready
                {
                    self.revoke_offers(idx, RevokeReason::AgentNotReady, now);
                    self.emit(
                        now,
                        EventKind::AgentNotReady {
                            agent,
                            reason: Arc::from("missed_offers"),
                        },
                    );
                }
            }
            Timer::WrapUpEnd(idx) => {
                let agent = self.state.agent_at(idx).id.clone();
                self.emit(now, EventKind::WrapUpEnded { agent });
            }
            Timer::StepAdvance(no) => {
                let c = &self.state.contacts[&no];
                let plan = self
                    .config
                    .plan_for(self.state.service_name(c.service), c.channel);
                let placement = plan_placement(plan, c.queued_at, now, c.preferred_agent.is_some());
                let contact = c.id.clone();
                self.emit(now, EventKind::ContactStepAdvanced { contact, placement });
            }
            Timer::AnswerBy(no) => {
                let c = &self.state.contacts[&no];
                let threshold = c
                    .answer_by
                    .map_or_else(Default::default, |by| by - c.first_arrived_at);
                let contact = c.id.clone();
                self.emit(
                    now,
                    EventKind::ServiceLevelThresholdPassed { contact, threshold },
                );
            }
            Timer::DueWarning(no) | Timer::DueBreach(no) => {
                let c = &self.state.contacts[&no];
                let contact = c.id.clone();
                let due_at = c.due_at.unwrap_or(now);
                let kind = if matches!(timer, Timer::DueWarning(_)) {
                    EventKind::DueTimeAtRisk { contact, due_at }
                } else {
                    EventKind::DueTimeBreached { contact, due_at }
                };
                self.emit(now, kind);
            }
            Timer::HoldRelease(no) => {
                let c = &self.state.contacts[&no];
                let contact = c.id.clone();
                let site = c.profile.site.map(|s| self.state.site_name(s).clone());
                // Opening hours may have changed since the hold was decided: hold again if the
                // channel is still closed.
                if let Some(rule) = self.config.opening_for(site.as_ref(), c.channel)
                    && !hours::is_open(&rule.calendar, now)
                    && let Some(until) = hours::next_open(&rule.calendar, now)
                {
                    let calendar = rule.calendar_name.clone();
                    self.emit(
                        now,
                        EventKind::ContactHeld {
                            contact,
                            until,
                            calendar,
                        },
                    );
                    return;
                }
                let placement = self.placement(
                    self.state.service_name(c.service),
                    c.channel,
                    now,
                    now,
                    c.preferred_agent.is_some(),
                );
                self.emit(now, EventKind::ContactReleased { contact, placement });
            }
        }
    }

    /// Matches until nothing more can be matched: dirty contacts first, best in queue order
    /// first, then dirty agents, each filled up to capacity.
    fn route(&mut self, now: Timestamp) {
        loop {
            if !self.dirty_contacts.is_empty() {
                let mut contacts = std::mem::take(&mut self.dirty_contacts);
                contacts
                    .sort_unstable_by_key(|no| self.state.contacts.get(no).map(|c| (c.order, *no)));
                contacts.dedup();
                for no in contacts {
                    self.route_contact(no, now);
                }
                continue;
            }
            if !self.dirty_agents.is_empty() {
                let mut agents = std::mem::take(&mut self.dirty_agents);
                agents.sort_unstable();
                agents.dedup();
                for idx in agents {
                    self.fill_agent(idx, now);
                }
                continue;
            }
            break;
        }
        if std::mem::take(&mut self.reach_check) {
            self.check_reach(now);
        }
    }

    /// Records every waiting contact that nobody logged in can serve any more and is not yet
    /// recorded so.
    fn check_reach(&mut self, now: Timestamp) {
        let (candidates, verdicts) = self.reach_candidates();
        for (key, anyone) in verdicts {
            if self.reach.len() >= REACH_CACHE_MAX {
                self.reach.clear();
            }
            self.reach.insert(key, anyone);
        }
        for (no, _) in candidates {
            self.record_if_unservable(no, now);
        }
    }

    /// The waiting contacts that may be unservable, each with whether anyone could serve its
    /// profile at its step (`Some(false)` for a member of a group nobody could serve; `None`
    /// for a contact waiting for its preferred agent, to be checked alone), and the verdicts
    /// found for groups not in the cache. One check per group of identical contacts: the
    /// members of a group someone could serve are not looked at.
    fn reach_candidates(&self) -> ReachCandidates {
        let rules = Rules::new(&self.config, &self.state);
        let mut candidates = Vec::new();
        let mut verdicts = Vec::new();
        for groups in self.state.index.groups.iter().flatten() {
            for (group, members) in groups {
                let key = (Arc::clone(&group.profile), group.step);
                let anyone = self.reach.get(&key).copied().unwrap_or_else(|| {
                    let anyone =
                        reach::anyone_could_serve(&self.state, &rules, &group.profile, group.step);
                    verdicts.push((key, anyone));
                    anyone
                });
                if !anyone {
                    candidates.extend(members.iter().map(|&(_, no)| (no, Some(false))));
                }
            }
        }
        candidates.extend(
            self.state
                .index
                .awaiting
                .values()
                .flatten()
                .map(|&(_, no)| (no, None)),
        );
        (candidates, verdicts)
    }

    /// Whether anyone logged in could serve `contact`'s profile at its plan step or a later
    /// one (its preferred agent aside), remembered until the next login or logout.
    fn anyone_could_serve(&mut self, no: ContactNo) -> bool {
        let contact = &self.state.contacts[&no];
        let key = (Arc::clone(&contact.profile), contact.placement.step);
        if let Some(&anyone) = self.reach.get(&key) {
            return anyone;
        }
        let rules = Rules::new(&self.config, &self.state);
        let anyone = reach::anyone_could_serve(&self.state, &rules, &key.0, key.1);
        if self.reach.len() >= REACH_CACHE_MAX {
            self.reach.clear();
        }
        self.reach.insert(key, anyone);
        anyone
    }

    /// Records a waiting contact as unservable, with why, if nobody logged in can serve it and
    /// it is not recorded so already.
    fn record_if_unservable(&mut self, no: ContactNo, now: Timestamp) {
        let Some(contact) = self.state.contacts.get(&no) else {
            return;
        };
        if contact.unservable || contact.status != ContactStatus::Queued {
            return;
        }
        let anyone = self.anyone_could_serve(no);
        let contact = &self.state.contacts[&no];
        let rules = Rules::new(&self.config, &self.state);
        if !reach::is_unservable(&self.state, &rules, contact, anyone) {
            return;
        }
        let (shortfall, logged_in) = reach::shortfall(&self.state, &rules, contact);
        let unservable = ContactUnservable {
            contact: contact.id.clone(),
            step: contact.placement.step,
            logged_in,
            shortfall,
        };
        self.emit(now, EventKind::ContactUnservable(Box::new(unservable)));
    }

    /// The waiting contacts that nobody logged in could take at their plan step or any later
    /// one, now (see [`crate::reach`]), in no particular order. One reach check serves each
    /// group of identical contacts.
    #[must_use]
    pub fn unservable(&self) -> Vec<&Contact> {
        let rules = Rules::new(&self.config, &self.state);
        let (candidates, _) = self.reach_candidates();
        candidates
            .into_iter()
            .map(|(no, anyone)| (&self.state.contacts[&no], anyone))
            .filter(|&(contact, anyone)| {
                let anyone = anyone.unwrap_or_else(|| {
                    reach::anyone_could_serve(
                        &self.state,
                        &rules,
                        &contact.profile,
                        contact.placement.step,
                    )
                });
                reach::is_unservable(&self.state, &rules, contact, anyone)
            })
            .map(|(contact, _)| contact)
            .collect()
    }

    fn route_contact(&mut self, no: ContactNo, now: Timestamp) {
        let Some(contact) = self.state.contacts.get(&no) else {
            return;
        };
        if contact.status != ContactStatus::Queued {
            return;
        }
        let rules = Rules::new(&self.config, &self.state);
        let Some(choice) = find_agent(&self.state, &rules, contact, now) else {
            self.record_if_unservable(no, now);
            return;
        };
        let decision = self.decision(no, choice.rule, choice.pool, choice.examined, choice.score);
        self.offer(no, choice.agent, decision, now);
    }

    fn fill_agent(&mut self, idx: AgentIdx, now: Timestamp) {
        // Each pass offers one contact; capacity bounds the passes.
        for _ in 0..=Channel::ALL.len() * usize::from(u8::MAX) {
            let agent = self.state.agent_at(idx);
            if !Channel::ALL.into_iter().any(|c| agent.can_take(c)) {
                return;
            }
            let rules = Rules::new(&self.config, &self.state);
            let Some(choice) = find_contact(&self.state, &rules, idx, now) else {
                return;
            };
            let waited = now - self.state.contacts[&choice.contact].first_arrived_at;
            let score = i64::try_from(millis(waited)).unwrap_or(i64::MAX);
            let decision = self.decision(
                choice.contact,
                Rule::QueueOrder,
                choice.pool,
                choice.examined,
                score,
            );
            self.offer(choice.contact, idx, decision, now);
        }
    }

    fn decision(
        &self,
        no: ContactNo,
        rule: Rule,
        pool: u32,
        examined: u32,
        score: i64,
    ) -> Decision {
        let c = &self.state.contacts[&no];
        let rules = Rules::new(&self.config, &self.state);
        let (plan, step) = rules.step(&self.state, &c.profile, c.placement.step);
        Decision {
            plan: plan.name.clone(),
            step: c.placement.step,
            step_name: step.name.clone(),
            rule,
            pool,
            examined,
            score,
        }
    }

    fn offer(&mut self, no: ContactNo, idx: AgentIdx, decision: Decision, now: Timestamp) {
        let c = &self.state.contacts[&no];
        let channel = c.channel;
        let policy = self.config.channels.get(channel);
        let offer = OfferId::new(self.state.next_offer);
        let made = OfferMade {
            offer,
            contact: c.id.clone(),
            agent: self.state.agent_at(idx).id.clone(),
            channel,
            expires_at: now + policy.offer_timeout,
            decision,
        };
        self.emit(now, EventKind::OfferMade(Box::new(made)));
        if policy.auto_accept {
            self.accept(offer, true, now);
        }
    }
}

/// The reason of the `contact_requeued` that takes a complaint off its agent's desk when they
/// move it on a stage.
const COMPLAINT_MOVED_ON: &str = "complaint_stage_changed";

/// When a new contact first arrived: now, or its `received_at` when earlier. A live contact
/// counts from its first contact (time in another queue, an IVR), but at most
/// [`LIVE_EARLIER_ARRIVAL_MAX`] back: a customer on the line has not waited a day, and a wrong
/// `received_at` would otherwise put the contact ahead of everyone.
fn first_arrival(new: &NewContact, now: Timestamp) -> Timestamp {
    let earliest = if new.channel.is_live() {
        now.saturating_sub(LIVE_EARLIER_ARRIVAL_MAX)
    } else {
        Timestamp::EPOCH
    };
    new.received_at.map_or(now, |at| at.min(now).max(earliest))
}

/// A contact to hold until its channel opens.
struct Hold {
    until: Timestamp,
    calendar: Arc<str>,
}

/// A complaint stage change, as asked.
struct StageChange {
    contact: ContactId,
    agent: Option<AgentId>,
    to: ComplaintStage,
    reason: Arc<str>,
    received_at: Option<Timestamp>,
    due_at: Option<Timestamp>,
}

/// Refuses a blank reason where the record needs one.
fn require_reason(reason: &str, what: &str) -> Result<(), Rejection> {
    if reason.trim().is_empty() {
        return Err(Rejection::new(
            RejectionCode::InvalidCommand,
            format!("{what} needs a reason"),
        ));
    }
    Ok(())
}

/// Where a contact that joined its queue at `queued_at` stands in `plan` at `now`.
pub(crate) fn plan_placement(
    plan: &RoutingPlan,
    queued_at: Timestamp,
    now: Timestamp,
    has_preferred: bool,
) -> Placement {
    let waited = now - queued_at;
    let usable = |step: &crate::config::PlanStep| has_preferred || !step.preferred_agent_only;
    let first_usable = plan.steps.iter().position(usable).unwrap_or(0);
    let current = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, step)| usable(step) && step.after <= waited)
        .map(|(i, _)| i)
        .next_back()
        .unwrap_or(first_usable);
    let next_step_at = plan
        .steps
        .iter()
        .enumerate()
        .skip(current + 1)
        .find(|(_, step)| usable(step))
        .map(|(_, step)| queued_at + step.after);
    let step = &plan.steps[current];
    Placement {
        step: u8::try_from(current).unwrap_or(u8::MAX),
        preferred_agent_only: step.preferred_agent_only && has_preferred,
        next_step_at,
    }
}

// Keep `Tier` in scope for docs that mention it.
const _: Option<Tier> = None;
